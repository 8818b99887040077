"""Run untrusted programs on hidden tests, many at a time, in long-lived runner containers.

Starting a container per program costs about a second; a program's tests often take less.
So a pool keeps N containers (harness sandboxes: no network, memory/CPU/pids limits, an
init process) and sends each program to a free one. In each container program_runner.py
stays up as one `--serve` exec session (a JSON line in, a JSON line out), so a program
costs no container start, no exec and no interpreter start; the runner runs the tests as
an unprivileged user and cleans up after it. A problem's tests travel to a container once
and are cached there (root-only).
"""
from __future__ import annotations

import atexit
import hashlib
import json
import os
import queue
import re
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docker.utils.socket import frames_iter

from harness.sandbox import Limits, Sandbox

RUNNER_DIR = "/opt/monkeys-runner"
_HERE = Path(__file__).parent
# Writable scratch for `nobody` is size-bounded tmpfs; exec: compiled C++ runs from /tmp.
TMPFS = {"/tmp": "rw,exec,nosuid,nodev,size=512m,mode=1777",
         "/var/tmp": "rw,noexec,nosuid,nodev,size=16m,mode=1777"}
# The whole container: 3 GB of memory (no swap), 1 CPU, 256 processes. Each program gets its own,
# tighter limits inside it (program_runner.py: per-test wall clock and CPU time, address space,
# output size, 64 processes).
RUNNER_LIMITS = Limits(memory="3g", cpus=1.0, pids=256, timeout_s=600.0)
JUDGE_VERSION = 3  # 2: success needs the completion token; call/check answers imported as a module
# 3: the token only from the judged process, children killed first; stdout of call/check drained;
#    trace hooks cleared, modules restored and the prompt's helpers bound again before check()


def runner_settings() -> dict[str, Any]:
    """The sandbox values that can decide a verdict (tasks add them to their settings())."""
    return {"judge_version": JUDGE_VERSION, "container_memory": RUNNER_LIMITS.memory,
            "container_cpus": RUNNER_LIMITS.cpus, "container_pids": RUNNER_LIMITS.pids, "tmpfs": dict(TMPFS)}


def default_workers() -> int:
    return int(os.environ.get("MONKEYS_SWE_PROGRAM_WORKERS") or os.cpu_count() or 2)


def runner_image() -> str:
    """MONKEYS_SWE_PROGRAM_IMAGE, else the harness's Python base image (built offline if missing).
    Set it to ensure_cpp_runner_image()'s tag (`monkeys-swe/program-runner-cpp:1`) to judge C++ too."""
    if os.environ.get("MONKEYS_SWE_PROGRAM_IMAGE"):
        return os.environ["MONKEYS_SWE_PROGRAM_IMAGE"]
    from harness.base_images import ensure_base_images

    return ensure_base_images()


CPP_IMAGE = "monkeys-swe/program-runner-cpp:1"


def ensure_cpp_runner_image() -> str:
    """The Python base image plus g++ (Debian's), for C++ answers; built once, from the Debian mirror."""
    from harness.base_images import ensure_base_images
    from harness.docker_util import build_image, get_client, image_exists

    client = get_client()
    if not image_exists(client, CPP_IMAGE):
        dockerfile = (f"FROM {ensure_base_images(client)}\nRUN apt-get update && apt-get install -y "
                      "--no-install-recommends g++ && rm -rf /var/lib/apt/lists/*\n")
        build_image(client, CPP_IMAGE, dockerfile, {})
    return CPP_IMAGE


@dataclass(frozen=True)
class ProgramJob:
    code: str
    tests: list[dict[str, Any]] = field(hash=False, compare=False)
    kind: str = "stdio"  # stdio | call | check (see program_runner.py)
    lang: str = "python"
    timeout_s: float = 10.0  # per test, wall clock
    memory_bytes: int = 512 << 20
    fn_name: str | None = None
    max_output_bytes: int | None = None  # default: 2x the largest expected output + 1 MiB
    tests_key: str | None = None  # cache key of `tests` in the container; default: their hash

    def key(self) -> str:
        if self.tests_key:
            return re.sub(r"[^A-Za-z0-9_.-]", "_", self.tests_key)[:100]
        return hashlib.sha256(json.dumps(self.tests, sort_keys=True).encode()).hexdigest()[:32]

    def request(self, with_tests: bool) -> dict[str, Any]:
        biggest = max((len(t.get("output", "")) for t in self.tests), default=0)
        return {"code": self.code, "lang": self.lang, "kind": self.kind, "timeout_s": self.timeout_s,
                "memory_bytes": self.memory_bytes, "fn_name": self.fn_name, "tests_key": self.key(),
                "max_output_bytes": self.max_output_bytes or 2 * biggest + (1 << 20),
                "tests": self.tests if with_tests else None}

    def deadline(self) -> float:
        return len(self.tests) * (self.timeout_s + 2) + 60


