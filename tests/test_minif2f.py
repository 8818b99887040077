"""MiniF2F: data, prompt, the acceptance rules, and both Lean checker adapters.

No Lean toolchain exists on this machine, so Lean itself is the one boundary faked, twice:
- an HTTP server on 127.0.0.1 speaking Kimina Lean Server's POST /verify schema, answering
  with canned Lean REPL messages chosen by a marker in the proof;
- a `lake` executable that records how it was called and prints Lean-style output.
Everything on our side of those boundaries (HTTP client, command, limits, output parsing,
judging, the task, the run loop) is the product code.
"""
from __future__ import annotations

import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from monkeys_swe.config import RunConfig
from monkeys_swe.runner import Runner
from monkeys_swe.store import Store
from monkeys_swe.tasks.minif2f import MiniF2FMathTask, MiniF2FTask, close_block, extract_proof
from monkeys_swe.verifiers.lean import KiminaChecker, forbidden_tokens
from monkeys_swe.verifiers.lean_local import LakeChecker, parse_lean_output

FILES = ["minif2f_lean4_yangky11_d322684.jsonl", "minif2f_lean4_yangky11_head.jsonl", "minif2f_leandojo_mew_d00c776.jsonl"]
OK_AXIOMS = "depends on axioms: [propext, Classical.choice, Quot.sound]"


@pytest.fixture
def d322684(data_dir) -> str:
    return str(data_dir / "minif2f" / FILES[0])


def test_three_files_load_with_the_math_subset(data_dir):
    task = MiniF2FTask(checker=None)
    names = []
    for name in FILES:
        path = str(data_dir / "minif2f" / name)
        test, math, valid = task.load(path, None), task.load(path + "#math", None), task.load(path + "#valid", None)
        assert len(test) == (245 if "mew" in name else 244) and len(valid) == 244
        assert len(math) == 130 and all(p.id.startswith("mathd_") for p in math)
        for p in math:
            assert p.data["statement"].endswith(":=") and "sorry" not in p.data["statement"]
            assert p.data["theorem"] == p.id
        names.append(sorted(p.id for p in math))
    assert names[0] == names[1] == names[2]
    head = str(data_dir / "minif2f" / FILES[1])
    assert [p.id for p in MiniF2FMathTask(checker=None).load(head, None)] == [p.id for p in task.load(head + "#math", None)]
    with pytest.raises(Exception, match="unknown MiniF2F selector"):
        task.load(str(data_dir / "minif2f" / FILES[0]) + "#algebra", None)


def test_prompt_is_the_papers_few_shot_then_the_renamed_statement(d322684):
    task = MiniF2FTask(checker=None)
    problem = task.load(d322684 + "#math", 1)[0]
    messages = task.messages(problem)
    assert len(messages) == 11 and [m["role"] for m in messages[:2]] == ["user", "assistant"]
    assert "theorem theorem1" in messages[0]["content"] and "by (\n  rw [h₀] at h₁" in messages[1]["content"]
    last = messages[-1]["content"]
    assert last.startswith("Write a lean4 proof") and "theorem theorem6" in last
    assert problem.id not in last and "sorry" not in last and last.rstrip("`\n").endswith(":=")


def test_proof_extraction_and_rejection_rules():
    assert close_block("  simp\n  linarith\n)\n```\ntrailing junk (") == "  simp\n  linarith\n)"
    assert close_block("  nlinarith [sq_nonneg (a - b)]") == "  nlinarith [sq_nonneg (a - b)]\n)"
    assert close_block("  simp -- a comment with ) inside\n)") == "  simp -- a comment with ) inside\n)"
    assert extract_proof("  norm_num\n)\n```") == "by (\n  norm_num\n)"
    whole = "Here:\n```lean\nimport Mathlib\nlemma helper : True := trivial\ntheorem theorem6 (x : ℝ) : x = x := by\n  rfl\n```"
    assert extract_proof(whole) == "by\n  rfl"
    assert extract_proof("   ") is None
    assert forbidden_tokens("by\n  sorry") == ["sorry"]
    assert forbidden_tokens("by admit") == ["admit"]
    assert forbidden_tokens("by decide\n\naxiom cheat : False") == ["axiom"]
    assert forbidden_tokens("by native_decide") == ["native_decide"]
    assert forbidden_tokens("by\n  decide -- no sorry here\n  /- admit -/") == []
    assert forbidden_tokens("by simp [Nat.sorry_free, my_axiom_lemma]") == []


