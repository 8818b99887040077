"""What a run cost: inference FLOPs by the paper's formula, and dollars from a price table.

FLOPs (the Large Language Monkeys paper, after Kaplan et al. 2020):
    FLOPs per token = 2 * (params + 2 * n_layers * d_model * ctx)
    total = prompt_tokens * FLOPs/token + decoded_tokens * FLOPs/token * num_completions
Our exact convention: `ctx` is the number of tokens the token attends to, itself included (the
prompt's t-th token has ctx = t, a sample's j-th decoded token has ctx = prompt + j), summed in
closed form. The prompt is counted once per problem (its KV cache is shared by every sample, as
with vLLM's n and prefix caching); each sample's decoded tokens are counted on their own.
`params` is the total parameter count (active parameters for a mixture of experts).

Dollars: $/M prompt tokens and $/M completion tokens from monkeys_swe/configs/models.yaml, applied to the
tokens the run recorded. Samplers record a request's prompt tokens once (on its first sample),
so a request with n=k is charged for its prompt once, as APIs bill it.
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from functools import lru_cache
from math import prod
from pathlib import Path
from typing import Any, Sequence

import yaml

from monkeys_swe.errors import UserError
from monkeys_swe.settings import Settings

MODELS_YAML = Path(__file__).resolve().parent / "configs" / "models.yaml"  # package data: wheels ship it


@dataclass(frozen=True)
class ModelDims:
    params: float
    layers: int
    d_model: int


def flops_per_token(params: float, layers: int, d_model: int, ctx: float) -> float:
    return 2.0 * (params + 2.0 * layers * d_model * ctx)


def _ctx_sum(first: int, last: int) -> float:
    """Sum of ctx over token positions first..last (inclusive), 1-based."""
    return 0.0 if last < first else (first + last) * (last - first + 1) / 2.0


def prompt_flops(dims: ModelDims, prompt_tokens: int) -> float:
    return 2.0 * dims.params * prompt_tokens + 4.0 * dims.layers * dims.d_model * _ctx_sum(1, prompt_tokens)


def decode_flops(dims: ModelDims, prompt_tokens: int, completion_tokens: int) -> float:
    p, c = prompt_tokens, completion_tokens
    return 2.0 * dims.params * c + 4.0 * dims.layers * dims.d_model * _ctx_sum(p + 1, p + c)


def generation_flops(params: float, layers: int, d_model: int, prompt_tokens: int,
                     completion_tokens: Sequence[int]) -> float:
    """One problem: its prompt once, plus each sample's decoding (one entry per sample)."""
    dims = ModelDims(params, layers, d_model)
    return prompt_flops(dims, prompt_tokens) + sum(decode_flops(dims, prompt_tokens, c) for c in completion_tokens)


# -- the model table ------------------------------------------------------------------------
@lru_cache(maxsize=4)
def _table(path: str) -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(Path(path).read_text()) or {}
    out: dict[str, dict[str, Any]] = {}
    for name, entry in (data.get("models") or {}).items():
        entry = {**entry, "name": name}
        for key in [name, *entry.get("aliases", [])]:
            out[key.lower()] = entry
    return out


def model_entry(model: str | None) -> dict[str, Any] | None:
    """The monkeys_swe/configs/models.yaml entry for a model name, alias, path or file stem (case-insensitive)."""
    if not model:
        return None
    path = Settings.from_env().models_yaml or str(MODELS_YAML)
    table = _table(path) if Path(path).is_file() else {}
    p = Path(model)
    for key in (model, p.name, p.stem):
        if key.lower() in table:
            return table[key.lower()]
    return None