@dataclass
class ProgramResult:
    # passed | wrong_answer | exited_early (status 0 before the checks returned) | timeout | memory |
    # killed (by a signal, detail["signal"]) | runtime_error | output_limit | compile_error | error
    status: str
    passed: int = 0
    total: int = 0
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "passed"

    @classmethod
    def from_runner(cls, raw: dict[str, Any]) -> "ProgramResult":
        rest = {k: v for k, v in raw.items() if k not in ("status", "passed", "total")}
        return cls(raw["status"], raw.get("passed", 0), raw.get("total", 0), rest)


class RunnerSandbox(Sandbox):
    """A harness Sandbox with size-bounded tmpfs scratch dirs and the runner script installed."""

    def __init__(self, image: str, *, limits: Limits = RUNNER_LIMITS, **kwargs: Any):
        super().__init__(image, limits=limits, workdir="/", tmpfs=TMPFS, **kwargs)
        self.cached: set[str] = set()
        self._session = None

    def start(self) -> "RunnerSandbox":
        super().start()
        try:
            for name in ("program_runner.py", "compare.py"):
                self.put_file(f"{RUNNER_DIR}/{name}", (_HERE / name).read_bytes(), 0o600)
        except BaseException:
            self.close()
            raise
        self.cached, self._session = set(), None
        return self

    def run_jobs(self, jobs: list[ProgramJob], session: bool = True) -> list[ProgramResult]:
        """Run `jobs` one after another; `session`: through the long-lived runner process."""
        send = self._session_request if session else self._exec_json
        request = [job.request(with_tests=job.key() not in self.cached) for job in jobs]
        raw = send({"jobs": request}, sum(job.deadline() for job in jobs))["results"]
        retry = [i for i, r in enumerate(raw) if r["status"] == "need_tests"]
        if retry:  # the container lost its cache (should not happen); send the tests again
            again = send({"jobs": [jobs[i].request(True) for i in retry]},
                         sum(jobs[i].deadline() for i in retry))["results"]
            for i, r in zip(retry, again):
                raw[i] = r
        self.cached.update(job.key() for job in jobs)
        return [ProgramResult.from_runner(r) for r in raw]

    def _session_request(self, request: dict[str, Any], deadline: float) -> dict[str, Any]:
        """One line to the runner's --serve session (started on first use), one line back."""
        if self._session is None:
            api = self.client.api
            exec_id = api.exec_create(self.container.id, ["python3", f"{RUNNER_DIR}/program_runner.py", "--serve"],
                                      stdin=True, stdout=True, stderr=True)["Id"]
            sock = api.exec_start(exec_id, socket=True)
            self._session = (sock, frames_iter(sock, tty=False), bytearray(), bytearray())
        sock, frames, out, err = self._session
        try:
            sock._sock.settimeout(deadline)
            sock._sock.sendall(json.dumps(request).encode() + b"\n")
            while b"\n" not in out:
                stream, data = next(frames)
                (out if stream == 1 else err).extend(data)
        except (OSError, StopIteration) as exc:
            self.end_session()
            self.kill_strays()
            detail = bytes(err[-2000:]).decode("utf-8", "replace") or f"{type(exc).__name__}: {exc}"
            raise RuntimeError(f"program runner session failed (deadline {deadline:.0f}s): {detail}") from None
        line, _, rest = bytes(out).partition(b"\n")
        out[:] = rest
        return json.loads(line)

    def end_session(self) -> None:
        if getattr(self, "_session", None) is not None:
            self._session[0].close()
            self._session = None

    def close(self) -> None:
        self.end_session()
        super().close()

    def _exec_json(self, request: dict[str, Any], deadline: float) -> dict[str, Any]:
        """One exec of the runner, the request on its stdin (no file copy), JSON back."""
        api = self.client.api
        exec_id = api.exec_create(self.container.id, ["python3", f"{RUNNER_DIR}/program_runner.py"],
                                  stdin=True, stdout=True, stderr=True)["Id"]
        sock = api.exec_start(exec_id, socket=True)
        out, err = bytearray(), bytearray()
        try:
            sock._sock.settimeout(deadline)
            sock._sock.sendall(json.dumps(request).encode())
            sock._sock.shutdown(socket.SHUT_WR)
            for stream, data in frames_iter(sock, tty=False):
                (out if stream == 1 else err).extend(data)
        except (socket.timeout, OSError) as exc:
            self.kill_strays()
            raise RuntimeError(f"program runner did not answer within {deadline:.0f}s: {exc}") from None
        finally:
            sock.close()
        try:
            return json.loads(out)
        except ValueError:
            raise RuntimeError(f"program runner failed: {bytes(err[-2000:]).decode('utf-8', 'replace')}") from None


