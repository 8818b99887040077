"""Model-written reproduction tests in `solve` (issue 16): replayed tests and patches, real Docker.

The fixture instance (tests/harness_fixture.py: calc.ops.mean divides by len + 1) gets scripted
tests (one reproducing, the same one written differently, one already passing, one broken) and
scripted patches (wrong-but-applying twice, correct, a duplicate of the correct, malformed), so
majority vote alone picks the wrong patch and the reproduction tests pick the fix.
"""
from __future__ import annotations

import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import cli
from harness_fixture import BUGGY, INSTANCE_ID, make_fixture_instance
from test_solve import CORRECT, DUPLICATE, MALFORMED, solve_json, sr

WRONG = sr("calc/ops.py", BUGGY, "    return sum(values) / (len(values) - 1)\n")
WRONG_AGAIN = f"```\ncalc/ops.py\n<<<<<<< SEARCH\n{BUGGY.strip()}\n=======\n{'    return sum(values) / (len(values) - 1)'.strip()}\n>>>>>>> REPLACE\n```\n"
PATCHES = [WRONG, WRONG_AGAIN, CORRECT, DUPLICATE, MALFORMED]

REPRODUCES = "```python\nfrom calc.ops import mean\n\n\ndef test_mean_of_four():\n    assert mean([1, 2, 3, 4]) == 2.5\n```\n"
# the same test: other quoting, a comment, no fence -> one AST, run once
REPRODUCES_AGAIN = "from calc.ops import mean\n\ndef test_mean_of_four():  # the issue's example\n    assert mean([1, 2, 3, 4]) == 2.5\n"
PASSES = "```python\nfrom calc.ops import add\n\n\ndef test_add_zero():\n    assert add(0, 0) == 0\n```\n"
BROKEN = "```python\nfrom calc.stats import median\n\n\ndef test_median():\n    assert median([1, 2, 3]) == 2\n```\n"
TESTS = [PASSES, REPRODUCES, BROKEN, REPRODUCES_AGAIN]


def fixture_run(tmp_path: Path) -> tuple[list[str], Path]:
    inst, mirror = make_fixture_instance(tmp_path)
    data = tmp_path / "instances.jsonl"
    data.write_text(inst.model_dump_json() + "\n")
    replay = tmp_path / "samples.json"
    replay.write_text(json.dumps([{"id": INSTANCE_ID, "samples": PATCHES},
                                  {"id": f"repro:{INSTANCE_ID}", "samples": TESTS},
                                  {"id": f"judge:{INSTANCE_ID}", "samples": ["Candidate B"]}]))
    args = ["solve", INSTANCE_ID, "--data", str(data), "--repo-mirror", str(mirror), "--backend", "replay",
            "--replay-from", str(replay), "--samples", str(len(PATCHES)), "--tests", str(len(TESTS)),
            "--runs-dir", str(tmp_path / "runs")]
    return args, tmp_path / "runs"


def tables(run_dir: Path) -> tuple[dict, dict, dict]:
    db = sqlite3.connect(run_dir / "run.db")
    attempts = {i: h for i, h in db.execute("SELECT idx, test_hash FROM repro_attempts")}
    verdicts = {h: (s, json.loads(d)) for h, s, d in db.execute("SELECT test_hash, status, detail FROM repro_verdicts")}
    cells = {(p, t): (o, c) for p, t, o, c in db.execute("SELECT patch_hash, test_hash, outcome, created_at FROM repro_matrix")}
    db.close()
    return attempts, verdicts, cells


def kill_after_first_cell(args: list[str], runs: Path) -> tuple[dict, str]:
    """Run `solve ARGS` and SIGKILL it as soon as the first candidate's matrix row is stored;
    -> (the stored cells, the process's stderr)."""
    err = runs.parent / "killed.stderr"
    proc = subprocess.Popen([sys.executable, "-m", "monkeys_swe", *args], stdout=subprocess.DEVNULL,
                            stderr=err.open("w"), start_new_session=True)
    first: dict = {}
    deadline = time.time() + 300
    try:
        while time.time() < deadline and proc.poll() is None:
            for db in runs.glob("solve/*/*/run.db"):
                try:
                    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
                    rows = con.execute("SELECT patch_hash, test_hash, created_at FROM repro_matrix").fetchall()
                    con.close()
                except sqlite3.OperationalError:  # the table is not there yet
                    rows = []
                if rows:
                    os.killpg(proc.pid, signal.SIGKILL)
                    first = {(p, t): c for p, t, c in rows}
            if first:
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return first, err.read_text()


