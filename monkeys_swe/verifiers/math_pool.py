"""Equivalence checks with a hard wall-clock limit, on any thread: a small pool of worker processes.

math-verify's own timeouts use SIGALRM, which only a process's main thread may set; called from
any other thread (a verify pool, a Ray actor's thread, a library user's worker) a pathological
answer such as `9^{9^{9^{9}}}` runs sympy for as long as it likes and holds the GIL. So every
check runs in a worker process (`python -m monkeys_swe.verifiers.math_pool`, one JSON line in,
one out); the caller waits on the pipe with a deadline and, past it, kills the worker (a fresh
one replaces it on the next call) and raises CheckTimeout: the verifier could not judge.

A worker's start (importing sympy and math-verify, about a second) is not part of a check's
limit: the worker says it is ready before it gets the check. Workers exit when their stdin
closes, so they do not outlive the caller's process.
"""
from __future__ import annotations

import atexit
import json
import os
import queue
import select
import subprocess
import sys
import threading
import time

STARTUP_LIMIT_S = 120.0  # importing sympy on a loaded machine


class CheckTimeout(Exception):
    """The check did not finish within its limit (its worker was killed): no verdict."""


class WorkerFailed(Exception):
    """The worker died or could not start: no verdict."""


def default_workers() -> int:
    return max(1, int(os.environ.get("MONKEYS_SWE_MATH_WORKERS") or 2))


class _Worker:
    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.proc = subprocess.Popen([sys.executable, "-m", "monkeys_swe.verifiers.math_pool"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     env=env, start_new_session=True)
        self.buffer = b""
        if self.read_line(time.monotonic() + STARTUP_LIMIT_S) != b"ready":
            self.kill()
            raise WorkerFailed("the math worker did not start")

    def read_line(self, deadline: float) -> bytes | None:
        """One line from the worker, or None at the deadline or if it died."""
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line

    def ask(self, request: dict, limit_s: float) -> dict:
        deadline = time.monotonic() + limit_s
        self.proc.stdin.write(json.dumps(request).encode() + b"\n")
        self.proc.stdin.flush()
        line = self.read_line(deadline)
        if line is None:
            died = self.proc.poll() is not None
            self.kill()
            if died:
                raise WorkerFailed(f"the math worker died (exit status {self.proc.returncode})")
            raise CheckTimeout(f"equivalence check exceeded its {limit_s:g} s limit")
        return json.loads(line)

    def kill(self) -> None:
        try:
            self.proc.kill()
        except OSError:
            pass
        self.proc.wait()


class MathPool:
    """Up to `size` worker processes, shared by all threads; a check waits for a free one."""

    def __init__(self, size: int | None = None):
        self.size = size or default_workers()
        self.idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self.started = 0
        self.lock = threading.Lock()

    def _take(self) -> _Worker:
        try:
            return self.idle.get_nowait()
        except queue.Empty:
            pass
        with self.lock:
            start = self.started < self.size
            if start:
                self.started += 1
        if not start:
            return self.idle.get()
        try:
            return _Worker()
        except BaseException:
            with self.lock:
                self.started -= 1
            raise

    def check(self, reference: str, candidate: str, limit_s: float) -> bool:
        """Whether the two answers are equal; CheckTimeout past `limit_s` seconds of checking."""
        worker = self._take()
        try:
            answer = worker.ask({"reference": reference, "candidate": candidate,
                                 "timeout": max(1, int(limit_s))}, limit_s)
        except BaseException:
            worker.kill()
            with self.lock:
                self.started -= 1
            raise
        self.idle.put(worker)
        return bool(answer["equal"])

    def close(self) -> None:
        while True:
            try:
                worker = self.idle.get_nowait()
            except queue.Empty:
                return
            worker.kill()
            with self.lock:
                self.started -= 1


_shared: MathPool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> MathPool:
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = MathPool()
            atexit.register(_shared.close)
        return _shared


def serve() -> None:
    """The worker: one JSON request per line on stdin, one answer per line on stdout."""
    import math_verify.parser  # noqa: F401  (imported before "ready": not part of any check's limit)

    from monkeys_swe.verifiers.math_exact import judge

    out = os.fdopen(os.dup(1), "wb")  # the answers' channel; anything a library prints goes to stderr
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    out.write(b"ready\n")
    out.flush()
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            equal = judge(request["reference"], request["candidate"], request["timeout"])
        except Exception:  # a pathological expression is "not shown equal", never a crash
            equal = False
        out.write(json.dumps({"equal": equal}).encode() + b"\n")
        out.flush()


if __name__ == "__main__":
    serve()