def _safetensors_params(directory: Path) -> int:
    """Count parameters from the safetensors headers alone (no weights read)."""
    total = 0
    for f in sorted(directory.glob("*.safetensors")):
        with f.open("rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(size))
        total += sum(prod(t["shape"]) for k, t in header.items() if k != "__metadata__")
    return total


_GGUF_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def _gguf_dims(path: Path) -> ModelDims:
    """Layers, width and parameter count from a GGUF header. A few lines of struct instead of
    the gguf package, whose reader takes ~6 s on SmolLM2 (it maps all 100k vocabulary entries)."""
    data = path.read_bytes() if path.stat().st_size < 1 << 20 else _head(path)
    pos = 0

    def take(fmt: str) -> Any:
        nonlocal pos
        (value,) = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize(fmt)
        return value

    def string() -> str:
        nonlocal pos
        n = take("Q")
        pos += n
        return data[pos - n:pos].decode("utf-8", "replace")

    def value(kind: int) -> Any:
        if kind == 8:
            return string()
        if kind == 9:
            sub, count = take("I"), take("Q")
            return [value(sub) for _ in range(count)] if sub in (8, 9) else _skip(sub, count)
        return take(_GGUF_SCALARS[kind])

    def _skip(kind: int, count: int) -> None:
        nonlocal pos
        pos += struct.calcsize(_GGUF_SCALARS[kind]) * count

    if data[:4] != b"GGUF" or struct.unpack_from("<I", data, 4)[0] < 2:
        raise UserError(f"{path}: not a GGUF v2+ file")
    pos = 8
    n_tensors, n_kv = take("Q"), take("Q")
    meta = {}
    for _ in range(n_kv):
        key = string()
        meta[key] = value(take("I"))
    params = 0
    for _ in range(n_tensors):
        string()
        dims = [take("Q") for _ in range(take("I"))]
        take("I"), take("Q")  # type, offset
        params += prod(dims)
    arch = meta["general.architecture"]
    return ModelDims(params, int(meta[f"{arch}.block_count"]), int(meta[f"{arch}.embedding_length"]))


def _head(path: Path, size: int = 64 << 20) -> bytes:
    """The header (metadata and tensor table) sits at the start; 64 MiB is ample for it."""
    with path.open("rb") as fh:
        return fh.read(size)


def model_dims(model: str | None, *names: str | None) -> ModelDims:
    """Dimensions from monkeys_swe/configs/models.yaml (by any of the names), else from the model's own files."""
    for name in (model, *names):
        entry = model_entry(name)
        if entry and all(entry.get(k) for k in ("params", "layers", "d_model")):
            return ModelDims(float(entry["params"]), int(entry["layers"]), int(entry["d_model"]))
    path = Path(model).expanduser() if model else None
    if path is not None and path.is_dir() and (path / "config.json").is_file():
        cfg = json.loads((path / "config.json").read_text())
        cfg = cfg.get("text_config", cfg)
        return ModelDims(_safetensors_params(path), int(cfg["num_hidden_layers"]), int(cfg["hidden_size"]))
    if path is not None and path.suffix == ".gguf" and path.is_file():
        return _gguf_dims(path)
    shown = model or next((n for n in names if n), "?")
    raise UserError(f"no dimensions for model '{shown}': add params/layers/d_model for it to {MODELS_YAML}")


# -- per run ----------------------------------------------------------------------------------
def _run_models(store: Any) -> tuple[str | None, list[str | None]]:
    cfg = store.get_meta("config") or {}
    return cfg.get("model"), [cfg.get("model_name")]


def _per_problem(store: Any) -> dict[str, tuple[int, list[int]]]:
    """problem -> (prompt length, completion tokens of each sample). The prompt is the same for
    every sample of a problem; samplers record it on one sample per request (0 on the others)."""
    out: dict[str, tuple[int, list[int]]] = {}
    for s in store.samples():
        prompt, completions = out.get(s.problem_id, (0, []))
        completions.append(s.completion_tokens)
        out[s.problem_id] = (max(prompt, s.prompt_tokens), completions)
    return out


def flops_for_run(store: Any) -> float:
    model, names = _run_models(store)
    dims = model_dims(model, *names)
    return sum(generation_flops(dims.params, dims.layers, dims.d_model, p, cs) for p, cs in _per_problem(store).values())


def flops_at_ks(store: Any, ks: list[int]) -> list[float]:
    """Expected FLOPs of drawing k samples per problem (prompt once, k average decodes), for
    each k: the x axis of a compute-matched coverage plot. The store is read once for all ks."""
    model, names = _run_models(store)
    dims = model_dims(model, *names)
    prompt_total, mean_decode_total = 0.0, 0.0
    for p, cs in _per_problem(store).values():
        prompt_total += prompt_flops(dims, p)
        mean_decode_total += sum(decode_flops(dims, p, c) for c in cs) / len(cs)
    return [prompt_total + k * mean_decode_total for k in ks]


def flops_at_k(store: Any, k: int) -> float:
    return flops_at_ks(store, [k])[0]


def dollars(prompt_tokens: int, completion_tokens: int, price: dict[str, float]) -> float:
    return (prompt_tokens * price["prompt_per_m"] + completion_tokens * price["completion_per_m"]) / 1e6


def price_of(*models: str | None) -> dict[str, float] | None:
    """The price monkeys_swe/configs/models.yaml lists for the first of these names it knows; None if none."""
    for name in models:
        entry = model_entry(name)
        if entry and entry.get("price"):
            return entry["price"]
    return None


def dollars_for_tokens(models: list[str | None], prompt_tokens: int, completion_tokens: int) -> float | None:
    price = price_of(*models)
    return None if price is None else dollars(prompt_tokens, completion_tokens, price)


def dollars_for_run(store: Any) -> float | None:
    """Dollars at the model's listed price; None when monkeys_swe/configs/models.yaml lists no price for it."""
    model, names = _run_models(store)
    counts = store.counts()
    return dollars_for_tokens([model, *names], counts["prompt_tokens"], counts["completion_tokens"])