@pytest.mark.docker
def test_reproduction_tests_rank_the_fix_and_the_matrix_survives_sigkill(tmp_path):
    args, runs = fixture_run(tmp_path)
    args += ["--verify-workers", "1"]  # one candidate at a time: the kill lands between them
    first, stderr = kill_after_first_cell(args, runs)
    assert len(first) == 1, f"the kill was meant to land after the first candidate's row; stderr:\n{stderr[-2000:]}"

    proc = cli(*args, check=True)  # the same command: resumes
    summary, run_dir = solve_json(runs)
    attempts, verdicts, cells = tables(run_dir)
    assert len(cells) == 2 and all(cells[k][1] == c for k, c in first.items())  # the finished cell was not rerun
    assert summary["repro"]["matrix"]["runs"] == 1  # only the missing candidate ran
    # four tests sampled, three distinct (the two reproducing ones are one AST), each judged once
    assert len(attempts) == 4 and attempts[1] == attempts[3] and len(verdicts) == 3
    status = {i: verdicts[h][0] for i, h in attempts.items()}
    assert status == {0: "passes_already", 1: "reproduces", 2: "broken", 3: "reproduces"}
    assert "ModuleNotFoundError" in verdicts[attempts[2]][1]["reason"]
    # the matrix: the two distinct applied candidates x the one reproducing test
    db = sqlite3.connect(run_dir / "run.db")
    hashes = {i: a for i, a in db.execute("SELECT idx, answer FROM verdicts")}
    db.close()
    assert hashes[0] == hashes[1] != hashes[2] == hashes[3]
    assert {k: o for k, (o, _) in cells.items()} == {(hashes[0], attempts[1]): "fail", (hashes[2], attempts[1]): "pass"}
    sel = summary["selection"]
    assert (sel["index"], sel["oracle_resolved"]) == (2, True)
    assert sel["stages"]["most reproduction tests passed (1 of 1)"] == 2
    assert summary["selector"] == "tests" and summary["oracle"].startswith("hidden tests")
    r = summary["repro"]
    assert r["statuses"] == {"passes_already": 1, "reproduces": 1, "broken": 1} and r["sampled"] == 4
    assert r["cost"]["classify_sandbox_s"] > 0 and r["cost"]["matrix_sandbox_s"] > 0 and r["cost"]["matrix_runs"] == 2
    assert "reproduction tests" in proc.stdout and "candidates x tests" in proc.stdout
    assert "+    return sum(values) / len(values)\n" in (run_dir / "chosen.patch").read_text()

    # today's selector on the same run: resumes (no sandbox runs), votes 2-2, the first seen wins: the wrong one
    again = cli(*args, "--select", "vote", check=True)
    summary2, _ = solve_json(runs)
    assert summary2["selection"]["index"] == 0 and summary2["selection"]["oracle_resolved"] is False
    assert summary2["docker_verifications"] == 0 and summary2["repro"]["matrix"]["runs"] == 0
    assert "candidates x tests" in again.stdout
    # a final LLM judge (replayed) among the vote's finalists: A = the wrong patch (seen first), B = the fix
    cli(*args, "--select", "vote", "--judge", check=True)
    summary3, _ = solve_json(runs)
    assert summary3["selection"]["index"] == 2 and summary3["selection"]["oracle_resolved"] is True
    assert summary3["selection"]["stages"]["LLM judge among 2"] == 1

    # the report: a selection curve per selector beside coverage, and the tests' cost apart
    rep = cli("report", str(run_dir), "--html", check=True)
    report = json.loads((run_dir / "report" / "summary.json").read_text())
    curves = report["selection"]
    assert curves["reproduction tests (model-written)"][-1] == 1.0  # all 5: the fix
    assert curves["existing tests + vote"][-1] == 0.0  # all 5: the wrong one, seen first
    assert curves["random pick"][0] == pytest.approx(2 / 5)
    assert report["repro_cost"]["tests"]["attempts"] == 4 and report["repro_cost"]["tests"]["matrix_runs"] == 2
    assert "reproduction tests" in rep.stdout and "(model-written)" in rep.stdout and "test generation" in rep.stdout
    assert "reproduction tests" in (run_dir / "report" / "report.html").read_text()
    # the judge curve (`solve --judge` at every k, last run with --select vote): its only finalist set,
    # {wrong, fix}, is the one `solve --judge` already decided (B: the fix), so it asks nothing and
    # picks the fix whenever a subset holds it: coverage exactly (C(5, k) <= 20: every subset)
    again = cli("report", str(run_dir), "--judge-curve", check=True)
    report = json.loads((run_dir / "report" / "summary.json").read_text())
    assert report["judge_curve"]["decisions"] == 1 and report["judge_curve"]["calls"] == 0
    assert report["selection"]["judge (est., 20 subsets/k)"] == pytest.approx(report["coverage"])
    assert report["coverage"] == pytest.approx([1 - math.comb(3, k) / math.comb(5, k) for k in report["ks"]])
    assert "judge decisions" in again.stdout


