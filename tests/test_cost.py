"""FLOPs by the paper's formula and dollars from the price table, on real run stores."""
from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest

from monkeys_swe import cost
from monkeys_swe.errors import UserError
from monkeys_swe.samplers.llamacpp import default_model_path
from monkeys_swe.store import Store
from monkeys_swe.types import Sample

SMOL = (134515008, 30, 576)


def by_hand(params, layers, d, prompt, completions):
    """The paper's per-token formula, summed token by token (ctx = position, 1-based)."""
    fpt = lambda ctx: 2 * (params + 2 * layers * d * ctx)  # noqa: E731
    total = sum(fpt(t) for t in range(1, prompt + 1))  # the prompt, once
    for c in completions:
        total += sum(fpt(prompt + j) for j in range(1, c + 1))  # each sample's decoding
    return total


def make_store(tmp_path: Path, config: dict, samples: list[tuple[str, int, int, int]]) -> Store:
    store = Store(tmp_path / "run")
    store.set_meta("config", config)
    for pid, idx, prompt, completion in samples:
        store.add_sample(Sample(pid, idx, "text", prompt, completion, idx, 0.1))
    return store


def test_flops_per_token_formula():
    assert cost.flops_per_token(1e9, 10, 1000, 100) == 2 * (1e9 + 2 * 10 * 1000 * 100)


def test_generation_flops_equals_token_by_token_sum():
    assert cost.generation_flops(*SMOL, 37, [5, 0, 12]) == pytest.approx(by_hand(*SMOL, 37, [5, 0, 12]), rel=1e-12)


def test_flops_for_run_counts_prompt_once_per_problem(tmp_path):
    # Problem a: one request with n=3 (prompt recorded on the first sample only, as the openai
    # and vllm samplers do); problem b: per-call samples that each record the prompt (llamacpp).
    store = make_store(tmp_path, {"model": None, "model_name": "smollm2-135m-instruct", "backend": "vllm"},
                       [("a", 0, 40, 10), ("a", 1, 0, 20), ("a", 2, 0, 3), ("b", 0, 25, 7), ("b", 1, 25, 9)])
    expected = by_hand(*SMOL, 40, [10, 20, 3]) + by_hand(*SMOL, 25, [7, 9])
    assert cost.flops_for_run(store) == pytest.approx(expected, rel=1e-12)
    # The compute-matched x axis: prompt once, plus k times the problem's mean decode.
    decode = lambda p, c: by_hand(*SMOL, p, [c]) - by_hand(*SMOL, p, [])  # noqa: E731
    expected_k5 = (by_hand(*SMOL, 40, []) + 5 * (decode(40, 10) + decode(40, 20) + decode(40, 3)) / 3
                   + by_hand(*SMOL, 25, []) + 5 * (decode(25, 7) + decode(25, 9)) / 2)
    assert cost.flops_at_k(store, 5) == pytest.approx(expected_k5, rel=1e-12)
    assert cost.dollars_for_run(store) is None  # self-hosted: no price listed


def test_dollars_for_a_known_token_count(tmp_path):
    store = make_store(tmp_path, {"model": "gpt-4o", "model_name": "gpt-4o", "backend": "openai"},
                       [("a", 0, 1000, 500), ("a", 1, 0, 300), ("b", 0, 2000, 200)])
    # gpt-4o at $5/M prompt and $15/M completion: 3000 prompt and 1000 completion tokens.
    assert cost.dollars_for_run(store) == pytest.approx(3000 * 5 / 1e6 + 1000 * 15 / 1e6)
    with pytest.raises(UserError, match="no dimensions for model 'gpt-4o'"):
        cost.flops_for_run(store)


def test_model_found_by_path_stem_and_alias():
    assert cost.model_dims(str(default_model_path())) == cost.ModelDims(*SMOL)  # llama-cpp server's model id
    assert cost.model_dims("HuggingFaceTB/SmolLM2-135M-Instruct").layers == 30


def test_dims_read_from_gguf_header():
    # The embedded model's GGUF, read directly (as for any GGUF not in the table).
    dims = cost._gguf_dims(default_model_path())
    assert (dims.layers, dims.d_model) == (30, 576)
    assert dims.params == SMOL[0]


def test_dims_read_from_hf_directory(tmp_path):
    # A tiny safetensors checkpoint written by hand: two tensors, 6 + 20 parameters.
    d = tmp_path / "my-model"
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"num_hidden_layers": 4, "hidden_size": 64}))
    header = json.dumps({"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
                         "b": {"dtype": "F32", "shape": [20], "data_offsets": [24, 104]},
                         "__metadata__": {"format": "pt"}}).encode()
    (d / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(104))
    assert cost.model_dims(str(d)) == cost.ModelDims(26, 4, 64)


def test_unknown_model_is_a_one_line_error(tmp_path):
    store = make_store(tmp_path, {"model": "no-such-model", "model_name": "no-such-model"}, [("a", 0, 1, 1)])
    with pytest.raises(UserError, match="add params/layers/d_model for it to .*models.yaml"):
        cost.flops_for_run(store)


def test_models_table_override(tmp_path, monkeypatch):
    table = tmp_path / "models.yaml"
    shutil.copy(cost.MODELS_YAML, table)
    with table.open("a") as fh:
        fh.write("  my-api-model:\n    price: {prompt_per_m: 1.0, completion_per_m: 2.0}\n")
    monkeypatch.setenv("MONKEYS_SWE_MODELS", str(table))
    store = make_store(tmp_path, {"model": "my-api-model", "model_name": "my-api-model"}, [("a", 0, 10, 20)])
    assert cost.dollars_for_run(store) == pytest.approx((10 * 1.0 + 20 * 2.0) / 1e6)
