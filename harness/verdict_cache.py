"""Verdicts remembered across runs: never verify the same candidate twice.

    cache = VerdictCache()                      # ~/.cache/monkeys-swe/verdicts.db ($MONKEYS_SWE_CACHE)
    Verifier(inst, verdict_cache=cache)         # or a path; verify() answers hits without Docker

A row is keyed by everything that decides a verdict (`verdict_key`): the instance (id, base
commit, test_patch, FAIL_TO_PASS / PASS_TO_PASS, log parser, eval script), the image id
(the content digest of the environment the tests run in), the test command and the
fail-fast selection, the grading mode, the limits, the harness version (a digest of the
harness's own source and the swebench version that grades) and the candidate's meaning-level
key (harness.normalize). Change any of them and the verdict is computed again.

Only judgements are kept: `error` (the verifier failed), `timeout` (the machine may have
been loaded) and `malformed` (decided without Docker anyway) are never stored. Rows are
SQLite (WAL, one writer at a time across processes); a hit is a copy of the stored verdict
with `cached=True`. The decisive log is copied beside the database, so a hit's `log_path`
still opens after the run that made it is gone.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import shutil
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

NOT_CACHED = ("error", "timeout", "malformed")
MAX_LOG_BYTES = 16 << 20  # logs above this are not copied (the row keeps the original path)


def default_path() -> Path:
    from harness import repos

    return repos.CACHE / "verdicts.db"


@functools.lru_cache(maxsize=1)
def harness_version() -> str:
    """A digest of harness/*.py (recursively) and the installed swebench version: any change
    to the code that applies, runs or grades a candidate retires every cached verdict."""
    from importlib import metadata

    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    try:
        h.update(("swebench " + metadata.version("swebench")).encode())
    except metadata.PackageNotFoundError:
        h.update(b"no swebench")
    return h.hexdigest()[:16]


def _sha(text: str | None) -> str:
    return hashlib.sha256((text or "").encode("utf-8", "surrogateescape")).hexdigest()


def verdict_fields(*, instance, spec, image_id: str, grading: str, fail_fast_cmd: str | None, limits,
                   candidate: str) -> dict[str, Any]:
    """What decides a verdict, as a JSON-able dict (stored with the row, for inspection)."""
    return {
        "instance_id": instance.instance_id, "base_commit": instance.base_commit, "image_id": image_id,
        "test_cmd": spec.test_cmd, "fail_fast_cmd": fail_fast_cmd if grading == "fail-fast" else None,
        "grading": grading, "harness": harness_version(), "candidate": candidate,
        "test_patch": _sha(instance.test_patch), "FAIL_TO_PASS": list(instance.FAIL_TO_PASS),
        "PASS_TO_PASS": list(instance.PASS_TO_PASS), "log_parser": spec.log_parser,
        "eval_script": _sha(instance.eval_script), "by_exit_code": bool(instance.grade_by_exit_code),
        "limits": dataclasses.asdict(limits) if dataclasses.is_dataclass(limits) else repr(limits),
        **({"blackhole": list(spec.blackhole)} if spec.blackhole else {}),
    }


def verdict_key(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


class VerdictCache:
    """A persistent verdict table (thread-safe; several processes may share the file)."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path).expanduser() if path is not None else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.logs = self.path.with_name(self.path.stem + "-logs")
        self._lock = threading.Lock()
        self.hits = self.misses = self.stored = 0
        try:
            self._db = sqlite3.connect(self.path, timeout=60, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, instance_id TEXT, "
                             "status TEXT, verdict TEXT NOT NULL, fields TEXT NOT NULL, created REAL)")
        except sqlite3.Error as exc:
            raise ValueError(f"verdict cache {self.path}: {exc} (pass another path, or --no-cache)") from None

    def get(self, key: str) -> dict | None:
        with self._lock:
            row = self._db.execute("SELECT verdict FROM verdicts WHERE key = ?", (key,)).fetchone()
            if row is None:
                self.misses += 1
                return None
            self.hits += 1
        return json.loads(row[0])

    def put(self, key: str, fields: dict[str, Any], verdict: dict) -> bool:
        """Remember a judgement (False, and nothing stored, for statuses in NOT_CACHED)."""
        if verdict.get("status") in NOT_CACHED:
            return False
        verdict = dict(verdict, cached=False, duplicate_of=None)
        log = verdict.get("log_path")
        if log and os.path.isfile(log) and os.path.getsize(log) <= MAX_LOG_BYTES:
            self.logs.mkdir(parents=True, exist_ok=True)
            kept = self.logs / f"{key[:32]}.log"
            shutil.copyfile(log, kept)
            verdict["log_path"] = str(kept)
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?, ?)",
                             (key, fields.get("instance_id"), verdict["status"], json.dumps(verdict),
                              json.dumps(fields, sort_keys=True, default=str), time.time()))
            self.stored += 1
        return True

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def open_cache(cache: "VerdictCache | str | os.PathLike | bool | None") -> VerdictCache | None:
    """None/False: no cache; True: the default file; a path or a VerdictCache: that one."""
    if cache is None or cache is False:
        return None
    if isinstance(cache, VerdictCache):
        return cache
    return VerdictCache(None if cache is True else cache)
