"""A run on disk: SQLite in the run directory, written as things happen.

Every attempt is committed when it arrives and every verdict when it is decided, so a
killed run loses at most what was in flight, and a rerun continues from exactly here.
WAL mode lets `monkeys-swe report` read a run that is still going.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterator

from monkeys_swe.errors import UserError
from monkeys_swe.types import ERROR, Problem, Sample, Verdict

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS problems (
    id TEXT PRIMARY KEY, position INTEGER NOT NULL, question TEXT NOT NULL,
    answer TEXT, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
    problem_id TEXT NOT NULL, idx INTEGER NOT NULL, text TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
    seed INTEGER, latency_s REAL NOT NULL, finish_reason TEXT, meta TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (problem_id, idx)
);
CREATE TABLE IF NOT EXISTS verdicts (
    problem_id TEXT NOT NULL, idx INTEGER NOT NULL, correct INTEGER NOT NULL,
    status TEXT NOT NULL, answer TEXT, detail TEXT NOT NULL, created_at REAL NOT NULL,
    PRIMARY KEY (problem_id, idx)
);
CREATE TABLE IF NOT EXISTS scores (
    problem_id TEXT NOT NULL, idx INTEGER NOT NULL, scorer TEXT NOT NULL, score REAL NOT NULL,
    PRIMARY KEY (problem_id, idx, scorer)
);
CREATE TABLE IF NOT EXISTS failures (
    problem_id TEXT NOT NULL, idx INTEGER NOT NULL, error TEXT NOT NULL, tries INTEGER NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (problem_id, idx)
);
"""
# PRAGMA user_version of the database. 1: the first tables; 2: `failures` (slots a sampler could
# not fill). A store written by a newer version is refused rather than misread.
SCHEMA_VERSION = 2
_ATTEMPT_COLS = "a.problem_id, a.idx, a.text, a.prompt_tokens, a.completion_tokens, a.seed, a.latency_s, a.finish_reason, a.meta"

DB_NAME = "run.db"


