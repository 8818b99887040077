"""A local Lean 4 project as the checker: `lake env lean FILE` in the project directory.

Elaborating a file runs code (`#eval` may do IO), so the check is confined: on the host in a
new session with CPU/file-size limits and, where user namespaces allow (`unshare -rn`), no
network; or, with `image`, inside a harness sandbox container (no network, memory/pids
limits) built from an image that holds the project.
"""
from __future__ import annotations

import os
import queue
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from functools import lru_cache
from pathlib import Path

from monkeys_swe.verifiers.lean import LeanMessage, LeanResult

MAX_OUTPUT = 16 << 20
_MSG = re.compile(r"^(?:[^\n]*?):(\d+):(\d+): (error|warning|info|information)(?:\([^)]*\))?: ?(.*)$")


def parse_lean_output(text: str) -> list[LeanMessage]:
    """Messages from `lean FILE` output: `FILE:LINE:COL: error: ...` plus continuation lines.
    Lines before any positioned message are info output (older Leans print infos bare)."""
    messages: list[LeanMessage] = []
    for line in text.splitlines():
        m = _MSG.match(line)
        if m:
            severity = "info" if m.group(3) == "information" else m.group(3)
            messages.append(LeanMessage(severity, m.group(4), int(m.group(1)), int(m.group(2))))
        elif messages:
            messages[-1].text += "\n" + line
        elif line.strip():
            messages.append(LeanMessage("info", line))
    return messages


@lru_cache
def _can_unshare_network() -> bool:
    if shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode == 0


class LakeChecker:
    name = "lake"

    def __init__(self, project: str | os.PathLike, *, lake: str | None = None, image: str | None = None,
                 isolate_network: bool | None = None):
        self.project, self.image = str(project), image
        self.lake = lake or "lake"
        if image is None and not Path(self.project).is_dir():
            raise FileNotFoundError(f"Lean project directory not found: {self.project}")
        self.isolate_network = _can_unshare_network() if isolate_network is None else isolate_network
        self._sandboxes: queue.Queue = queue.Queue()

    def command(self, path: str) -> list[str]:
        argv = [self.lake, "env", "lean", path]
        return ["unshare", "-rn", *argv] if self.isolate_network else argv

    def check(self, code: str, timeout_s: float) -> LeanResult:
        return self._check_in_container(code, timeout_s) if self.image else self._check_on_host(code, timeout_s)

    def _check_on_host(self, code: str, timeout_s: float) -> LeanResult:
        def limit() -> None:
            cpu = int(timeout_s) + 5
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
            resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_OUTPUT, MAX_OUTPUT))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

        with tempfile.TemporaryDirectory(prefix="monkeys-lean-") as tmp:
            path, out_path = os.path.join(tmp, "Proof.lean"), os.path.join(tmp, "out")
            Path(path).write_text(code, encoding="utf-8")
            start = time.monotonic()
            with open(out_path, "wb") as out:
                try:
                    proc = subprocess.Popen(self.command(path), cwd=self.project, stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=limit)
                except OSError as exc:
                    return LeanResult(error=f"cannot run {self.lake}: {exc}")
                try:
                    code_ = proc.wait(timeout=timeout_s)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    return LeanResult(timed_out=True, seconds=time.monotonic() - start)
                finally:
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)  # anything `#eval` left behind
                    except ProcessLookupError:
                        pass
            text = Path(out_path).read_bytes()[:MAX_OUTPUT].decode("utf-8", "replace").replace(path, "Proof.lean")
            return self._result(code_, text, time.monotonic() - start)

    def _result(self, exit_code: int, text: str, seconds: float) -> LeanResult:
        messages = parse_lean_output(text)
        if exit_code != 0 and not any(m.severity == "error" for m in messages):
            return LeanResult(error=f"`{self.lake} env lean` exited {exit_code}: {text[-500:]}", seconds=seconds)
        return LeanResult(messages, seconds=seconds)

    def _check_in_container(self, code: str, timeout_s: float) -> LeanResult:
        from harness.sandbox import Limits, Sandbox

        try:
            sandbox = self._sandboxes.get_nowait()
        except queue.Empty:
            sandbox = Sandbox(self.image, limits=Limits(memory="12g", cpus=2.0, pids=1024), workdir=self.project).start()
        broken = True
        try:
            sandbox.put_file("/tmp/Proof.lean", code.encode())
            res = sandbox.exec(f"{self.lake} env lean /tmp/Proof.lean", timeout=timeout_s, workdir=self.project,
                               max_output_bytes=MAX_OUTPUT)
            sandbox.kill_strays()
            broken = False
        finally:
            (sandbox.close() if broken else self._sandboxes.put(sandbox))
        if res.timed_out:
            return LeanResult(timed_out=True, seconds=res.duration_s)
        return self._result(res.exit_code, res.output.replace("/tmp/Proof.lean", "Proof.lean"), res.duration_s)

    def close(self) -> None:
        while not self._sandboxes.empty():
            self._sandboxes.get_nowait().close()
