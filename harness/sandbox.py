"""One long-lived, locked-down container per sandbox, with bounded, killable commands.

Why each piece is there:
- `init=True`: docker-init is PID 1, forwards signals and reaps zombies, so removal is
  instant (a bare `tail -f /dev/null` ignores SIGTERM and costs the 15 s stop timeout).
- `timeout -s KILL` inside the container kills the command's process group at the
  deadline; a host-side watchdog kills whatever escaped the group (setsid, daemons) so
  the output stream ends even then, and kills the container as the last resort.
- Output goes through `head -c`, so an endless writer gets SIGPIPE instead of filling
  our memory; the host side also stops collecting at the bound.
- Every container is labelled and registered; `cleanup_all()` runs at exit and on
  SIGINT/SIGTERM, and `monkeys-swe images prune` removes leftovers of killed processes.
"""
from __future__ import annotations

import io
import logging
import os
import stat
import shlex
import tarfile
import threading
import time
import uuid
from dataclasses import dataclass

import docker
from docker.errors import APIError, NotFound

from harness.docker_util import LABEL, get_client, tar_bytes
from harness import capacity, engine, lifecycle, netns

log = logging.getLogger(__name__)

DEFAULT_MAX_OUTPUT = 16 << 20
# Run the command under `timeout`, cap its output, and exit with the command's status.
_RUNNER = ('timeout -s KILL "$1" bash -c "$2" sandbox "${@:4}" 2>&1 | head -c "$3"; exit "${PIPESTATUS[0]}"')
# Kill every process but PID 1 (docker-init) and the sleeper (the lowest child of PID 1).
# Several passes: a fork bomb's survivors of one pass are its children forked meanwhile.
_KILL_STRAYS = r"""
keep=999999999
for s in /proc/[0-9]*/stat; do
  read -r pid comm state ppid rest < "$s" 2>/dev/null || continue
  [ "$ppid" = 1 ] && [ "$pid" -lt "$keep" ] && keep=$pid
done
for pass in 1 2 3 4 5 6 7 8; do
  n=0
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    [ "$pid" = 1 ] || [ "$pid" = "$keep" ] || [ "$pid" = "$$" ] || { kill -9 "$pid" 2>/dev/null && n=$((n+1)); }
  done
  [ "$n" = 0 ] && break
done
true
"""


@dataclass(frozen=True)
class Limits:
    memory: str = "2g"  # docker mem_limit syntax; swap is disabled (memswap = memory)
    cpus: float = 1.0
    pids: int = 512
    timeout_s: float = 600.0  # default per-command wall-clock limit


@dataclass
class ExecResult:
    exit_code: int
    output: str
    timed_out: bool
    duration_s: float
    truncated: bool = False


class SandboxError(RuntimeError):
    pass


class NoSlot(SandboxError):
    """The engine's gate has no free slot (only with `start(wait_for_slot=False)`)."""


