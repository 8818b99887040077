"""Sharing samples between runs that draw the same ones.

Two runs whose identities differ only in `samples` draw the same attempts: attempt i of a
problem is seeded by (run seed, problem id, i), and every other setting (task, data, chosen
problems, model, backend, temperature, top_p, max_tokens, the task's verdict settings) is equal.
So a sweep's n=4 cell is the first 4 attempts of its n=16 sibling, and whichever runs second
copies them (with their verdicts) instead of drawing them again; it then draws only the rest.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Sequence

from monkeys_swe.config import RunConfig
from monkeys_swe.store import DB_NAME, Store


def generation_key(config: RunConfig) -> str:
    """What decides which attempts a run draws, and how they are judged: its identity less `samples`."""
    return json.dumps({k: v for k, v in config.identity().items() if k != "samples"}, sort_keys=True)


def _held(db: Path, below: int) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute("SELECT COUNT(*) FROM attempts WHERE idx < ?", (below,)).fetchone()[0]
    except sqlite3.DatabaseError:  # not a run store (yet): nothing to share
        return 0
    finally:
        con.close()


def _tables(db: sqlite3.Connection, schema: str) -> set[str]:
    return {r[0] for r in db.execute(f"SELECT name FROM {schema}.sqlite_master WHERE type='table'")}


def share_samples(config: RunConfig, others: Sequence[RunConfig]) -> str | None:
    """Copy into `config`'s run what the sibling holding most of its slots has; None if none helps.

    Attempts are copied for the slots `config` lacks; a verdict only where the attempt's text is the
    one it judged. Returns e.g. "8 attempts from gsm8k-x-n16-abcd1234"."""
    key = generation_key(config)
    candidates = [(o, o.run_dir() / DB_NAME) for o in others
                  if o.run_dir() != config.run_dir() and (o.run_dir() / DB_NAME).exists()]
    held = [(_held(db, config.samples), o, db) for o, db in candidates if generation_key(o) == key]
    held = [h for h in held if h[0] > 0]
    if not held:
        return None
    _, source, src_db = max(held, key=lambda h: h[0])
    store = Store(config.run_dir())
    try:
        stored = store.get_meta("config")
        if stored is not None and {k: v for k, v in stored.items() if k != "model_name"} != config.identity():
            return None  # another run lives there: the runner refuses it with its own message
        copied = _copy(store, src_db, config)
    finally:
        store.close()
    return f"{copied} attempts from {source.run_dir().name}" if copied else None


def _copy(store: Store, src_db: Path, config: RunConfig) -> int:
    db, n = store.db, config.samples
    db.execute("ATTACH DATABASE ? AS src", (str(src_db),))
    try:
        src_meta: dict[str, Any] = {k: json.loads(v) for k, v in db.execute("SELECT key, value FROM src.meta")}
        src_tables = _tables(db, "src")
        with db:
            db.execute("BEGIN")
            if store.get_meta("config") is None:
                model_name = (src_meta.get("config") or {}).get("model_name")
                store.set_meta("config", {**config.identity(), "model_name": model_name})
            if store.get_meta("task_settings") is None and "task_settings" in src_meta:
                store.set_meta("task_settings", src_meta["task_settings"])
            if db.execute("SELECT COUNT(*) FROM main.problems").fetchone()[0] == 0:
                db.execute("INSERT INTO main.problems SELECT * FROM src.problems")
            before = db.execute("SELECT COUNT(*) FROM main.attempts").fetchone()[0]
            db.execute("INSERT OR IGNORE INTO main.attempts SELECT * FROM src.attempts WHERE idx < ?", (n,))
            copied = db.execute("SELECT COUNT(*) FROM main.attempts").fetchone()[0] - before
            same_text = ("JOIN src.attempts sa ON sa.problem_id = s.problem_id AND sa.idx = s.idx "
                         "JOIN main.attempts a ON a.problem_id = s.problem_id AND a.idx = s.idx AND a.text = sa.text")
            db.execute(f"INSERT OR IGNORE INTO main.verdicts SELECT s.* FROM src.verdicts s {same_text} WHERE s.idx < ?", (n,))
            db.execute(f"INSERT OR IGNORE INTO main.scores SELECT s.* FROM src.scores s {same_text} WHERE s.idx < ?", (n,))
            db.execute("DELETE FROM main.failures WHERE EXISTS (SELECT 1 FROM main.attempts a "
                       "WHERE a.problem_id = failures.problem_id AND a.idx = failures.idx)")
            if {"trajectories", "steps"} <= src_tables:  # agent runs: the steps behind each copied attempt
                from monkeys_swe.trajectories import SCHEMA as TRAJECTORY_SCHEMA

                for statement in filter(str.strip, TRAJECTORY_SCHEMA.split(";")):
                    db.execute(statement)
                for table in ("trajectories", "steps"):
                    db.execute(f"INSERT OR IGNORE INTO main.{table} SELECT s.* FROM src.{table} s {same_text} "
                               "WHERE s.idx < ?", (n,))
        return copied
    finally:
        db.execute("DETACH DATABASE src")