SLUG_BROKEN = "def slugify(text):\n    return text.lower().replace(' ', '_')\n"
SLUG_TEST = "from textutil import slugify\n\n\ndef test_lowercase():\n    assert slugify('ABC') == 'abc'\n"


@pytest.mark.docker
def test_solve_own_repo_without_a_test_command_uses_the_reproduction_tests(tmp_path):
    from harness_fixture import git

    repo = tmp_path / "proj"  # the issue has no failing test yet: the existing test passes
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "textutil.py").write_text(SLUG_BROKEN)
    (repo / "test_textutil.py").write_text(SLUG_TEST)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "slugify")
    issue = "slugify('Hello World') should give 'hello-world' (dashes), not 'hello_world'."
    old = "    return text.lower().replace(' ', '_')\n"
    wrong, fix = sr("textutil.py", old, old.replace("'_'", "'+'")), sr("textutil.py", old, old.replace("'_'", "'-'"))
    repro = "```python\nfrom textutil import slugify\n\n\ndef test_dashes():\n    assert slugify('Hello World') == 'hello-world'\n```"
    replay = tmp_path / "samples.json"  # a local repo's id is derived from its commit: matched by the text
    replay.write_text(json.dumps([{"question": issue, "samples": [wrong, fix]},
                                  {"question": f"repro:{issue}", "samples": [repro, "I cannot write a test."]}]))
    proc = cli("solve", "--repo", str(repo), "--issue", issue, "--tests", "2", "--backend", "replay",
               "--replay-from", str(replay), "--samples", "2", "--apply", "--runs-dir", str(tmp_path / "runs"),
               cwd=tmp_path, check=True)
    summary, run_dir = solve_json(tmp_path / "runs")
    assert summary["oracle"].startswith("model-written reproduction tests")
    assert "resolved" not in summary and "resolved" not in json.dumps(summary["statuses"])
    assert summary["statuses"] == {"fails_reproduction_tests": 1, "passes_reproduction_tests": 1}
    assert summary["passes_reproduction_tests"] == 1 and summary["repro"]["statuses"] == {"reproduces": 1, "broken": 1}
    sel = summary["selection"]
    assert sel["index"] == 1 and sel["passes_reproduction_tests"] is True and sel["oracle_resolved"] is None
    db = sqlite3.connect(run_dir / "run.db")  # "existing tests" stayed the repository's own tests near the change
    details = [json.loads(d) for (d,) in db.execute("SELECT detail FROM verdicts ORDER BY idx")]
    db.close()
    assert all(d["regression"]["cmd"].endswith("test_textutil.py") and d["passes_existing_tests"] for d in details)
    # each verdict already ran the reproducing test with its candidate: the matrix reuses it, no second sandbox
    assert summary["repro"]["matrix"]["runs"] == 0 and summary["repro"]["matrix"]["from_verdicts"] == 2
    assert sorted(summary["repro"]["passed"].values()) == [0, 1]
    table = proc.stdout.split("diff --git")[0]
    assert "reproduction" in table and "resolved" not in table
    assert "applied" in proc.stdout and (repo / "textutil.py").read_text() == SLUG_BROKEN.replace("'_'", "'-'")