def writable_dir(path: Path, what: str) -> None:
    """Make `path` (and its parents), or say in one line why it cannot be written."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UserError(f"cannot write the {what} {path}: a file of that name is in the way (check --runs-dir)") from None
    except OSError as exc:
        raise UserError(f"cannot write the {what} {path}: {exc.strerror or exc} (check --runs-dir)") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise UserError(f"cannot write the {what} {path}: permission denied (check --runs-dir)")


class Store:
    def __init__(self, run_dir: str | Path, *, create: bool = True):
        self.run_dir = Path(run_dir)
        db = self.run_dir / DB_NAME
        if not create and not db.exists():
            raise UserError(f"no run at {self.run_dir} (expected {db})")
        if create:
            writable_dir(self.run_dir, "run directory")
        try:
            self.db = sqlite3.connect(db, timeout=30, isolation_level=None, check_same_thread=False)
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise UserError(f"{db} is not a run database ({exc}): was it written by something else?") from None
        if version > SCHEMA_VERSION:
            self.db.close()
            raise UserError(f"{db} was written by a newer monkeys-swe (schema {version}, this one reads up to "
                            f"{SCHEMA_VERSION}): upgrade monkeys-swe to read it")
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        if version < SCHEMA_VERSION:
            self.db.executescript(SCHEMA)  # CREATE IF NOT EXISTS: older stores gain the new tables
            self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        self.db.close()

    # -- config and problems -------------------------------------------------------------
    def get_meta(self, key: str) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_meta(self, key: str, value: Any) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def add_problems(self, problems: list[Problem]) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT OR IGNORE INTO problems VALUES (?, ?, ?, ?, ?)",
                [(p.id, i, p.question, p.answer, json.dumps(p.data, default=str)) for i, p in enumerate(problems)],
            )

    def problems(self) -> list[Problem]:
        rows = self.db.execute("SELECT id, question, answer, data FROM problems ORDER BY position").fetchall()
        return [Problem(id=r[0], question=r[1], answer=r[2], data=json.loads(r[3])) for r in rows]

    # -- attempts and verdicts -----------------------------------------------------------
    def add_sample(self, s: Sample) -> bool:
        """Persist one attempt; False if that slot was already filled (a resumed duplicate)."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO attempts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (s.problem_id, s.index, s.text, s.prompt_tokens, s.completion_tokens, s.seed,
             s.latency_s, s.finish_reason, json.dumps(s.meta, default=str), time.time()),
        )
        if cur.rowcount == 1:
            self.db.execute("DELETE FROM failures WHERE problem_id=? AND idx=?", (s.problem_id, s.index))
        return cur.rowcount == 1

    def add_failure(self, problem_id: str, index: int, error: str) -> None:
        """A slot the sampler could not fill this time; a rerun asks for it again (and clears this)."""
        self.db.execute(
            "INSERT INTO failures VALUES (?, ?, ?, 1, ?) ON CONFLICT (problem_id, idx) "
            "DO UPDATE SET error=excluded.error, tries=tries+1, created_at=excluded.created_at",
            (problem_id, index, error, time.time()),
        )

    def failures(self) -> dict[tuple[str, int], str]:
        return {(p, i): e for p, i, e in self.db.execute("SELECT problem_id, idx, error FROM failures ORDER BY problem_id, idx")}

    def add_verdict(self, problem_id: str, index: int, v: Verdict) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?, ?, ?)",
            (problem_id, index, int(v.correct), v.status, v.answer, json.dumps(v.detail, default=str), time.time()),
        )

    def add_score(self, problem_id: str, index: int, scorer: str, score: float) -> None:
        self.db.execute("INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?)", (problem_id, index, scorer, score))

    def filled_indices(self) -> dict[str, set[int]]:
        out: dict[str, set[int]] = {}
        for pid, idx in self.db.execute("SELECT problem_id, idx FROM attempts"):
            out.setdefault(pid, set()).add(idx)
        return out

    def samples(self, problem_id: str | None = None) -> list[Sample]:
        sql = "SELECT problem_id, idx, text, prompt_tokens, completion_tokens, seed, latency_s, finish_reason, meta FROM attempts"
        args: tuple = ()
        if problem_id is not None:
            sql += " WHERE problem_id=?"
            args = (problem_id,)
        rows = self.db.execute(sql + " ORDER BY problem_id, idx", args).fetchall()
        return [Sample(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8])) for r in rows]

    def unverified(self, *, errors: bool = True) -> list[Sample]:
        """Attempts without a verdict (a killed run stored but never judged) and, with `errors`,
        those whose verdict is an error: the verifier could not judge them, so judge them again."""
        also = f" OR v.status = '{ERROR}'" if errors else ""
        rows = self.db.execute(
            f"SELECT {_ATTEMPT_COLS} FROM attempts a LEFT JOIN verdicts v "
            f"ON a.problem_id = v.problem_id AND a.idx = v.idx WHERE v.idx IS NULL{also} ORDER BY a.problem_id, a.idx"
        ).fetchall()
        return [Sample(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], json.loads(r[8])) for r in rows]

    def verdicts(self) -> Iterator[tuple[str, int, Verdict]]:
        for pid, idx, correct, status, answer, detail in self.db.execute(
            "SELECT problem_id, idx, correct, status, answer, detail FROM verdicts ORDER BY problem_id, idx"
        ):
            yield pid, idx, Verdict(bool(correct), status, answer, json.loads(detail))

    def scores(self, scorer: str) -> dict[tuple[str, int], float]:
        rows = self.db.execute("SELECT problem_id, idx, score FROM scores WHERE scorer=?", (scorer,))
        return {(pid, idx): s for pid, idx, s in rows}

    def statuses(self) -> dict[str, int]:
        """Attempts per verdict status (correct, incorrect, no_answer, error, ...), plus `unverified`
        (stored, no verdict yet) and `failed_slots` (not generated), the zeros left out."""
        out = dict(self.db.execute("SELECT status, COUNT(*) FROM verdicts GROUP BY status ORDER BY status").fetchall())
        q = self.db.execute
        out["unverified"] = q("SELECT COUNT(*) FROM attempts a LEFT JOIN verdicts v ON a.problem_id = v.problem_id "
                              "AND a.idx = v.idx WHERE v.idx IS NULL").fetchone()[0]
        out["failed_slots"] = q("SELECT COUNT(*) FROM failures").fetchone()[0]
        return {k: v for k, v in out.items() if v}

    def counts(self) -> dict[str, int]:
        q = self.db.execute
        return {
            "problems": q("SELECT COUNT(*) FROM problems").fetchone()[0],
            "attempts": q("SELECT COUNT(*) FROM attempts").fetchone()[0],
            # judged: a real verdict; errors (the verifier could not judge) are counted apart
            "verified": q(f"SELECT COUNT(*) FROM verdicts WHERE status != '{ERROR}'").fetchone()[0],
            "errors": q(f"SELECT COUNT(*) FROM verdicts WHERE status = '{ERROR}'").fetchone()[0],
            "failed_slots": q("SELECT COUNT(*) FROM failures").fetchone()[0],
            "correct": q(f"SELECT COUNT(*) FROM verdicts WHERE correct=1 AND status != '{ERROR}'").fetchone()[0],
            "prompt_tokens": q("SELECT COALESCE(SUM(prompt_tokens),0) FROM attempts").fetchone()[0],
            "completion_tokens": q("SELECT COALESCE(SUM(completion_tokens),0) FROM attempts").fetchone()[0],
        }