def test_statement_cannot_be_changed_and_no_checker_is_an_error(d322684, monkeypatch):
    monkeypatch.delenv("MONKEYS_SWE_LEAN_SERVER", raising=False)
    monkeypatch.delenv("MONKEYS_SWE_LEAN_PROJECT", raising=False)
    task = MiniF2FTask()
    problem = task.load(d322684 + "#math", 1)[0]
    file = task.lean_file(problem, extract_proof("```lean\ntheorem theorem6 : True := trivial\n```"))
    assert file.startswith(problem.data["header"]) and problem.data["statement"] + "\ntrivial" in file
    assert ": True" not in file and file.rstrip().endswith(f"#print axioms {problem.id}")
    verdict = task.verify(problem, "  linarith\n)")
    assert (verdict.correct, verdict.status) == (False, "error")
    assert verdict.detail["error"].startswith("no Lean checker configured")
    assert task.verify(problem, "  sorry\n)").status == "forbidden"  # decided without any checker


# ---------------------------------------------------------------- Kimina-style HTTP server
def kimina_response(proof: str, theorem: str) -> dict:
    info = {"severity": "info", "pos": {"line": 30, "column": 0}, "data": f"'{theorem}' {OK_AXIOMS}"}
    if "FAKE_ERR" in proof:
        return {"error": None, "response": {"env": 0, "time": 0.5, "messages": [
            {"severity": "error", "pos": {"line": 25, "column": 2}, "data": "linarith failed to find a contradiction"}]}}
    if "FAKE_SORRY_MACRO" in proof:
        return {"error": None, "response": {"env": 0, "sorries": [{"pos": {"line": 25, "column": 2}, "goal": "⊢ False"}],
                                            "messages": [info]}}
    if "FAKE_OFREDUCE" in proof:
        info = {**info, "data": f"'{theorem}' depends on axioms: [propext, Lean.ofReduceBool]"}
    if "FAKE_TIMEOUT" in proof:
        return {"error": "Lean REPL command timed out in 7 seconds", "response": None}
    if "FAKE_SILENT" in proof:
        return {"error": None, "response": {"env": 0, "messages": []}}
    return {"error": None, "response": {"env": 0, "time": 1.25, "messages": [info]}}


FAIL_NEXT = [0]  # the kimina server answers this many requests with HTTP 500 first


