"""What `monkeys-swe runs` lists: every run under a directory, read without writing anything.

State: `running` while a live process holds the run's writer lock (`run.lock` in the run directory:
JSON with the holder's pid and host, emptied when it is released; a writer killed with -9 leaves its
dead pid, which counts as no holder), `done` when every slot has an attempt with a real verdict,
`interrupted` when some are missing or could not be judged (rerun the command to resume), `empty`
when no problem was ever stored (a start that failed), `unreadable` when run.db is not a run store.
"""
from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from monkeys_swe.store import DB_NAME
from monkeys_swe.types import ERROR


@dataclass
class RunRow:
    run: str
    path: str
    task: str = "?"
    model: str = "?"
    samples: int = 0
    problems: int = 0
    attempts: int = 0
    target: int = 0
    judged: int = 0
    solved: int = 0
    errors: int = 0  # verdicts the verifier could not reach
    failed_slots: int = 0  # slots the sampler could not fill
    state: str = "?"
    updated: float = 0.0
    note: str = ""

    @property
    def coverage(self) -> float | None:
        return self.solved / self.problems if self.problems else None

    def as_dict(self) -> dict:
        return {**asdict(self), "coverage": self.coverage}


LOCK_NAMES = ("run.lock", "lock")


def lock_holder(run_dir: Path) -> tuple[int, str] | None:
    """(pid, host) written in the run's lock file: JSON {"pid": .., "host": ..}, or text naming them."""
    text = ""
    for name in LOCK_NAMES:
        try:
            text = (run_dir / name).read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            continue
        if text:
            break
    if not text:
        return None
    try:
        data = json.loads(text)
        if isinstance(data, dict) and "pid" in data:
            return int(data["pid"]), str(data.get("host") or data.get("hostname") or "")
    except (ValueError, TypeError):
        pass
    pid = re.search(r"pid\W*(\d+)", text) or re.search(r"\b(\d+)\b", text)
    host = re.search(r"host(?:name)?\W+([\w.-]+)", text)
    if host is None:  # "PID HOST" or "PID@HOST"
        host = re.search(r"^\s*\d+\s*[@\s]\s*([A-Za-z][\w.-]*)", text)
    return (int(pid.group(1)), host.group(1) if host else "") if pid else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    except OSError:
        return False
    return True


def running_note(run_dir: Path) -> str | None:
    """'pid N on HOST' when a live process holds the run; None when no one (or a dead one) does."""
    holder = lock_holder(run_dir)
    if holder is None:
        return None
    pid, host = holder
    here = socket.gethostname()
    if host and host != here:
        return f"pid {pid} on {host}"  # cannot check another machine's processes: trust the lock
    return f"pid {pid}" if pid_alive(pid) else None


def read_run(run_dir: Path) -> RunRow:
    row = RunRow(run=run_dir.name, path=str(run_dir))
    db = run_dir / DB_NAME
    try:
        row.updated = db.stat().st_mtime
        wal = db.with_name(DB_NAME + "-wal")
        if wal.exists():
            row.updated = max(row.updated, wal.stat().st_mtime)
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            _fill(row, con)
        finally:
            con.close()
    except (sqlite3.DatabaseError, OSError, ValueError) as exc:
        row.state, row.note = "unreadable", str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        return row
    holder = running_note(run_dir)
    if holder:
        row.state, row.note = "running", holder
    elif row.problems == 0:
        row.state = "empty"
    elif row.attempts >= row.target and row.judged >= row.target:
        row.state = "done"
    else:
        row.state = "interrupted"
    return row


def _fill(row: RunRow, con: sqlite3.Connection) -> None:
    q = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if not tables:
        return  # created, never written: a start that failed at once
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    config = json.loads(meta.get("config", "{}")) or {}
    row.task = str(config.get("task", "?"))
    model = config.get("model_name") or config.get("model") or config.get("backend") or "?"
    row.model = Path(str(model)).name if str(model).endswith(".gguf") else str(model)
    row.samples = int(config.get("samples") or 0)
    row.problems = q("SELECT COUNT(*) FROM problems")
    row.attempts = q("SELECT COUNT(*) FROM attempts")
    row.target = row.problems * row.samples
    row.judged = q(f"SELECT COUNT(*) FROM verdicts WHERE status != '{ERROR}'")
    row.errors = q(f"SELECT COUNT(*) FROM verdicts WHERE status = '{ERROR}'")
    row.solved = q(f"SELECT COUNT(DISTINCT problem_id) FROM verdicts WHERE correct = 1 AND status != '{ERROR}'")
    row.failed_slots = q("SELECT COUNT(*) FROM failures") if "failures" in tables else 0
    last = q("SELECT MAX(t) FROM (SELECT MAX(created_at) t FROM attempts UNION ALL SELECT MAX(created_at) FROM verdicts)")
    if last:  # the last attempt or verdict, else the file's time
        row.updated = last


def list_runs(runs_dir: Path) -> list[RunRow]:
    """Every run directly under `runs_dir` (or `runs_dir` itself, if it is a run; or a sweep's
    `runs_dir/runs`), newest first."""
    dirs = [runs_dir] if (runs_dir / DB_NAME).exists() else sorted(p.parent for p in runs_dir.glob(f"*/{DB_NAME}"))
    if not dirs and (runs_dir / "runs").is_dir():
        return list_runs(runs_dir / "runs")
    rows = [read_run(d) for d in dirs]
    return sorted(rows, key=lambda r: r.updated, reverse=True)


def age(ts: float, now: float | None = None) -> str:
    if not ts:
        return "-"
    s = max(0, (now or time.time()) - ts)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{s / size:.0f}{unit} ago"
    return f"{s:.0f}s ago"
