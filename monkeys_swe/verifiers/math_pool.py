"""Equivalence checks with a hard wall-clock limit, on any thread: a small pool of worker processes.

math-verify's own timeouts use SIGALRM, which only a process's main thread may set; called from
any other thread (a verify pool, a Ray actor's thread, a library user's worker) a pathological
answer such as `9^{9^{9^{9}}}` runs sympy for as long as it likes and holds the GIL. So every
check runs in a worker process (one JSON line in, one out, over a socket); the caller waits with
a deadline and, past it, kills the worker and raises CheckTimeout: the verifier could not judge.

Workers are forked from a zygote (`python -m monkeys_swe.verifiers.math_pool`) that has imported
sympy and math-verify once, so replacing a killed worker takes milliseconds, not the second or
more an import takes; the zygote's start is not part of any check's limit (it says it is ready
first). The zygote exits when its control socket closes, and its workers when their sockets
close, so none outlives the caller's process.
"""
from __future__ import annotations

import atexit
import functools
import json
import os
import queue
import select
import signal
import socket
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


def _read_line(sock: socket.socket, buffer: bytearray, deadline: float | None) -> bytes | None:
    """One line from `sock` (the rest stays in `buffer`), or None at the deadline or at EOF."""
    while b"\n" not in buffer:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and (left <= 0 or not select.select([sock], [], [], left)[0]):
            return None
        chunk = sock.recv(1 << 16)
        if not chunk:
            return None
        buffer += chunk
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return line


class _Zygote:
    """The process that imported everything once and forks a worker per request."""

    def __init__(self) -> None:
        self.control, theirs = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.proc = subprocess.Popen([sys.executable, "-m", "monkeys_swe.verifiers.math_pool", str(theirs.fileno())],
                                     pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     env=env, start_new_session=True)
        theirs.close()
        self.buffer = bytearray()
        if _read_line(self.control, self.buffer, time.monotonic() + STARTUP_LIMIT_S) != b"ready":
            self.close()
            raise WorkerFailed("the math worker zygote did not start")

    def fork(self) -> tuple[int, socket.socket]:
        """A fresh worker: its pid and our end of its socket."""
        ours, theirs = socket.socketpair()
        try:
            socket.send_fds(self.control, [b"fork\n"], [theirs.fileno()])
            line = _read_line(self.control, self.buffer, time.monotonic() + 30)
        finally:
            theirs.close()
        if not line:
            ours.close()
            raise WorkerFailed("the math worker zygote is gone")
        return int(line), ours

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        self.control.close()
        try:
            self.proc.kill()
        except OSError:
            pass
        self.proc.wait()


class _Worker:
    def __init__(self, zygote: _Zygote):
        self.pid, self.sock = zygote.fork()
        self.buffer = bytearray()

    def ask(self, request: dict, limit_s: float) -> dict:
        deadline = time.monotonic() + limit_s
        try:
            self.sock.sendall(json.dumps(request).encode() + b"\n")
            line = _read_line(self.sock, self.buffer, deadline)
        except OSError:  # the worker is gone
            line = None
        if line is None:
            dead = time.monotonic() < deadline
            self.kill()
            if dead:
                raise WorkerFailed("the math worker died during the check")
            raise CheckTimeout(f"equivalence check exceeded its {limit_s:g} s limit")
        return json.loads(line)

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)  # the zygote reaps it (SIGCHLD ignored there)
        except OSError:
            pass
        self.sock.close()


class MathPool:
    """Up to `size` worker processes, shared by all threads; a check waits for a free one."""

    def __init__(self, size: int | None = None):
        self.size = size or default_workers()
        self.idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self.started = 0
        self.lock = threading.Lock()
        self.zygote: _Zygote | None = None

    def _fork(self) -> _Worker:
        with self.lock:
            if self.zygote is None or not self.zygote.alive():
                if self.zygote is not None:
                    self.zygote.close()
                self.zygote = _Zygote()
            return _Worker(self.zygote)

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
            return self._fork()
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
                break
            worker.kill()
            with self.lock:
                self.started -= 1
        with self.lock:
            if self.zygote is not None:
                self.zygote.close()
                self.zygote = None


def shared_pool() -> MathPool:
    """The process-wide pool (workers start on first use; closed at exit). A forked child gets
    its own: the parent's worker sockets are not shared."""
    return _pool_of(os.getpid())


@functools.cache
def _pool_of(pid: int) -> MathPool:
    pool = MathPool()
    atexit.register(pool.close)
    return pool


def serve(sock: socket.socket) -> None:
    """A worker: one JSON request per line, one answer per line, until the socket closes."""
    from monkeys_swe.verifiers.math_exact import judge

    buffer = bytearray()
    while (line := _read_line(sock, buffer, None)) is not None:
        request = json.loads(line)
        try:
            equal = judge(request["reference"], request["candidate"], request["timeout"])
        except Exception:  # a pathological expression is "not shown equal", never a crash
            equal = False
        sock.sendall(json.dumps({"equal": equal}).encode() + b"\n")


def zygote(control_fd: int) -> None:
    """Import once, then fork a worker for each socket sent on the control socket."""
    import math_verify.parser  # noqa: F401  (before "ready": not part of any check's limit)
    import sympy  # noqa: F401

    import monkeys_swe.verifiers.math_exact  # noqa: F401

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # killed workers are reaped by the kernel
    sys.stdout = sys.stderr
    control = socket.socket(fileno=control_fd)
    control.sendall(b"ready\n")
    while True:
        try:
            _, fds, _, _ = socket.recv_fds(control, 16, 1)
        except OSError:
            return
        if not fds:
            return  # the caller closed the control socket: it is gone
        pid = os.fork()
        if pid == 0:
            control.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            code = 0
            try:
                serve(socket.socket(fileno=fds[0]))
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(fds[0])
        control.sendall(f"{pid}\n".encode())


if __name__ == "__main__":
    zygote(int(sys.argv[1]))
