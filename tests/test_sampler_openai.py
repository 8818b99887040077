"""The openai backend against real servers on 127.0.0.1: llama-cpp-python's OpenAI server with the
embedded SmolLM2 model, and a tiny http.server that fails before it answers (for retries)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from llama_server import free_port, llama_server
from monkeys_swe.errors import UserError
from monkeys_swe.samplers import openai as openai_backend
from monkeys_swe.samplers.openai import OpenAISampler
from monkeys_swe.store import Store
from monkeys_swe.types import FailedSlot, GenerationParams, SampleRequest

pytestmark = pytest.mark.model
ROOT = Path(__file__).resolve().parents[1]
MATH500 = Path("/work/shared/data/math/math500_test.jsonl")


def request(pid: str, n: int, question: str = "What is 7 times 6?", max_tokens: int = 16) -> SampleRequest:
    return SampleRequest(pid, [{"role": "user", "content": question}], tuple(range(n)),
                         tuple(1000 + i for i in range(n)), GenerationParams(0.8, 0.95, max_tokens))


@pytest.fixture(scope="module")
def server():
    with llama_server() as base_url:
        yield base_url


def test_samples_with_usage_and_n_fallback(server):
    openai_backend._N_SUPPORTED.pop(server, None)
    sampler = OpenAISampler(server, concurrency=2)
    assert sampler.model_name.endswith(".gguf")  # asked the server which model it serves
    samples = list(sampler.generate([request("a", 3), request("b", 3, "Name a colour.")]))
    assert sorted((s.problem_id, s.index) for s in samples) == [(p, i) for p in "ab" for i in range(3)]
    for s in samples:
        assert s.text.strip() and 0 < s.completion_tokens <= 16
        assert s.prompt_tokens > 10 and s.latency_s > 0 and s.finish_reason in ("stop", "length")
    # The server returned one choice for n=3: the backend noticed, remembered it, and filled the
    # other slots one call each, with their own seeds.
    assert openai_backend._N_SUPPORTED[server] is False
    first = {s.problem_id: s for s in samples if s.meta.get("n") == 3}
    assert set(first) == {"a", "b"} and all(s.index == 0 and s.seed == 1000 for s in first.values())
    assert sorted(s.seed for s in samples if s.problem_id == "a") == [1000, 1001, 1002]
    again = list(sampler.generate([request("c", 2)]))
    assert [s.meta for s in again] == [{}, {}]  # no n>1 request any more
    sampler.close()


def test_same_seed_gives_same_text(server):
    sampler = OpenAISampler(server, concurrency=1)
    req = request("a", 2, "Write one sentence about the sea.", max_tokens=16)
    list(sampler.generate([req]))  # llama.cpp's numerics differ on a prompt-cache miss: warm it first
    first = {s.index: s.text for s in sampler.generate([req])}
    second = {s.index: s.text for s in sampler.generate([req])}
    assert first == second and first[0] != first[1]  # each slot's own seed, sent every time
    sampler.close()


def test_unreachable_server_is_one_line_error():
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    sampler = OpenAISampler(url, "some-model", max_retries=1)
    (failed,) = list(sampler.generate([request("a", 2)]))  # a failed slot; the runner decides when to stop
    assert isinstance(failed, FailedSlot) and failed.indices == (0, 1)
    assert failed.error.startswith(f"cannot reach OpenAI-compatible server at {url}: Connection error")
    with pytest.raises(UserError, match="cannot reach"):  # without --model it asks the server at once
        OpenAISampler(url, max_retries=0)


def test_client_errors_are_one_line(server):
    root = server.removesuffix("/v1")  # a common mistake: the base URL without /v1
    with pytest.raises(UserError, match=rf"^server at {root} rejected the request \(404\): Not Found$"):
        OpenAISampler(root, "m", max_retries=0).generate([request("a", 1)]).__next__()
    # A prompt longer than the server's context (4096 tokens): llama-cpp-python answers 400.
    too_long = request("a", 1, "many words " * 3000)
    failed = next(OpenAISampler(server, "m").generate([too_long]))  # this request's slot fails, not the run
    assert isinstance(failed, FailedSlot)
    assert re.match(rf"^server at {server} rejected the request \(400\): .*context", failed.error)
    assert "\n" not in failed.error


class FlakyHandler(BaseHTTPRequestHandler):
    """Answers POSTs with the statuses in `script` first, then with a valid chat completion."""

    script: list[int] = []
    seen: list[dict] = []
    reject_n = False  # answer 400 to n>1, as some hosted APIs do

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append(body)
        if self.reject_n and body.get("n", 1) > 1:
            status, payload = 400, {"error": {"message": "n must be 1 for this model"}}
        elif self.script:
            status = self.script.pop(0)
            payload = {"error": {"message": f"try again ({status})"}}
        else:
            status, payload = 200, {
                "id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": i, "finish_reason": "stop", "message": {"role": "assistant", "content": f"answer {i}"}}
                            for i in range(body.get("n", 1))],
                "usage": {"prompt_tokens": 11, "completion_tokens": 5 * body.get("n", 1), "total_tokens": 0},
            }
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 429:
            self.send_header("Retry-After", "0.05")
        elif status >= 500:
            self.send_header("retry-after-ms", "10")  # the SDK's own retries honour it
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture
def flaky():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FlakyHandler)
    FlakyHandler.seen, FlakyHandler.reject_n = [], False
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_retries_on_5xx_and_429_then_succeeds(flaky):
    FlakyHandler.script = [503, 429, 503]
    sampler = OpenAISampler(flaky, "m", max_retries=3)
    samples = sorted(sampler.generate([request("a", 2)]), key=lambda s: s.index)
    assert len(FlakyHandler.seen) == 4 and all(b["n"] == 2 and b["seed"] == 1000 for b in FlakyHandler.seen)
    assert [s.text for s in samples] == ["answer 0", "answer 1"]
    # The prompt is paid once per request: recorded on its first sample only.
    assert [(s.prompt_tokens, s.completion_tokens) for s in samples] == [(11, 5), (0, 5)]
    assert openai_backend._N_SUPPORTED[flaky] is True


def test_server_that_refuses_n_gets_one_call_per_slot(flaky):
    FlakyHandler.reject_n = True
    sampler = OpenAISampler(flaky, "m", concurrency=1)
    samples = sorted(sampler.generate([request("a", 3), request("b", 2)]), key=lambda s: (s.problem_id, s.index))
    assert [(s.problem_id, s.index, s.seed) for s in samples] == [
        ("a", 0, 1000), ("a", 1, 1001), ("a", 2, 1002), ("b", 0, 1000), ("b", 1, 1001)]
    assert all(s.prompt_tokens == 11 for s in samples)  # each call paid for its prompt
    # One refused n=3, then single calls only: problem b was never asked with n>1.
    assert [b.get("n", 1) for b in FlakyHandler.seen] == [3, 1, 1, 1, 1, 1]
    assert openai_backend._N_SUPPORTED[flaky] is False


def test_gives_up_after_retries_as_a_failed_slot(flaky):
    FlakyHandler.script = [503] * 3
    sampler = OpenAISampler(flaky, "m", max_retries=2, concurrency=1)
    items = list(sampler.generate([request("a", 1), request("b", 1)]))
    assert isinstance(items[0], FailedSlot) and items[0].problem_id == "a" and items[0].indices == (0,)
    assert "kept failing (503) after 2 retries: try again (503)" in items[0].error
    assert items[1].problem_id == "b" and items[1].text == "answer 0"  # the next request is unaffected
    assert len(FlakyHandler.seen) == 4


def test_bench_math_end_to_end(server, tmp_path):
    """The CLI, through the openai backend, against the real server; every sample is stored."""
    runs = tmp_path / "runs"
    cmd = [sys.executable, "-m", "monkeys_swe", "bench", "math", "--data", str(MATH500), "--limit", "2",
           "--samples", "2", "--backend", "openai", "--base-url", server, "--max-tokens", "64",
           "--runs-dir", str(runs)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir()]
    store = Store(run_dir, create=False)
    counts = store.counts()
    assert counts["problems"] == 2 and counts["attempts"] == 4 and counts["verified"] == 4
    assert all(s.completion_tokens > 0 and s.prompt_tokens > 0 for s in store.samples())
    assert store.get_meta("config")["backend"] == "openai"
    store.close()