def test_selection_curves_equal_brute_force_over_every_k_subset(tmp_path):
    """A small stored run (no Docker): the curves match the selectors applied to every k-subset."""
    from itertools import combinations

    from monkeys_swe.reports.selection_curves import RANDOM, TESTS, VOTE, swe_selection_curves
    from monkeys_swe.reports.summary import load_run
    from monkeys_swe.solve.repro_store import ReproStore, ReproTest
    from monkeys_swe.solve.select import select_patch
    from monkeys_swe.store import Store
    from monkeys_swe.types import Problem, Sample, Verdict

    def verdict(status, h, correct=False, passes=True):
        return Verdict(correct, status, h, {"patch": f"diff {h}" if h else "", "status": status,
                                            "passes_existing_tests": passes if status != "malformed" else False})

    run = {  # problem -> attempts; A fixes, B/C do not, C breaks the existing tests
        "p1": [verdict("not_resolved", "B"), verdict("not_resolved", "B"), verdict("resolved", "A", True),
               verdict("malformed", None), verdict("not_resolved", "C", passes=False), verdict("resolved", "A", True),
               verdict("not_resolved", "B")],
        "p2": [verdict("not_resolved", "X"), verdict("resolved", "Y", True), verdict("not_resolved", "X")],
    }
    passed = {"p1": {"A": 2, "B": 1, "C": 2}, "p2": {"X": 1, "Y": 0}}  # p2's only test misleads
    store = Store(tmp_path)
    store.set_meta("config", {"task": "swebench", "samples": 7})
    store.add_problems([Problem(pid, "issue", data={"instance": {}}) for pid in run])
    rs = ReproStore(store)
    for pid, rows in run.items():
        for i, v in enumerate(rows):
            store.add_sample(Sample(pid, i, "text", 1, 1, i, 0.0))
            store.add_verdict(pid, i, v)
        tests = ["t1", "t2"] if pid == "p1" else ["t1"]
        for j, t in enumerate(tests):
            rs.add_attempt(pid, Sample(pid, j, "code", 1, 1, j, 0.0), t)
            rs.set_verdict(pid, ReproTest(t, "reproduces", "code", {}))
        for h, n in passed[pid].items():
            rs.set_cells(pid, h, {t: ("pass" if j < n else "fail", {}) for j, t in enumerate(tests)})
    store.close()

    data = load_run(tmp_path)
    ks = [1, 2, 3, 4, 5, 6, 7]
    curves = swe_selection_curves(data, ks)
    for name, pick in [(VOTE, lambda rows, pid: select_patch(rows)),
                       (TESTS, lambda rows, pid: select_patch(rows, rank=lambda v: passed[pid].get(v.answer, 0))),
                       (RANDOM, None)]:
        expected = []
        for k in ks:
            per_problem = []
            for pid, rows in run.items():
                kk = min(k, len(rows))
                subsets = list(combinations(list(enumerate(rows)), kk))
                if pick is None:
                    wins = [sum(v.correct for _, v in sub) / kk for sub in subsets]
                else:
                    wins = [pick(list(sub), pid).oracle_resolved is True for sub in subsets]
                per_problem.append(sum(wins) / len(subsets))
            expected.append(sum(per_problem) / len(per_problem))
        assert curves[name] == pytest.approx(expected, abs=1e-12), name
    assert curves[TESTS][-1] == pytest.approx(0.5) and curves[VOTE][-1] == pytest.approx(0.0)


@pytest.mark.model
@pytest.mark.docker
def test_solve_with_two_reproduction_tests_from_the_embedded_model(tmp_path):
    """SmolLM2 rarely writes a reproducing test: this checks the mechanics and the report."""
    inst, mirror = make_fixture_instance(tmp_path)
    data = tmp_path / "instances.jsonl"
    data.write_text(inst.model_dump_json() + "\n")
    proc = cli("solve", INSTANCE_ID, "--data", str(data), "--repo-mirror", str(mirror), "--samples", "2",
               "--tests", "2", "--max-tokens", "120", "--runs-dir", str(tmp_path / "runs"), timeout=900)
    summary, run_dir = solve_json(tmp_path / "runs")
    assert proc.returncode == (0 if summary["resolved"] else 4), proc.stderr  # 4: nothing resolved
    db = sqlite3.connect(run_dir / "run.db")
    tests = db.execute("SELECT idx, seed, completion_tokens, prompt_tokens, test_hash FROM repro_attempts").fetchall()
    verdicts = dict(db.execute("SELECT test_hash, status FROM repro_verdicts").fetchall())
    db.close()
    assert [t[0] for t in tests] == [0, 1] and tests[0][1] != tests[1][1]  # one seed per test slot
    assert all(0 < t[2] <= 120 and t[3] > 50 for t in tests)  # real tokens, a real prompt
    assert set(verdicts) == {t[4] for t in tests} and set(verdicts.values()) <= {"reproduces", "passes_already", "broken"}
    r = summary["repro"]
    assert r["sampled"] == 2 and r["cost"]["completion_tokens"] == sum(t[2] for t in tests)
    assert summary["completion_tokens"] != r["cost"]["completion_tokens"] or summary["attempts"] == 2  # kept apart
    assert "reproduction tests" in proc.stdout and "test cost" in proc.stdout
    cli("report", str(run_dir), check=True)
    report = json.loads((run_dir / "report" / "summary.json").read_text())
    assert report["repro_cost"]["tests"]["completion_tokens"] == r["cost"]["completion_tokens"]
    assert report["repro_cost"]["patches"]["completion_tokens"] == summary["completion_tokens"]
    assert {"random pick", "existing tests + vote"} <= set(report["selection"])