class Sandbox:
    """`with Sandbox(image) as sb: sb.exec("pytest -x", timeout=60)`."""

    def __init__(self, image: str, *, limits: Limits = Limits(), network: bool = False,
                 workdir: str = "/testbed", client: docker.DockerClient | None = None,
                 labels: dict[str, str] | None = None, tmpfs: dict[str, str] | None = None,
                 blackhole: tuple[str, ...] = ()):
        self.image, self.limits, self.network, self.workdir = image, limits, network, workdir
        self.blackhole = tuple(blackhole)  # CIDRs that never answer (harness.netns); offline only
        self.tmpfs = tmpfs  # {path: mount options}: size-bounded scratch dirs
        self.client = client or get_client()
        self.labels = {LABEL: "1", **lifecycle.owner_labels(LABEL), **(labels or {})}
        self.container = None
        self._gate = None  # the engine's capacity gate while this sandbox holds a slot

    # -- lifecycle -------------------------------------------------------------------
    def start(self, *, wait_for_slot: bool = True) -> "Sandbox":
        """Create and start the container, once a slot of the engine's gate is free
        (harness.capacity); `wait_for_slot=False`: raise NoSlot instead of waiting."""
        lifecycle.check_not_shutting_down()
        engine.check_limits(self.client, self.limits)  # one line naming a limit it would not enforce
        gate = capacity.gate(self.client)
        if not gate.acquire(wait=wait_for_slot):
            raise NoSlot("no free sandbox slot on the engine")
        self._gate, began = gate, time.monotonic()
        try:
            self.container = self._create()
            lifecycle.register(self.container)
            lifecycle.check_not_shutting_down()  # a signal may have arrived during create
            self.container.start()
            if self.blackhole and not self.network:
                netns.blackhole(self.client, self.container, self.image, self.blackhole, self.labels)
        except BaseException:
            self.close()
            raise
        gate.started(time.monotonic() - began)
        return self

    def _create(self, attempts: int = 3):
        """containers.create, retried when the engine answers with a server error (it is
        overloaded: the gate backs off meanwhile)."""
        for attempt in range(attempts):
            try:
                return self.client.containers.create(
                    self.image, entrypoint=["sleep", "infinity"], command=[], init=True, detach=True,
                    working_dir=self.workdir, labels=self.labels,
                    network_mode="bridge" if self.network else "none", tmpfs=self.tmpfs,
                    mem_limit=self.limits.memory, memswap_limit=self.limits.memory,
                    nano_cpus=int(self.limits.cpus * 1e9), pids_limit=self.limits.pids,
                    security_opt=["no-new-privileges"])
            except APIError as exc:
                if not exc.is_server_error() or attempt == attempts - 1:
                    raise
                self._gate.back_off(f"the engine failed a create ({str(exc)[:120]})", error=True)
                time.sleep(1.0 + attempt)

    def close(self) -> None:
        if self.container is not None:
            lifecycle.remove(self.container)
            self.container = None
        gate, self._gate = self._gate, None
        if gate is not None:
            gate.release()

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- commands --------------------------------------------------------------------
    def exec(self, cmd: str, *, timeout: float | None = None, workdir: str | None = None,
             env: dict[str, str] | None = None, stdin: bytes | None = None,
             max_output_bytes: int = DEFAULT_MAX_OUTPUT, args: list[str] = (),
             _retry: int = 0) -> ExecResult:
        """Run `cmd` with bash; stdout and stderr merged; never longer than `timeout`.
        `args` reach `cmd` as "$1", "$2", ...: text delivered without quoting or an upload
        (each must be valid UTF-8 without NUL and under 128 KiB, Linux's limit per argument)."""
        if self.container is None:
            raise SandboxError("sandbox is not started")
        timeout = max(0.01, self.limits.timeout_s if timeout is None else timeout)  # 0 = none to timeout(1)
        command = cmd
        if stdin is not None:
            stdin_path = f"/tmp/.monkeys-stdin-{uuid.uuid4().hex}"
            self.put_file(stdin_path, stdin)
            cmd = f"exec < {stdin_path}; rm -f {stdin_path}\n{cmd}"
        api = self.client.api
        asked = time.monotonic()
        try:
            exec_id = api.exec_create(
                self.container.id, ["bash", "-c", _RUNNER, "runner", f"{timeout:.3f}s", cmd,
                                    str(max_output_bytes + 1), *args],
                workdir=workdir, environment=env, stdout=True, stderr=True)["Id"]
        except APIError as exc:
            if exc.status_code in (404, 409):  # removed, or killed by the watchdog's last resort
                raise SandboxError(f"the sandbox's container is gone ({exc.explanation}); "
                                   "start a new Sandbox") from exc
            raise
        start = time.monotonic()
        if start - asked >= capacity.SLOW_EXEC_S and self._gate is not None:  # the engine is struggling
            self._gate.back_off(f"exec took {start - asked:.1f}s to create")
        watchdog = _Watchdog(self, timeout)
        chunks, size = [], 0
        try:
            for chunk in api.exec_start(exec_id, stream=True):
                if size <= max_output_bytes:
                    chunks.append(chunk)
                size += len(chunk)
        finally:
            watchdog.cancel()
        duration = time.monotonic() - start
        exit_code = api.exec_inspect(exec_id).get("ExitCode")
        data = b"".join(chunks)
        truncated = len(data) > max_output_bytes
        timed_out = watchdog.fired or (exit_code in (124, 137) and duration >= timeout * 0.98)
        output = data[:max_output_bytes].decode("utf-8", "replace")
        if timed_out and not watchdog.fired:
            # `timeout` killed the group, but its members' exits (and a fork bomb's forks
            # in flight) can still hold the pid limit: clear them so the next command starts.
            self.kill_strays()
        if exit_code == 126 and output.startswith("OCI runtime exec failed"):
            # The runtime could not start the command at all (pid limit still full, or
            # the container is going away): not the command's verdict. Clear and retry.
            if _retry >= 3:
                raise SandboxError(f"the sandbox could not start a command: {output.strip()[:300]}")
            self.kill_strays()
            time.sleep(0.5 * (_retry + 1))
            return self.exec(command, timeout=timeout, workdir=workdir, env=env, stdin=stdin,
                             max_output_bytes=max_output_bytes, args=args, _retry=_retry + 1)
        return ExecResult(exit_code if exit_code is not None else -1, output,
                          timed_out, duration, truncated)

    def kill_strays(self, attempts: int = 10) -> bool:
        """Kill every process in the sandbox except its init and sleeper. The killer is
        itself a process: while a fork bomb holds every pid it cannot start, so retry."""
        api = self.client.api
        for attempt in range(attempts):
            try:
                exec_id = api.exec_create(self.container.id, ["bash", "-c", _KILL_STRAYS])["Id"]
                api.exec_start(exec_id)
                if api.exec_inspect(exec_id).get("ExitCode") == 0:
                    return True
            except (APIError, NotFound, AttributeError):
                pass
            time.sleep(0.2 * (attempt + 1))
        return False

    def after_run(self, script: str) -> tuple[str, list[dict]]:
        """Once a command is done: kill every process left in the sandbox, then run `script`
        (short, trusted) in a fresh exec, and read the engine's diff of the container from the
        host. Returns (the script's output, [{"Path", "Kind"}]). Nothing the candidate started
        can print into that output or still be writing while it runs."""
        api = self.client.api
        exec_id = api.exec_create(self.container.id, ["bash", "-c", _KILL_STRAYS + "\n" + script],
                                  workdir=self.workdir)["Id"]
        output = api.exec_start(exec_id).decode("utf-8", "replace")
        return output, self.changes()

    # Trees the change list leaves out: the workdir (its protected files have a manifest,
    # harness.integrity) and scratch space a run may fill with any number of files.
    _UNLISTED = {"testbed", "tmp", "proc", "dev", "run", "sys"}

    def changes(self) -> list[dict] | None:
        """Paths the container changed, as the engine's diff names them ([{"Path", "Kind"}],
        Kind 0 changed/added, 2 deleted), read from the host: the container's writable layer
        (overlay upper dir) walked directly, which takes milliseconds where `docker diff`
        compares whole trees (seconds); the engine's diff where that layer is not on this host
        (a remote engine); None when neither can be read."""
        try:
            self.container.reload()
            upper = ((self.container.attrs.get("GraphDriver") or {}).get("Data") or {}).get("UpperDir")
        except (APIError, NotFound):
            return None
        if upper and os.path.isdir(upper):
            out = []
            for root, dirs, files in os.walk(upper):
                if root == upper:
                    dirs[:] = [d for d in dirs if d not in self._UNLISTED]
                for name in files:
                    full = os.path.join(root, name)
                    st = os.lstat(full)
                    whiteout = stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
                    out.append({"Path": "/" + os.path.relpath(full, upper), "Kind": 2 if whiteout else 0})
            return out
        try:
            return self.client.api.diff(self.container.id) or []
        except (APIError, NotFound):
            return None

    # -- files -----------------------------------------------------------------------
    def put_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        if not path.startswith("/"):
            path = f"{self.workdir}/{path}"
        self.container.put_archive("/", tar_bytes({path: (data, mode)}))

    def get_file(self, path: str) -> bytes:
        if not path.startswith("/"):
            path = f"{self.workdir}/{path}"
        stream, _ = self.container.get_archive(path)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.next()
            if member is None or not member.isfile():
                raise SandboxError(f"{path} is not a regular file")
            return tar.extractfile(member).read()

    def diff(self, base_ref: str = "HEAD", *, timeout: float = 60) -> str:
        """`git diff --binary` of the working tree (untracked files included) against
        `base_ref`, through a throwaway index so the repository's own index is untouched."""
        tmp = f"/tmp/.monkeys-diff-{uuid.uuid4().hex}"
        ref = shlex.quote(base_ref)
        # The diff goes to a file and comes back as bytes: exact, whatever its size or encoding.
        result = self.exec(
            f"export GIT_INDEX_FILE={tmp}.index; git read-tree {ref} && git add -A . "
            f"&& git diff --cached --binary {ref} > {tmp}; rc=$?; rm -f {tmp}.index; exit $rc",
            timeout=timeout)
        if result.exit_code != 0:
            raise SandboxError(f"git diff failed: {result.output[-500:]}")
        data = self.get_file(tmp)
        self.exec(f"rm -f {tmp}", timeout=timeout)
        return data.decode("utf-8", "surrogateescape")


class _Watchdog:
    """Host-side deadline: kill escaped processes after the limit, then the container."""

    def __init__(self, sandbox: Sandbox, timeout: float):
        self.fired = False
        self._timers = [threading.Timer(timeout + 3, self._strays, (sandbox,)),
                        threading.Timer(timeout + 20, self._container, (sandbox,))]
        for t in self._timers:
            t.daemon = True
            t.start()

    def _strays(self, sandbox: Sandbox) -> None:
        self.fired = True
        sandbox.kill_strays()

    def _container(self, sandbox: Sandbox) -> None:
        log.warning("sandbox command outlived its deadline; killing the container")
        try:
            sandbox.container.kill()
        except (APIError, NotFound, AttributeError):
            pass

    def cancel(self) -> None:
        for t in self._timers:
            t.cancel()


cleanup_all = lifecycle.cleanup_all
install_signal_handlers = lifecycle.install_signal_handlers
