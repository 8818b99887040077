"""`monkeys-swe runs`: real runs (replayed samples) in every state, read without being changed."""
from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys

from tests.conftest import cli
from tests.test_choose import write_replay


def test_runs_lists_task_model_counts_and_state(tmp_path, data_dir):
    write_replay(tmp_path / "s.json", data_dir, 4)
    runs = tmp_path / "runs"
    common = ["bench", "gsm8k", "--data", str(data_dir / "gsm8k/test.jsonl"), "--backend", "replay",
              "--replay-from", str(tmp_path / "s.json"), "--no-report", "--runs-dir", str(runs)]
    for n in ("1", "2"):
        cli(*common, "--samples", n, "--limit", "3", check=True)
    cli(*common, "--samples", "2", "--limit", "2", check=True)
    by_n = {}
    for d in runs.iterdir():
        by_n[json.loads(sqlite3.connect(d / "run.db").execute("SELECT value FROM meta WHERE key='config'").fetchone()[0])
             .get("limit"), d.name.split("-")[2]] = d
    done, interrupted, running = by_n[3, "n1"], by_n[3, "n2"], by_n[2, "n2"]
    con = sqlite3.connect(interrupted / "run.db")  # a run killed before its last attempt was judged
    con.execute("DELETE FROM verdicts WHERE idx = 1 AND problem_id = 'gsm8k-0'")
    con.commit()
    con.close()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (running / "run.lock").write_text(json.dumps({"pid": sleeper.pid, "host": socket.gethostname()}))
        (done / "run.lock").write_text(f"{2 ** 22 + 12345} {socket.gethostname()}\n")  # a stale lock: no such pid
        (runs / "never-written").mkdir()
        (runs / "never-written" / "run.db").write_bytes(b"")
        (runs / "garbage").mkdir()
        (runs / "garbage" / "run.db").write_bytes(b"not a database at all" * 100)
        before = {p: p.stat().st_mtime_ns for p in runs.glob("*/run.db")}
        proc = cli("runs", "--runs-dir", str(runs), "--json", check=True)
        rows = {r["run"]: r for r in map(json.loads, proc.stdout.splitlines())}
        table = cli("runs", "--runs-dir", str(runs), check=True).stdout
    finally:
        sleeper.kill()
        sleeper.wait()
    assert {p: p.stat().st_mtime_ns for p in runs.glob("*/run.db")} == before  # nothing written
    assert rows["garbage"]["state"] == "unreadable" and rows["never-written"]["state"] == "empty"
    states = {name: rows[name.name]["state"] for name in (done, interrupted, running)}
    assert states == {done: "done", interrupted: "interrupted", running: "running"}
    assert rows[running.name]["note"] == f"pid {sleeper.pid}"
    r = rows[interrupted.name]
    assert (r["task"], r["model"], r["samples"], r["problems"], r["attempts"], r["target"], r["judged"]) == \
        ("gsm8k", "replay:s.json", 2, 3, 6, 6, 5)
    assert r["solved"] == 3 and r["coverage"] == 1.0 and r["errors"] == 0
    for word in ("task", "coverage", "errors", "state", "3/3 (100%)", "interrupted", "running", "unreadable"):
        assert word in table
    missing = cli("runs", "--runs-dir", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and missing.stderr.strip() == f"error: --runs-dir {tmp_path / 'nowhere'}: no such directory"
