"""Interrupting real runs as a user does (Ctrl-C, SIGTERM, kill -9) and checking what is left.

Shared by tests/test_interrupts.py and benchmarks/interrupts.py. Every process started here gets
this module's session token (MONKEYS_SWE_SESSION), so its containers are found by label.
"""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import docker

LABEL = "monkeys-swe"
RESUME_LINE = "interrupted: everything finished so far is saved; rerun the same command to resume"
CLI = [sys.executable, "-m", "monkeys_swe"]


@dataclass
class Launched:
    proc: subprocess.Popen
    out: Path
    err: Path
    started: float = field(default_factory=time.time)

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")


def launch(args: list[str], cwd: Path, name: str) -> Launched:
    out, err = cwd / f"{name}.out", cwd / f"{name}.err"
    proc = subprocess.Popen([*CLI, *args], cwd=cwd, stdout=open(out, "w"), stderr=open(err, "w"),
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return Launched(proc, out, err)


def wait_for(cond: Callable[[], bool], timeout: float, proc: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.2)
    return False


def attempts(db: Path) -> dict[tuple[str, int], str]:
    if not db.exists():
        return {}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return {(p, i): t for p, i, t in con.execute("SELECT problem_id, idx, text FROM attempts")}
    except sqlite3.OperationalError:  # tables not there yet
        return {}
    finally:
        con.close()


def interrupt(run: Launched, signum: int, *, twice: bool = False, timeout: float = 120) -> tuple[int, float]:
    """Send `signum` (and again 0.3 s later with `twice`); (exit status, seconds to exit)."""
    t0 = time.monotonic()
    run.proc.send_signal(signum)
    if twice:
        time.sleep(0.3)
        if run.proc.poll() is None:
            run.proc.send_signal(signum)
    try:
        rc = run.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        run.proc.kill()
        rc = run.proc.wait()
    return rc, time.monotonic() - t0


def our_containers(pid: int | None = None) -> list[dict]:
    """Containers of this session (or of one process) that still exist."""
    session = os.environ.get("MONKEYS_SWE_SESSION", "")
    filters = {"label": f"{LABEL}.owner-pid={pid}"} if pid else {"label": f"{LABEL}.session={session}"}
    return docker.from_env().api.containers(all=True, filters=filters)


def noted_steps(pid: int) -> set[str]:
    """The build step containers process `pid` runs now, as the harness notes them (harness.lifecycle)."""
    from harness.lifecycle import HOST, STEPS_DIR

    out = set()
    for path in STEPS_DIR.glob(f"{pid}.*@{HOST}") if STEPS_DIR.is_dir() else []:
        try:
            out.add(path.read_text().strip())
        except OSError:
            pass
    return {cid for cid in out if cid}


def existing(container_ids: set[str]) -> list[str]:
    """Those of `container_ids` that still exist (running or not)."""
    client = docker.from_env()
    return [cid for cid in container_ids if client.api.containers(all=True, filters={"id": cid})]


def crashed(rc: int) -> bool:
    """A crash: killed by a signal we did not send (SIGSEGV, SIGABRT) or its shell form (139, 134)."""
    return rc in (-signal.SIGSEGV, -signal.SIGABRT, 139, 134) or (rc < 0 and rc != -signal.SIGKILL)
