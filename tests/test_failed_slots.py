"""One failed request is a failed slot, not a failed run; a rerun fills it. The openai SDK's own
retries (Retry-After honoured) do the retrying. The judge turns logprobs off only when the server
says it cannot return them.

The server is real: an OpenAI-compatible chat-completions app (http.server) on 127.0.0.1 that
can be told to fail, with HTTP 500, every request for one sample slot.
"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import cli
from monkeys_swe.samplers.base import sample_seed
from monkeys_swe.store import Store


class ChatServer:
    """Answers /v1/chat/completions with "#### 42"; `fail_seed`: 500 forever for requests with that seed.

    `status_for`: optional body -> (status, message) to script other answers (the judge tests)."""

    def __init__(self):
        self.fail_seed: int | None = None
        self.status_for = None
        self.seen: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.seen.append(body)
                scripted = outer.status_for(body) if outer.status_for else None
                if scripted:
                    status, payload = scripted[0], {"error": {"message": scripted[1]}}
                elif body.get("n", 1) > 1:  # a one-choice server: one call per slot, each with its seed
                    status, payload = 400, {"error": {"message": "n must be 1"}}
                elif outer.fail_seed is not None and body.get("seed") == outer.fail_seed:
                    status, payload = 500, {"error": {"message": "the GPU fell over"}}
                else:
                    status, payload = 200, {
                        "id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": "so\n#### 42"}}],
                        "usage": {"prompt_tokens": 30, "completion_tokens": 4, "total_tokens": 34}}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("retry-after-ms", "5")  # the SDK honours it: fast retries
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def chat_server():
    server = ChatServer()
    yield server
    server.close()


def test_a_request_failing_forever_is_one_failed_slot_and_a_rerun_fills_it(chat_server, data_dir, tmp_path):
    chat_server.fail_seed = sample_seed(0, "gsm8k-1", 1)
    runs = tmp_path / "runs"
    args = ["bench", "gsm8k", "--data", str(data_dir / "gsm8k/test.jsonl"), "--limit", "3", "--samples", "2",
            "--backend", "openai", "--base-url", chat_server.url, "--model", "m", "--runs-dir", str(runs)]
    proc = cli(*args, check=True)  # the run finishes
    assert "1 sample slots failed to generate" in proc.stdout.replace("\n", " ")
    (run_dir,) = runs.iterdir()
    store = Store(run_dir, create=False)
    assert store.counts()["attempts"] == 5 and store.counts()["failed_slots"] == 1
    ((slot, error),) = store.failures().items()
    assert slot == ("gsm8k-1", 1) and "kept failing (500) after 5 retries: the GPU fell over" in error
    store.close()
    # the SDK retried the failing request 5 times (1 + 5 calls), every other slot was asked once (+3 n=2 refusals)
    assert sum(b.get("seed") == chat_server.fail_seed for b in chat_server.seen) == 6
    assert json.loads((run_dir / "report" / "summary.json").read_text())["failed_slots"] == 1

    chat_server.fail_seed, chat_server.seen = None, []  # healthy now
    cli(*args, "--no-report", check=True)
    store = Store(run_dir, create=False)
    counts = store.counts()
    assert counts["attempts"] == 6 and counts["failed_slots"] == 0 and counts["verified"] == 6
    assert {(s.problem_id, s.index) for s in store.samples()} == {(f"gsm8k-{p}", i) for p in range(3) for i in range(2)}
    store.close()
    assert [b["seed"] for b in chat_server.seen] == [sample_seed(0, "gsm8k-1", 1)]  # only the missing slot


def test_past_the_threshold_the_run_stops_with_one_line(chat_server, data_dir, tmp_path):
    chat_server.fail_seed = sample_seed(0, "gsm8k-0", 0)
    proc = cli("bench", "gsm8k", "--data", str(data_dir / "gsm8k/test.jsonl"), "--limit", "1", "--samples", "1",
               "--backend", "openai", "--base-url", chat_server.url, "--model", "m", "--runs-dir", str(tmp_path),
               "--max-failed-requests", "0")
    # progress lines (no TTY here) come first; the failure itself is one line, the last
    *progress, last = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and last.startswith("error:") and all(p.startswith("[") for p in progress)
    assert "every request failed" in last or "stopped after 1 failed requests" in last


def test_judge_keeps_logprobs_after_a_429_and_drops_them_when_unsupported(chat_server):
    from monkeys_swe.judges import OpenAIJudge
    from monkeys_swe.types import Problem

    problem = Problem("p", "What is 6 times 7?", "42")
    hits = {"n": 0}

    def rate_limited_once(body):
        hits["n"] += 1
        return (429, "slow down, logprobs cost more") if hits["n"] == 1 and body.get("logprobs") else None

    chat_server.status_for = rate_limited_once
    judge = OpenAIJudge(chat_server.url, "m")
    judge.score(problem, "#### 42")  # a 429 is a rate limit (retried by the SDK), not a refusal of logprobs
    assert judge._logprobs is True and hits["n"] == 2

    chat_server.status_for = lambda body: (400, "logprobs are not supported by this model") if body.get("logprobs") else None
    judge = OpenAIJudge(chat_server.url, "m")
    assert judge.score(problem, "7") == 0.0 and judge._logprobs is False  # the reply "#### 42" holds no 1-10 grade
    before = len(chat_server.seen)
    judge.score(problem, "again")
    assert [b.get("logprobs") for b in chat_server.seen[before:]] == [None]  # not asked again

    chat_server.status_for = lambda body: (500, "internal error") if body.get("logprobs") else None
    judge = OpenAIJudge(chat_server.url, "m")
    with pytest.raises(Exception, match="kept failing \\(500\\)"):
        judge.score(problem, "x")  # a server fault is not a refusal: it is reported, logprobs stay unknown
    assert judge._logprobs is None
