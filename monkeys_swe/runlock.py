"""One writer per run directory: `run.lock` holds the writer's pid and host under an flock.

The kernel drops an flock when its process dies (even by SIGKILL), so a lock left by a dead
writer is taken over without asking; a live one refuses the second writer in one line. Readers
(`report`, `show`, `export`) take no lock: SQLite's WAL lets them read a run that is being written.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from monkeys_swe.errors import UserError

LOCK_NAME = "run.lock"
_held: dict[Path, list] = {}  # path -> [open file, depth]: a process may nest its own lock (solve -> Runner)
_guard = threading.Lock()


def holder(run_dir: str | Path) -> dict | None:
    """Who writes `run_dir` now ({pid, host, since}), or None when nobody holds its lock."""
    path = Path(run_dir) / LOCK_NAME
    if not path.exists():
        return None
    try:
        with open(path, "r+") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return _read(path)
            fcntl.flock(f, fcntl.LOCK_UN)
            return None
    except OSError:
        return None


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}


@contextmanager
def write_lock(run_dir: str | Path) -> Iterator[None]:
    """Hold `run_dir`'s writer lock for the block; UserError if another live process holds it."""
    path = (Path(run_dir) / LOCK_NAME).resolve()
    with _guard:
        if path in _held:
            _held[path][1] += 1
            nested = True
        else:
            nested = False
    if not nested:
        from monkeys_swe.store import writable_dir

        writable_dir(path.parent, "run directory")
        f = open(path, "a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            who = _read(path)
            raise UserError(f"{Path(run_dir)} is being written by pid {who.get('pid', '?')} on {who.get('host', '?')} "
                            f"(since {who.get('since', '?')}): wait for it to finish or use another --runs-dir; "
                            f"`monkeys-swe report` reads it meanwhile") from None
        f.seek(0)
        f.truncate()
        f.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                            "since": time.strftime("%Y-%m-%d %H:%M:%S")}))
        f.flush()
        with _guard:
            _held[path] = [f, 1]
    try:
        yield
    finally:
        with _guard:
            entry = _held[path]
            entry[1] -= 1
            last = entry[1] == 0
            if last:
                del _held[path]
        if last:
            entry[0].seek(0)
            entry[0].truncate()  # a lock file left behind names nobody
            fcntl.flock(entry[0], fcntl.LOCK_UN)
            entry[0].close()
