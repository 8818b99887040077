"""`monkeys-swe solve` end to end: replayed completions, the real harness in Docker, the real CLI."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import cli
from harness_fixture import BUGGY, FIXED, INSTANCE_ID, git, make_fixture_instance
from monkeys_swe.solve.select import select_patch
from monkeys_swe.types import Verdict


def sr(path: str, search: str, replace: str, prose: str = "") -> str:
    return f"{prose}{path}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


CORRECT = sr("calc/ops.py", BUGGY, FIXED, "The mean divides by the wrong count.\n\n")
WRONG = sr("calc/ops.py", BUGGY, "    return sum(values) / (len(values) - 1)\n")
MALFORMED = sr("calc/ops.py", "    return total / count\n", "    return 0\n")
# the same edit as CORRECT, written differently: fenced, `###` path, no indentation in SEARCH
DUPLICATE = f"Try this:\n### calc/ops.py\n```python\n<<<<<<< SEARCH\n{BUGGY.strip()}\n=======\n{FIXED.strip()}\n>>>>>>> REPLACE\n```\n"


def solve_json(runs: Path) -> tuple[dict, Path]:
    [found] = list(runs.glob("solve/*/*/solve.json"))
    return json.loads(found.read_text()), found.parent


@pytest.mark.docker
def test_replayed_mix_finds_verifies_once_and_selects_the_fix(tmp_path):
    inst, mirror = make_fixture_instance(tmp_path)
    data = tmp_path / "instances.jsonl"
    data.write_text(inst.model_dump_json() + "\n")
    replay = tmp_path / "samples.json"
    replay.write_text(json.dumps([{"id": INSTANCE_ID, "question": "", "samples": [CORRECT, WRONG, MALFORMED, DUPLICATE]}]))
    args = ("solve", INSTANCE_ID, "--data", str(data), "--repo-mirror", str(mirror), "--backend", "replay",
            "--replay-from", str(replay), "--samples", "4", "--runs-dir", str(tmp_path / "runs"))
    proc = cli(*args, check=True)
    summary, run_dir = solve_json(tmp_path / "runs")
    assert "attempts 4/4, verified 4, applied 3, passing 3, resolved 2, unique patches 2" in proc.stderr
    assert summary["attempts"] == 4
    assert summary["statuses"] == {"resolved": 2, "not_resolved": 1, "malformed": 1}
    assert summary["docker_verifications"] == 2  # CORRECT and DUPLICATE share one verification
    assert summary["unique_patches"] == 2 and summary["applied"] == 3 and summary["resolved"] == 2
    assert summary["pass_existing_tests"] == 3  # test_add* still pass with either edit
    sel = summary["selection"]
    assert (sel["index"], sel["votes"], sel["oracle_resolved"]) == (0, 2, True)
    assert sel["stages"] == {"with a patch": 3, "applied": 3, "pass existing tests": 3}
    chosen = (run_dir / "chosen.patch").read_text()
    assert "+    return sum(values) / len(values)\n" in chosen and chosen in proc.stdout.replace("\r", "")

    db = sqlite3.connect(run_dir / "run.db")
    rows = {i: (s, a, json.loads(d)) for i, s, a, d in db.execute("SELECT idx, status, answer, detail FROM verdicts")}
    assert rows[0][1] == rows[3][1] != rows[1][1]  # the duplicate votes with the fix, the wrong edit apart
    assert rows[0][2]["patch"] == chosen and rows[0][2]["regression"]["passing_at_base"] == 2
    assert "SEARCH text not found" in rows[2][2]["error"] and rows[2][1] is None
    scores = dict(db.execute("SELECT idx, score FROM scores WHERE scorer='regression_pass'").fetchall())
    assert scores == {0: 1.0, 1: 1.0, 3: 1.0}
    db.close()

    again = cli(*args, check=True)  # same command: resumes, nothing left to generate or verify
    summary2, _ = solve_json(tmp_path / "runs")
    assert summary2["docker_verifications"] == 0 and summary2["attempts"] == 4
    assert summary2["selection"] == sel and "attempt 0" in again.stdout
    first, second = summary2["history"]  # every invocation's summary is kept, the first one's counts too
    assert first["docker_verifications"] == 2 and second["docker_verifications"] == 0


BROKEN = "def slugify(text):\n    return text.lower().replace(' ', '_')\n"
TEST = "from textutil import slugify\n\n\ndef test_slugify():\n    assert slugify('Hello World') == 'hello-world'\n"


def make_slugify_repo(tmp_path: Path) -> tuple[Path, str]:
    """A one-commit git repository whose test fails, and the issue that says why."""
    repo = tmp_path / "proj"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "textutil.py").write_text(BROKEN)
    (repo / "test_textutil.py").write_text(TEST)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "slugify")
    issue = "slugify('Hello World') should give 'hello-world' (dashes), not 'hello_world'."
    return repo, issue


@pytest.mark.docker
def test_solve_own_repo_applies_the_fix_and_the_test_passes(tmp_path):
    repo, issue = make_slugify_repo(tmp_path)
    fix = sr("textutil.py", "    return text.lower().replace(' ', '_')\n", "    return text.lower().replace(' ', '-')\n")
    replay = tmp_path / "samples.json"  # matched by the issue text: a local repo's id is derived from its commit
    replay.write_text(json.dumps([{"question": issue, "samples": ["no idea", fix]}]))
    test_cmd = "python3 -m pytest -q test_textutil.py"
    before = subprocess.run([sys.executable, "-m", "pytest", "-q", "test_textutil.py"], cwd=repo, capture_output=True)
    assert before.returncode == 1

    proc = cli("solve", "--repo", str(repo), "--issue", issue, "--test", test_cmd, "--backend", "replay",
               "--replay-from", str(replay), "--samples", "2", "--apply", "--runs-dir", str(tmp_path / "runs"),
               cwd=tmp_path, check=True)
    summary, run_dir = solve_json(tmp_path / "runs")
    assert summary["statuses"] == {"malformed": 1, "resolved": 1}
    assert summary["selection"]["stages"]["pass the test command"] == 1
    assert "applied" in proc.stdout and (run_dir / "chosen.patch").exists()
    assert (repo / "textutil.py").read_text() == BROKEN.replace("'_'", "'-'")
    after = subprocess.run([sys.executable, "-m", "pytest", "-q", "test_textutil.py"], cwd=repo, capture_output=True)
    assert after.returncode == 0, after.stdout


@pytest.mark.docker
def test_apply_refuses_a_patch_that_did_not_pass(tmp_path):
    repo, issue = make_slugify_repo(tmp_path)
    wrong = sr("textutil.py", "    return text.lower().replace(' ', '_')\n", "    return text.lower().replace(' ', '+')\n")
    replay = tmp_path / "samples.json"
    replay.write_text(json.dumps([{"question": issue, "samples": [wrong, "no idea"]}]))
    args = ["solve", "--repo", str(repo), "--issue", issue, "--test", "python3 -m pytest -q test_textutil.py",
            "--backend", "replay", "--replay-from", str(replay), "--samples", "2", "--apply",
            "--runs-dir", str(tmp_path / "runs")]
    proc = cli(*args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    (error,) = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]  # one line, after the panel
    assert "no candidate passed `python3 -m pytest -q test_textutil.py`" in error and proc.stderr.endswith(error + "\n")
    summary, run_dir = solve_json(tmp_path / "runs")
    assert summary["statuses"] == {"not_resolved": 1, "malformed": 1} and (run_dir / "chosen.patch").exists()
    assert (repo / "textutil.py").read_text() == BROKEN
    assert git(repo, "status", "--porcelain").strip() == ""  # the working tree is exactly as it was
    # forced: the same run (resumed, nothing sampled again) and the candidate is written
    forced = cli(*args, "--force-apply", cwd=tmp_path)
    assert forced.returncode == 4 and "no candidate resolved the issue" in forced.stderr  # written, yet not a fix
    assert (repo / "textutil.py").read_text() == BROKEN.replace("'_'", "'+'")


@pytest.mark.parametrize("args, message", [
    (["no__such-1", "--data", "{data}"], "instance ids not in"),
    (["x__y-1", "--data", "{tmp}/missing.jsonl"], "data file not found"),
    (["--repo", "{tmp}", "--issue", "bug"], "--repo needs --test"),
    (["--repo", "{tmp}", "--issue", "bug", "--test", "pytest"], "is not a git repository"),
    (["--repo", "{tmp}/nowhere", "--issue", "bug", "--test", "pytest"], "no such directory"),
    (["monkeys__calc-1", "--apply"], "--apply writes into your working tree"),
    ([], "give a SWE-bench INSTANCE_ID"),
    (["monkeys__calc-1", "--data", "{data}", "--backend", "replay", "--replay-from", "x.json", "--localize"],
     "--localize asks the model"),
])
def test_bad_input_is_one_line(tmp_path, args, message):
    data = tmp_path / "instances.jsonl"
    data.write_text(json.dumps({"instance_id": "monkeys__calc-1", "repo": "monkeys/calc", "base_commit": "0" * 40}) + "\n")
    proc = cli("solve", *[a.format(data=data, tmp=tmp_path) for a in args], "--runs-dir", str(tmp_path / "runs"))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ") and message in proc.stderr


def v(status: str, answer: str | None, passes=None, correct=False) -> Verdict:
    return Verdict(correct, status, answer, {"patch": f"diff {answer}" if answer else "", "passes_existing_tests": passes})


def test_selection_filters_then_votes():
    rows = list(enumerate([
        v("apply_failed", "a", False), v("apply_failed", "a", False), v("apply_failed", "a", False),  # most votes, never applied
        v("not_resolved", "b", False), v("not_resolved", "b", False),  # applied, breaks existing tests
        v("not_resolved", "c", True), v("resolved", "d", True, correct=True), v("resolved", "d", True, correct=True),
        v("malformed", None),
    ]))
    sel = select_patch(rows)
    assert (sel.patch_hash, sel.index, sel.votes, sel.oracle_resolved) == ("d", 6, 2, True)
    assert sel.stages == {"with a patch": 8, "applied": 5, "pass existing tests": 3}
    # nobody passes the existing tests: the filter keeps everyone that applied, and votes
    sel = select_patch([(0, v("not_resolved", "b", False)), (1, v("not_resolved", "c", False)), (2, v("not_resolved", "c", False))])
    assert sel.patch_hash == "c"
    # ties go to the patch seen first; nothing applied: nothing chosen
    assert select_patch([(0, v("resolved", "x")), (1, v("resolved", "y"))]).patch_hash == "x"
    assert select_patch([(0, v("apply_failed", "x")), (1, v("malformed", None))]).index is None
    # a local repo's test command is visible to the user: passing it is a filter
    sel = select_patch([(0, v("not_resolved", "b")), (1, v("not_resolved", "b")), (2, v("resolved", "c", correct=True))],
                       verifier_is_visible=True)
    assert sel.patch_hash == "c"


def test_panel_counts_from_the_live_store(tmp_path):
    import io

    from rich.console import Console

    from monkeys_swe.runner import RunStats
    from monkeys_swe.solve.panel import SolvePanel
    from monkeys_swe.store import Store
    from monkeys_swe.types import Sample

    store = Store(tmp_path)
    verdicts = [v("resolved", "d", True, correct=True), v("not_resolved", "b", False), v("resolved", "d", True, correct=True),
                v("malformed", None)]
    for i, verdict in enumerate(verdicts):
        store.add_sample(Sample("p", i, "text", 100, 20 + i, i, 0.1))
        store.add_verdict("p", i, verdict)
    out = io.StringIO()
    panel = SolvePanel("solve p", tmp_path, 10, ["not-a-priced-model"], console=Console(file=out, force_terminal=True, width=100))
    with panel:
        panel.update(RunStats(attempts=4))
    store.close()
    c = panel.counts
    assert (c.attempts, c.verified, c.applied, c.passing, c.resolved, c.malformed, c.unique) == (4, 4, 3, 2, 2, 1, 2)
    assert (c.prompt_tokens, c.completion_tokens) == (400, 86)
    text = out.getvalue()
    assert "4/10" in text and "400 in / 86 out" in text and "tokens only" in text
    priced = SolvePanel("solve p", tmp_path, 10, [None, "gpt-4o"], console=Console(file=io.StringIO()))
    priced.counts = c
    out2 = io.StringIO()
    Console(file=out2, width=100).print(priced.render())
    assert "$0.0033" in out2.getvalue()  # 400 x $5/M + 86 x $15/M from monkeys_swe/configs/models.yaml


@pytest.mark.docker
def test_solve_warns_about_a_dirty_tree_and_a_test_command_broken_at_base(tmp_path):
    repo, issue = make_slugify_repo(tmp_path)
    (repo / "textutil.py").write_text(BROKEN + "# local edit, not committed\n")
    replay = tmp_path / "samples.json"
    replay.write_text(json.dumps([{"question": issue, "samples": ["no idea"]}]))
    proc = cli("solve", "--repo", str(repo), "--issue", issue, "--test", "python3 -m pytest -q test_missing.py",
               "--backend", "replay", "--replay-from", str(replay), "--samples", "1", "--runs-dir", str(tmp_path / "runs"),
               cwd=tmp_path)
    err = " ".join(proc.stderr.split())
    assert f"{repo} has uncommitted changes (textutil.py): solve works on commit HEAD, without them" in err
    assert "`python3 -m pytest -q test_missing.py` fails at the base commit for its own reasons" in err
    assert proc.returncode == 4 and "no candidate resolved the issue" in err  # documented: 4, nothing resolved
