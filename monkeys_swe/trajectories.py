"""Agent trajectories on disk: one row per step, written as each step ends.

The tables live in the run's own SQLite file (`run.db`, next to attempts and verdicts) but are
created and written by this module through its own connection, so trajectory threads never
share the run loop's connection. A killed run loses at most the step in flight; a trajectory
whose `exit_status` is still NULL was cut short and can be resumed (its commands re-executed in
a fresh sandbox, its replies reused) or shown as far as it got.
"""
from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from monkeys_swe.types import Messages

SCHEMA = """
CREATE TABLE IF NOT EXISTS trajectories (
    problem_id TEXT NOT NULL, idx INTEGER NOT NULL, seed INTEGER, head TEXT NOT NULL,
    exit_status TEXT, diff TEXT, detail TEXT, started_at REAL NOT NULL, finished_at REAL,
    PRIMARY KEY (problem_id, idx)
);
CREATE TABLE IF NOT EXISTS steps (
    problem_id TEXT NOT NULL, idx INTEGER NOT NULL, step INTEGER NOT NULL, kind TEXT NOT NULL,
    reply TEXT NOT NULL, thought TEXT, command TEXT, output TEXT, exit_code INTEGER,
    timed_out INTEGER NOT NULL, observation TEXT, model_s REAL NOT NULL, exec_s REAL NOT NULL,
    prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, seed INTEGER,
    created_at REAL NOT NULL,
    PRIMARY KEY (problem_id, idx, step)
);
"""
STORED_OUTPUT_CHARS = 100_000  # per step, on disk (the model sees AgentLimits.output_chars)


@dataclass
class Step:
    """One model reply and what came of it."""

    step: int
    kind: str  # "command", "submit" or "format_error"
    reply: str  # the model's whole message
    thought: str = ""
    command: str | None = None
    output: str | None = None
    exit_code: int | None = None
    timed_out: bool = False
    observation: str | None = None  # the user message sent back (None after a submit)
    model_s: float = 0.0
    exec_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seed: int | None = None


@dataclass
class Trajectory:
    problem_id: str
    index: int
    seed: int | None
    head: Messages  # the system and issue messages
    steps: list[Step] = field(default_factory=list)
    exit_status: str | None = None  # None: in flight, or cut short by a crash
    diff: str | None = None
    detail: dict = field(default_factory=dict)
    started_at: float = 0.0
    finished_at: float | None = None

    def messages(self) -> Messages:
        """The plain message list the model saw (plus its last reply)."""
        out = [dict(m) for m in self.head]
        for s in self.steps:
            out.append({"role": "assistant", "content": s.reply})
            if s.observation is not None:
                out.append({"role": "user", "content": s.observation})
        return out


_STEP_COLUMNS = [f.name for f in dataclasses.fields(Step)]


class TrajectoryStore:
    def __init__(self, run_dir: str | Path):
        path = Path(run_dir)
        path.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path / "run.db", timeout=30, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across a process crash
        self.db.executescript(SCHEMA)
        self._lock = threading.Lock()  # one connection, many trajectory threads

    def close(self) -> None:
        self.db.close()

    def start(self, problem_id: str, index: int, seed: int | None, head: Messages) -> None:
        """Record a trajectory's beginning (kept as is when a cut-short one is resumed)."""
        with self._lock:
            self.db.execute("INSERT OR IGNORE INTO trajectories (problem_id, idx, seed, head, started_at) "
                            "VALUES (?, ?, ?, ?, ?)", (problem_id, index, seed, json.dumps(head), time.time()))

    def add_step(self, problem_id: str, index: int, step: Step) -> None:
        row = dataclasses.asdict(step)
        if row["output"] is not None and len(row["output"]) > STORED_OUTPUT_CHARS:
            row["output"] = row["output"][:STORED_OUTPUT_CHARS] + "\n[... cut for storage ...]"
        cols = ", ".join(["problem_id", "idx", *_STEP_COLUMNS, "created_at"])
        marks = ", ".join("?" * (len(_STEP_COLUMNS) + 3))
        with self._lock:
            self.db.execute(f"INSERT OR REPLACE INTO steps ({cols}) VALUES ({marks})",
                            (problem_id, index, *(row[c] for c in _STEP_COLUMNS), time.time()))

    def finish(self, problem_id: str, index: int, exit_status: str, diff: str, detail: dict) -> None:
        with self._lock:
            self.db.execute("UPDATE trajectories SET exit_status=?, diff=?, detail=?, finished_at=? "
                            "WHERE problem_id=? AND idx=?",
                            (exit_status, diff, json.dumps(detail, default=str), time.time(), problem_id, index))

    def load(self, problem_id: str, index: int) -> Trajectory | None:
        with self._lock:
            row = self.db.execute("SELECT seed, head, exit_status, diff, detail, started_at, finished_at "
                                  "FROM trajectories WHERE problem_id=? AND idx=?", (problem_id, index)).fetchone()
            if row is None:
                return None
            rows = self.db.execute(f"SELECT {', '.join(_STEP_COLUMNS)} FROM steps WHERE problem_id=? AND idx=? "
                                   "ORDER BY step", (problem_id, index)).fetchall()
        steps = [Step(**dict(zip(_STEP_COLUMNS, r))) for r in rows]
        for s in steps:
            s.timed_out = bool(s.timed_out)
        return Trajectory(problem_id, index, row[0], json.loads(row[1]), steps, row[2], row[3],
                          json.loads(row[4]) if row[4] else {}, row[5], row[6])

    def keys(self) -> list[tuple[str, int]]:
        with self._lock:
            return [(p, i) for p, i in self.db.execute("SELECT problem_id, idx FROM trajectories ORDER BY problem_id, idx")]

    def replies(self) -> dict[str, dict[int, list[str]]]:
        """Every stored trajectory's model replies in order: what the replay backend re-issues."""
        out: dict[str, dict[int, list[str]]] = {}
        with self._lock:
            for pid, idx, reply in self.db.execute("SELECT problem_id, idx, reply FROM steps ORDER BY problem_id, idx, step"):
                out.setdefault(pid, {}).setdefault(idx, []).append(reply)
        return out


def has_trajectories(run_dir: str | Path) -> bool:
    """Does this run's database hold agent trajectories? (Read-only check: creates nothing.)"""
    db = Path(run_dir) / "run.db"
    if not db.exists():
        return False
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT 1 FROM sqlite_master WHERE name='trajectories'").fetchone() is not None
    finally:
        con.close()
