"""Where reproduction tests and the candidate x test matrix live: three tables of the run's own
SQLite store (run.db), beside attempts and verdicts, created on first use.

  repro_attempts  one row per sampled test (problem, slot): the completion, its test hash, tokens
  repro_verdicts  one row per distinct test (problem, hash): reproduces / passes_already / broken
                  / error, with the sandbox seconds; identical tests share one row (run once)
  repro_matrix    one row per (problem, candidate patch hash, test hash): pass / fail / error

Patch attempts stay in `attempts`/`verdicts`, so coverage and every existing report ignore the
tests; each row is committed as it happens, so a killed run resumes where it stopped. `error`
rows (the sandbox could not judge) are judged again on the next run and never counted.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from monkeys_swe.store import Store
from monkeys_swe.types import Sample

SCHEMA = """
CREATE TABLE IF NOT EXISTS repro_attempts (
    problem_id TEXT NOT NULL, idx INTEGER NOT NULL, text TEXT NOT NULL, test_hash TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, seed INTEGER,
    latency_s REAL NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (problem_id, idx)
);
CREATE TABLE IF NOT EXISTS repro_verdicts (
    problem_id TEXT NOT NULL, test_hash TEXT NOT NULL, status TEXT NOT NULL, code TEXT,
    detail TEXT NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (problem_id, test_hash)
);
CREATE TABLE IF NOT EXISTS repro_matrix (
    problem_id TEXT NOT NULL, patch_hash TEXT NOT NULL, test_hash TEXT NOT NULL, outcome TEXT NOT NULL,
    detail TEXT NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (problem_id, patch_hash, test_hash)
);
"""


@dataclass
class ReproTest:
    test_hash: str
    status: str
    code: str | None
    detail: dict[str, Any]


class ReproStore:
    """The reproduction-test tables of one run's store (shares its connection)."""

    def __init__(self, store: Store):
        self.store, self.db = store, store.db
        self.db.executescript(SCHEMA)

    @classmethod
    def exists(cls, store: Store) -> bool:
        return store.db.execute("SELECT 1 FROM sqlite_master WHERE name='repro_verdicts'").fetchone() is not None

    # -- sampled tests -------------------------------------------------------------------
    def add_attempt(self, problem_id: str, s: Sample, test_hash: str) -> bool:
        cur = self.db.execute("INSERT OR IGNORE INTO repro_attempts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                              (problem_id, s.index, s.text, test_hash, s.prompt_tokens, s.completion_tokens,
                               s.seed, s.latency_s, time.time()))
        return cur.rowcount == 1

    def filled(self, problem_id: str) -> set[int]:
        return {r[0] for r in self.db.execute("SELECT idx FROM repro_attempts WHERE problem_id=?", (problem_id,))}

    def attempts(self, problem_id: str) -> list[tuple[int, str, str]]:
        """(slot, completion, test hash) in slot order."""
        return list(self.db.execute("SELECT idx, text, test_hash FROM repro_attempts WHERE problem_id=? ORDER BY idx",
                                    (problem_id,)))

    # -- one verdict per distinct test ---------------------------------------------------
    def set_verdict(self, problem_id: str, t: ReproTest) -> None:
        self.db.execute("INSERT OR REPLACE INTO repro_verdicts VALUES (?, ?, ?, ?, ?, ?)",
                        (problem_id, t.test_hash, t.status, t.code, json.dumps(t.detail, default=str), time.time()))

    def verdicts(self, problem_id: str) -> dict[str, ReproTest]:
        rows = self.db.execute("SELECT test_hash, status, code, detail FROM repro_verdicts WHERE problem_id=?",
                               (problem_id,))
        return {h: ReproTest(h, s, c, json.loads(d)) for h, s, c, d in rows}

    def reproducing(self, problem_id: str) -> dict[str, str]:
        """test hash -> code of the tests that reproduce the issue, in the order first sampled."""
        verdicts = self.verdicts(problem_id)
        out: dict[str, str] = {}
        for _, _, h in self.attempts(problem_id):
            t = verdicts.get(h)
            if t is not None and t.status == "reproduces" and h not in out:
                out[h] = t.code or ""
        return out

    # -- the matrix ----------------------------------------------------------------------
    def set_cells(self, problem_id: str, patch_hash: str, cells: dict[str, tuple[str, dict]]) -> None:
        """Every cell of one candidate's run, in one transaction."""
        now = time.time()
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR REPLACE INTO repro_matrix VALUES (?, ?, ?, ?, ?, ?)",
                                [(problem_id, patch_hash, th, outcome, json.dumps(d, default=str), now)
                                 for th, (outcome, d) in cells.items()])

    def cells(self, problem_id: str) -> dict[tuple[str, str], str]:
        """(patch hash, test hash) -> pass / fail / error."""
        rows = self.db.execute("SELECT patch_hash, test_hash, outcome FROM repro_matrix WHERE problem_id=?", (problem_id,))
        return {(p, t): o for p, t, o in rows}

    def cell_details(self, problem_id: str) -> list[tuple[str, str, str, dict]]:
        rows = self.db.execute("SELECT patch_hash, test_hash, outcome, detail FROM repro_matrix WHERE problem_id=? "
                               "ORDER BY created_at", (problem_id,))
        return [(p, t, o, json.loads(d)) for p, t, o, d in rows]

    def passed_counts(self, problem_id: str, tests: list[str] | None = None) -> dict[str, int]:
        """patch hash -> reproducing tests it passes (only the given tests, default all stored)."""
        keep = None if tests is None else set(tests)
        out: dict[str, int] = {}
        for (p, t), o in self.cells(problem_id).items():
            if keep is not None and t not in keep:
                continue
            out.setdefault(p, 0)
            out[p] += o == "pass"
        return out

    # -- cost ----------------------------------------------------------------------------
    def cost(self, problem_id: str | None = None) -> dict[str, Any]:
        """Tokens of test generation; sandbox seconds of classifying tests and of the matrix."""
        where, args = ("WHERE problem_id=?", (problem_id,)) if problem_id else ("", ())
        n, pt, ct = self.db.execute(f"SELECT COUNT(*), COALESCE(SUM(prompt_tokens),0), COALESCE(SUM(completion_tokens),0) "
                                    f"FROM repro_attempts {where}", args).fetchone()
        classify_s = sum(json.loads(d).get("duration_s") or 0 for (d,) in
                         self.db.execute(f"SELECT detail FROM repro_verdicts {where}", args))
        runs: dict[tuple, float] = {}  # (problem, candidate, run): one sandbox run covers several cells
        for p, pid, d in self.db.execute(f"SELECT patch_hash, problem_id, detail FROM repro_matrix {where}", args):
            det = json.loads(d)
            runs[(pid, p, det.get("run"))] = det.get("duration_s") or 0
        statuses = dict(self.db.execute(f"SELECT status, COUNT(*) FROM repro_verdicts {where} GROUP BY status", args).fetchall())
        return {"test_attempts": n, "test_prompt_tokens": pt, "test_completion_tokens": ct,
                "test_classify_sandbox_s": round(classify_s, 2), "matrix_runs": len(runs),
                "matrix_sandbox_s": round(sum(runs.values()), 2), "test_statuses": statuses}