@pytest.fixture
def kimina_server():
    seen: list[dict] = []
    FAIL_NEXT[0] = 0

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
            crash = FAIL_NEXT[0] > 0
            FAIL_NEXT[0] -= crash
            if self.path != "/verify" or "FAKE_CRASH" in body["codes"][0]["proof"] or crash:
                self.send_response(500)
                self.end_headers()
                return
            results = []
            for code in body["codes"]:
                theorem = code["proof"].rsplit("#print axioms ", 1)[-1].strip()
                results.append({"custom_id": code["custom_id"], **kimina_response(code["proof"], theorem)})
            data = json.dumps({"results": results}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()


def test_kimina_http_checker_verdicts(kimina_server, d322684):
    url, seen = kimina_server
    task = MiniF2FTask(checker=KiminaChecker(url, api_key="k3y"), timeout_s=7)
    problem = task.load(d322684 + "#math", 1)[0]
    cases = {"linarith -- FAKE_OK": (True, "correct"), "linarith -- FAKE_ERR": (False, "lean_error"),
             "my_macro -- FAKE_SORRY_MACRO": (False, "sorry"), "simp -- FAKE_OFREDUCE": (False, "nonstandard_axioms"),
             "simp -- FAKE_TIMEOUT": (False, "timeout"), "simp -- FAKE_SILENT": (False, "error"),
             "simp -- FAKE_CRASH": (False, "error")}
    for proof, expected in cases.items():
        verdict = task.verify(problem, f"  {proof}\n)")
        assert (verdict.correct, verdict.status) == expected, (proof, verdict)
    request = seen[0]
    assert request["path"] == "/verify" and request["auth"] == "Bearer k3y"
    assert request["body"]["timeout"] == 7 and request["body"]["codes"][0]["custom_id"] == "0"
    sent = request["body"]["codes"][0]["proof"]
    assert sent == task.lean_file(problem, "by (\n  linarith -- FAKE_OK\n)")
    assert len(seen) == len(cases)


def test_minif2f_run_loop_with_server_from_env(kimina_server, d322684, tmp_path, monkeypatch):
    url, seen = kimina_server
    monkeypatch.setenv("MONKEYS_SWE_LEAN_SERVER", url)
    problem = MiniF2FTask(checker=None).load(d322684 + "#math", 1)[0]
    source = tmp_path / "samples.json"
    source.write_text(json.dumps([{"id": problem.id, "question": problem.question,
                                   "samples": ["  nlinarith -- FAKE_OK\n)", "  linarith -- FAKE_ERR\n)", "  sorry\n)"]}]))
    config = RunConfig(task="minif2f", data=d322684 + "#math", limit=1, samples=3, backend="replay",
                       replay_from=str(source), runs_dir=str(tmp_path / "runs"))
    store = Store(Runner(config).run(), create=False)
    verdicts = sorted((i, v.correct, v.status) for _, i, v in store.verdicts())
    assert verdicts == [(0, True, "correct"), (1, False, "lean_error"), (2, False, "forbidden")]
    assert len(seen) == 2  # the `sorry` attempt never reached the checker


# ---------------------------------------------------------------- local `lake env lean`
FAKE_LAKE = r'''#!PYTHON
"""Stands in for `lake` (no Lean toolchain here): logs its call, prints Lean-style output."""
import json, os, re, socket, sys, time
path = sys.argv[-1]
with open(os.environ["FAKE_LAKE_LOG"], "a") as log:
    log.write(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd()}) + "\n")
src = open(path).read()
name = re.search(r"#print axioms (\S+)", src).group(1)
if "FAKE_SLEEP" in src:
    time.sleep(60)
if "FAKE_NET" in src:
    try:
        socket.create_connection(("127.0.0.1", int(os.environ["FAKE_LAKE_PORT"])), timeout=2)
        print(f"{path}:3:0: error: network was reachable")
        sys.exit(1)
    except OSError:
        pass
if "FAKE_ERR" in src:
    print(f"{path}:24:2: error: linarith failed to find a contradiction\ncase a\nh₀ : 0 < b\n⊢ False")
    print(f"{path}:30:0: error: unknown identifier 'foo'")
    sys.exit(1)
if "FAKE_BROKEN" in src:
    print("error: no such file or directory (error code: 2)\n  file: ./lakefile.lean")
    sys.exit(1)
print(f"'{name}' depends on axioms: [propext, Classical.choice, Quot.sound]")
'''


@pytest.fixture
def fake_lake(tmp_path, monkeypatch):
    bin_dir, project, log = tmp_path / "bin", tmp_path / "project", tmp_path / "lake.log"
    bin_dir.mkdir()
    project.mkdir()
    lake = bin_dir / "lake"
    lake.write_text(FAKE_LAKE.replace("PYTHON", sys.executable))
    lake.chmod(0o755)
    listener = socket.create_server(("127.0.0.1", 0))
    monkeypatch.setenv("PATH", f"{bin_dir}:{__import__('os').environ['PATH']}")
    monkeypatch.setenv("FAKE_LAKE_LOG", str(log))
    monkeypatch.setenv("FAKE_LAKE_PORT", str(listener.getsockname()[1]))
    yield project, log
    listener.close()


def test_lake_checker_command_parsing_limits_and_isolation(fake_lake, d322684, monkeypatch):
    project, log = fake_lake
    monkeypatch.setenv("MONKEYS_SWE_LEAN_PROJECT", str(project))
    monkeypatch.delenv("MONKEYS_SWE_LEAN_SERVER", raising=False)
    task = MiniF2FTask(timeout_s=3)  # the checker comes from the environment
    assert isinstance(task.checker, LakeChecker)
    problem = task.load(d322684 + "#math", 1)[0]
    ok = task.verify(problem, "  linarith\n)")
    assert (ok.correct, ok.status, ok.detail["checker"]) == (True, "correct", "lake")
    call = json.loads(log.read_text().splitlines()[0])
    assert call["argv"][:2] == ["env", "lean"] and call["argv"][2].endswith("Proof.lean") and call["cwd"] == str(project)
    bad = task.verify(problem, "  linarith -- FAKE_ERR\n)")
    assert bad.status == "lean_error" and bad.detail["errors"][0].startswith("24:2: linarith failed")
    assert "⊢ False" in bad.detail["errors"][0] and len(bad.detail["errors"]) == 2
    broken = task.verify(problem, "  simp -- FAKE_BROKEN\n)")
    assert broken.status == "error" and "exited 1" in broken.detail["error"]  # a broken project is no verdict
    start = time.monotonic()
    slow = task.verify(problem, "  simp -- FAKE_SLEEP\n)")
    assert slow.status == "timeout" and time.monotonic() - start < 10
    if task.checker.isolate_network:  # `unshare -rn` works here: elaboration gets no network
        assert task.verify(problem, "  simp -- FAKE_NET\n)").status == "correct"
        open_task = MiniF2FTask(checker=LakeChecker(project, isolate_network=False), timeout_s=3)
        assert open_task.verify(problem, "  simp -- FAKE_NET\n)").status == "lean_error"  # the contrast
    assert LakeChecker(project, isolate_network=False).command("F.lean") == ["lake", "env", "lean", "F.lean"]


@pytest.mark.docker
def test_lake_checker_in_a_container(d322684):
    """MONKEYS_SWE_LEAN_IMAGE mode: lake runs in a harness sandbox (no network) from an image
    that holds the project; here the image holds the fake `lake` and an empty project."""
    from harness.base_images import ensure_base_images
    from harness.docker_util import build_image, get_client

    fake = FAKE_LAKE.replace("PYTHON", "/usr/bin/env python3").replace(
        'with open(os.environ["FAKE_LAKE_LOG"], "a")', 'with open("/tmp/lake.log", "a")')
    image = build_image(get_client(), "monkeys-swe/test-fake-lake:1",
                        f"FROM {ensure_base_images()}\nCOPY lake /usr/local/bin/lake\nRUN mkdir /project\n",
                        {"lake": (fake.encode(), 0o755)})
    checker = LakeChecker("/project", image=image)
    task = MiniF2FTask(checker=checker, timeout_s=3)
    problem = task.load(d322684 + "#math", 1)[0]
    try:
        assert task.verify(problem, "  linarith\n)").status == "correct"
        assert task.verify(problem, "  simp -- FAKE_ERR\n)").status == "lean_error"
        assert task.verify(problem, "  simp -- FAKE_SLEEP\n)").status == "timeout"
        assert task.verify(problem, "  linarith\n)").status == "correct"  # the sandbox survives a timeout
    finally:
        checker.close()


def test_lean_output_parsing():
    text = ("Proof.lean:3:4: warning: declaration uses 'sorry'\n"
            "Proof.lean:9:0: error(lean.unknownIdentifier): unknown identifier 'x'\n  more\n")
    bare_info = "'t' does not depend on any axioms\n"
    msgs = parse_lean_output(bare_info + text)
    assert [(m.severity, m.line, m.column) for m in msgs] == [("info", 0, 0), ("warning", 3, 4), ("error", 9, 0)]
    assert msgs[2].text == "unknown identifier 'x'\n  more"