def test_test_files_are_extracted_hashed_and_classified():
    from monkeys_swe.solve.judge import parse_choice
    from monkeys_swe.tasks.swebench import repro_tests as rt

    code = rt.extract_test("Here:\n```python\nimport x\n\ndef test_a():\n    assert x.f() == 1\n```\nDone.")
    assert code == "import x\n\ndef test_a():\n    assert x.f() == 1\n"
    same = rt.extract_test("import x\ndef test_a():  # same test\n    assert x.f() == 1\n")
    assert rt.repro_hash(code, "a") == rt.repro_hash(same, "b")  # one AST: run once
    assert rt.extract_test("I cannot write a test.") is None and rt.static_problem(None)
    assert "syntax error" in rt.static_problem("def test_a(:\n")
    assert rt.static_problem("def helper():\n    pass\n") == "no test function in the file"
    h = "0123456789abcdef"
    path = rt.repro_path(h)
    assert path == "test_monkeys_repro_0123456789ab.py" and path in rt.repro_diff({h: code})
    assert rt.classify(h, "not_resolved", {f"{path}::test_a": "FAILED"}, None, None)[0] == "reproduces"
    assert rt.classify(h, "resolved", {f"{path}::test_a": "PASSED"}, None, None)[0] == "passes_already"
    assert rt.classify(h, "resolved", {f"{path}::test_a": "SKIPPED"}, None, None)[0] == "broken"
    assert rt.classify(h, "not_resolved", {path: "ERROR"}, None, None)[0] == "broken"  # collection error
    assert rt.classify(h, "not_resolved", {}, None, None)[0] == "broken"  # nothing collected
    assert rt.classify(h, "error", {}, None, "docker went away")[0] == "error"  # not a judgement
    assert rt.classify(h, "timeout", {}, None, None)[0] == "broken"
    # with a candidate applied: every test of the file must pass; an unjudged run stays an error
    other = {f"{path}::test_a": "PASSED", "test_monkeys_repro_ffffffffffff.py::test_b": "FAILED"}
    assert rt.cell_outcome(h, "not_resolved", other) == "pass"
    assert rt.cell_outcome(h, "not_resolved", {f"{path}::test_a": "FAILED"}) == "fail"
    assert rt.cell_outcome(h, "timeout", {}) == "fail" and rt.cell_outcome(h, "error", {}) == "error"
    assert [parse_choice(t, 3) for t in ("Candidate B", "C", "I pick A.", "none of them", "Candidate D")] == [1, 2, 0, None, None]


@pytest.mark.parametrize("args, message", [
    (["monkeys__calc-1", "--select", "tests"], "--select tests needs --tests N"),
    (["monkeys__calc-1", "--tests", "-1"], "--tests must be 0 or more"),
    (["--repo", "{tmp}", "--issue", "bug"], "or --tests N (model-written reproduction tests judge the candidates)"),
])
def test_bad_test_options_are_one_line(tmp_path, args, message):
    proc = cli("solve", *[a.format(tmp=tmp_path) for a in args], "--runs-dir", str(tmp_path / "runs"))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ") and message in proc.stderr


def test_incremental_picks_equal_the_selector_on_every_prefix():
    """Large runs are estimated from random orders with prefix_picks: it must pick what `choose` picks."""
    import random

    from monkeys_swe.reports.selection_curves import prefix_picks
    from monkeys_swe.solve.stages import choose
    from monkeys_swe.types import Verdict

    rng = random.Random(7)
    for _ in range(150):
        rows = []
        for i in range(rng.randint(1, 25)):
            h = rng.choice("abcdef")
            st = rng.choice(["resolved", "not_resolved", "not_resolved", "malformed", "apply_failed", "error"])
            rows.append((i, Verdict(h in "ab" and st == "resolved", st, None if st == "malformed" else h,
                                    {"patch": "" if st == "malformed" else f"diff {h}",
                                     "passes_existing_tests": rng.choice([True, False, None])})))
        passed = {h: rng.randint(0, 2) for h in "abcdef"} if rng.random() < 0.5 else None
        visible = rng.random() < 0.3
        order = rng.sample(range(len(rows)), len(rows))
        fast = prefix_picks(rows, order, visible=visible, passed=passed)
        for k in range(1, len(rows) + 1):
            sel = choose([rows[j] for j in order[:k]], "tests" if passed else "vote", verifier_is_visible=visible,
                         passed=passed, n_tests=2 if passed else 0)
            assert (sel.oracle_resolved is True) == fast[k - 1], (rows, order, k)
