"""Numbers a user can trust: error verdicts are not wrong answers, settings are part of the run,
and a store from a newer version is refused.

The Lean checker is the one boundary faked (no Lean toolchain here): the Kimina-style HTTP server
of test_minif2f.py on 127.0.0.1. The store, the run loop, the reports and the CLI are the real ones.
"""
from __future__ import annotations

import json
import sqlite3

import pytest
from rich.console import Console

from conftest import cli
from monkeys_swe.cli.options import build_config
from monkeys_swe.config import RunConfig
from monkeys_swe.errors import UserError
from monkeys_swe.reports import report_run
from monkeys_swe.runner import Runner
from monkeys_swe.store import SCHEMA_VERSION, Store
from monkeys_swe.tasks.minif2f import MiniF2FTask
import test_minif2f
from test_minif2f import FILES, kimina_server  # noqa: F401 (a fixture)


@pytest.fixture
def minif2f_run(data_dir, tmp_path, monkeypatch):
    """A one-problem MiniF2F replay run: two equal right proofs, a wrong one, a forbidden one."""
    for name in ("MONKEYS_SWE_LEAN_SERVER", "MONKEYS_SWE_LEAN_PROJECT", "MONKEYS_SWE_LEAN_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    data = str(data_dir / "minif2f" / FILES[0]) + "#math"
    problem = MiniF2FTask(checker=None).load(data, 1)[0]
    source = tmp_path / "samples.json"
    samples = ["  nlinarith -- FAKE_OK\n)", "  nlinarith -- FAKE_OK\n)", "  linarith -- FAKE_ERR\n)", "  sorry\n)"]
    source.write_text(json.dumps([{"id": problem.id, "question": problem.question, "samples": samples}]))
    return dict(task="minif2f", data=data, limit=1, samples=4, backend="replay", replay_from=str(source),
                runs_dir=str(tmp_path / "runs"))


def statuses(run_dir) -> list[str]:
    store = Store(run_dir, create=False)
    try:
        return [v.status for _, _, v in store.verdicts()]
    finally:
        store.close()


def test_error_verdicts_are_left_out_of_n_and_verified_again(minif2f_run, kimina_server, monkeypatch):
    url, seen = kimina_server
    # 1. No checker configured: the verifier cannot judge three attempts; the forbidden one it can.
    run_dir = Runner(RunConfig(**minif2f_run)).run()
    assert statuses(run_dir) == ["error", "error", "error", "forbidden"]
    store = Store(run_dir, create=False)
    (_, _, first), *_ = store.verdicts()
    assert "no Lean checker configured" in first.detail["error"]
    assert store.counts()["errors"] == 3 and store.counts()["verified"] == 1
    store.close()
    console = Console(record=True, width=200)
    s = report_run(run_dir, console=console)
    assert s["errors"] == 3 and s["per_problem"][0]["errors"] == 3
    # n is the one judged attempt (wrong): coverage and majority vote are 0 over n=1, not over 4
    assert s["per_problem"][0]["attempts"] == 1 and not any(s["coverage"]) and not any(s["selection"]["majority vote"])
    assert any("error verdicts" in w for w in s["warnings"])
    out = console.export_text()
    assert "warning:" in out and "3 errors (not counted)" in out
    summary = json.loads((run_dir / "report" / "summary.json").read_text())
    assert summary["errors"] == 3 and summary["warnings"]

    # 2. A checker now exists (the environment names it: infrastructure, so the same run), but
    #    --no-retry-errors keeps the error verdicts as they are.
    monkeypatch.setenv("MONKEYS_SWE_LEAN_SERVER", url)
    assert Runner(RunConfig(**minif2f_run, retry_errors=False)).run() == run_dir
    assert statuses(run_dir) == ["error", "error", "error", "forbidden"] and seen == []

    # 3. The default rerun verifies them again: real verdicts, and errors are never shared
    #    between duplicates (the two equal proofs are one check now that it succeeds).
    assert Runner(RunConfig(**minif2f_run)).run() == run_dir
    assert statuses(run_dir) == ["correct", "correct", "lean_error", "forbidden"]
    assert len(seen) == 2
    s = report_run(run_dir)
    assert s["errors"] == 0 and s["warnings"] == [] and s["per_problem"][0]["attempts"] == 4
    assert s["coverage"][-1] == 1.0 and s["coverage"][0] == pytest.approx(0.5)
    assert (run_dir / "run.log").read_text().count("verifier error") == 3  # the log file of the run


def test_an_error_is_not_reused_for_a_duplicate_in_the_same_run(minif2f_run, kimina_server):
    """A Lean server that fails its first request (HTTP 500), then works: the duplicate of the
    attempt that got the error is checked on its own (inline verification: a fixed order)."""
    url, seen = kimina_server
    test_minif2f.FAIL_NEXT[0] = 1
    config = RunConfig(**{**minif2f_run, "samples": 2, "task_args": {"lean_server": url, "workers": 0}})
    run_dir = Runner(config).run()
    assert statuses(run_dir) == ["error", "correct"] and len(seen) == 2
    store = Store(run_dir, create=False)
    (_, _, err), _ = store.verdicts()
    assert "500" in err.detail["error"]
    store.close()


def test_verdict_settings_start_a_new_run_and_cosmetic_ones_do_not(minif2f_run, tmp_path, kimina_server):
    url, _ = kimina_server
    base = ["bench", "minif2f", "--data", minif2f_run["data"], "--limit", "1", "--samples", "4", "--backend", "replay",
            "--replay-from", minif2f_run["replay_from"], "--runs-dir", minif2f_run["runs_dir"], "--no-report"]
    runs = tmp_path / "runs"
    cli(*base, check=True)
    (first,) = runs.iterdir()
    # checker location and worker count: the same run (resumed, nothing new to do)
    cli(*base, "--task-arg", f"lean_server={url}", "--task-arg", "workers=3", check=True)
    assert [p.name for p in runs.iterdir()] == [first.name]
    assert statuses(first) == ["correct", "correct", "lean_error", "forbidden"]  # the errors were re-verified
    # the time limit per proof can change a verdict: another run directory
    cli(*base, "--task-arg", "timeout_s=5", "--task-arg", f"lean_server={url}", check=True)
    assert len(list(runs.iterdir())) == 2
    stored = [json.loads(sqlite3.connect(p / "run.db").execute("SELECT value FROM meta WHERE key='config'").fetchone()[0])
              for p in runs.iterdir()]
    assert sorted(str(c.get("task_args")) for c in stored) == ["None", "{'timeout_s': 5}"]
    # a setting the task does not have, and the old environment variable: one-line errors
    proc = cli(*base, "--task-arg", "timeout=5")
    assert proc.returncode == 2 and "task minif2f has no setting timeout" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_swebench_mirror_is_cosmetic_and_base_image_is_not():
    plain = build_config("swebench", None)
    mirror = build_config("swebench", None, extra_task_args={"repo_mirror": "/srv/mirrors", "base_image": None})
    image = build_config("swebench", None, extra_task_args={"base_image": "python:3.11-slim"})
    timeout = build_config("swebench", None, task_arg=("timeout_s=60",))
    assert plain.run_dir() == mirror.run_dir()
    assert len({plain.run_dir(), image.run_dir(), timeout.run_dir()}) == 3
    assert mirror.task_args == {"repo_mirror": "/srv/mirrors"}


def test_lean_timeout_environment_variable_is_refused(monkeypatch):
    monkeypatch.setenv("MONKEYS_SWE_LEAN_TIMEOUT", "60")
    with pytest.raises(UserError, match="MONKEYS_SWE_LEAN_TIMEOUT is not read any more.*--task-arg timeout_s"):
        MiniF2FTask()


def test_a_store_from_a_newer_version_is_refused(tmp_path):
    store = Store(tmp_path / "run")
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    store.db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    store.close()
    with pytest.raises(UserError, match=r"written by a newer monkeys-swe \(schema 3, this one reads up to 2\)"):
        Store(tmp_path / "run")
    proc = cli("report", str(tmp_path / "run"))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "upgrade" in proc.stderr


def test_debug_shows_the_traceback_and_the_default_is_one_line(tmp_path):
    quiet = cli("report", str(tmp_path / "nowhere"))
    assert quiet.returncode == 2 and quiet.stderr.count("\n") == 1 and "no run at" in quiet.stderr
    loud = cli("--debug", "report", str(tmp_path / "nowhere"))
    assert loud.returncode == 2 and "Traceback (most recent call last)" in loud.stderr
    assert loud.stderr.strip().splitlines()[-1] == quiet.stderr.strip()


def test_a_run_refuses_to_resume_under_other_task_settings(minif2f_run, kimina_server):
    """The safety net under task_args: a task's settings() (e.g. read from its environment) are
    stored with the run; a resume under different ones is refused in one line."""
    url, _ = kimina_server

    class Strict(MiniF2FTask):
        limit = 1.0

        def settings(self):
            return {"limit": self.limit}

    config = RunConfig(**minif2f_run)
    Runner(config, task=Strict(lean_server=url)).run()
    Strict.limit = 2.0
    with pytest.raises(UserError, match=r"verified with other minif2f settings \(limit: 1.0 then, 2.0 now\)"):
        Runner(config, task=Strict(lean_server=url)).run()


def test_task_settings_from_the_environment_are_part_of_the_identity():
    """A verdict setting whose default comes from the environment (the program time slack) names
    another run; an infrastructure one (how many runner containers) does not."""
    import os
    import subprocess
    import sys

    def run_id(**env):
        code = "from monkeys_swe.config import RunConfig; print(RunConfig(task='codecontests').run_id())"
        clean = {k: v for k, v in os.environ.items() if not k.startswith("MONKEYS_SWE_")}
        return subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True,
                              check=True).stdout.strip()

    plain = run_id()
    assert run_id(MONKEYS_SWE_PROGRAM_WORKERS="1") == plain
    assert run_id(MONKEYS_SWE_PROGRAM_TIME_SLACK="3") != plain