class ProgramPool:
    """`size` runner containers shared by all threads; started on first use."""

    def __init__(self, size: int | None = None, image: str | None = None, limits: Limits = RUNNER_LIMITS):
        self.size, self.image, self.limits = size or default_workers(), image, limits
        # Containers start in verify threads, where handlers cannot be installed: do it here
        # (a no-op off the main thread) so SIGTERM/SIGINT still remove them.
        self._free: queue.Queue[RunnerSandbox] = queue.Queue()
        self._started = 0
        self._lock = threading.Lock()
        self._all: list[RunnerSandbox] = []

    def _acquire(self) -> RunnerSandbox:
        with self._lock:
            if self._free.empty() and self._started < self.size:
                self._started += 1
                start_one = True
            else:
                start_one = False
        if not start_one:
            return self._free.get()
        try:
            self.image = self.image or runner_image()
            sandbox = RunnerSandbox(self.image, limits=self.limits).start()
        except BaseException:
            with self._lock:
                self._started -= 1
            raise
        with self._lock:
            self._all.append(sandbox)
        return sandbox

    def _release(self, sandbox: RunnerSandbox, broken: bool) -> None:
        if broken:  # a runner that missed its deadline may hold anything: replace it
            sandbox.close()
            with self._lock:
                self._all.remove(sandbox)
                self._started -= 1
        else:
            self._free.put(sandbox)

    def run_batch(self, jobs: list[ProgramJob]) -> list[ProgramResult]:
        """Run `jobs` in one exec on one container (cheapest per program)."""
        sandbox, broken = self._acquire(), True
        try:
            results = sandbox.run_jobs(jobs)
            broken = False
            return results
        finally:
            self._release(sandbox, broken)

    def run(self, job: ProgramJob) -> ProgramResult:
        return self.run_batch([job])[0]

    def run_many(self, jobs: list[ProgramJob], batch: int = 16) -> list[ProgramResult]:
        chunks = [jobs[i:i + batch] for i in range(0, len(jobs), batch)]
        with ThreadPoolExecutor(self.size) as ex:
            return [r for results in ex.map(self.run_batch, chunks) for r in results]

    def close(self) -> None:
        with self._lock:
            sandboxes, self._all, self._started = self._all, [], 0
        for sandbox in sandboxes:
            sandbox.close()
        self._free = queue.Queue()

    def __enter__(self) -> "ProgramPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def run_in_new_container(job: ProgramJob, image: str | None = None) -> ProgramResult:
    """The baseline the pool is measured against: a fresh container for one program."""
    with RunnerSandbox(image or runner_image(), limits=RUNNER_LIMITS) as sandbox:
        return sandbox.run_jobs([job], session=False)[0]


_shared: ProgramPool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> ProgramPool:
    """The process-wide pool that tasks use (closed at exit)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ProgramPool()
            atexit.register(_shared.close)
        return _shared


def close_shared_pool() -> None:
    """Remove the shared pool's containers now (a later shared_pool() starts new ones)."""
    global _shared
    with _shared_lock:
        pool, _shared = _shared, None
    if pool is not None:
        pool.close()
