"""Verdicts for candidate patches: one instance, any number of candidates, bounded concurrency.

One attempt = a fresh sandbox from the instance image (started ahead by the pool), one
exec that carries the patch and test_patch as arguments (an upload only for large ones) and
runs apply-with-fallbacks, test_patch and the test command, then grading of the log with
swebench's code. Edits a candidate makes to test files are dropped before it is
applied. Identical candidates (after normalization) are verified once.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import queue
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from harness import images, lifecycle, patch as patches, specs
from harness.docker_util import LABEL, get_client, tar_bytes
from harness.instance import SWEInstance
from harness.pool import SandboxPool
from harness.sandbox import Limits

log = logging.getLogger(__name__)

STATUSES = ("resolved", "not_resolved", "apply_failed", "malformed", "timeout", "error")
DEFAULT_LIMITS = Limits(memory="4g", cpus=2.0, pids=1024, timeout_s=1800)
MAX_LOG_BYTES = 64 << 20
ARG_LIMIT = 120_000  # Linux caps one argv string at 128 KiB


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:  # lone surrogates: bytes that were not UTF-8
        return False


@dataclass
class Verdict:
    status: str  # one of STATUSES
    resolved: bool = False
    tests: dict[str, str] = field(default_factory=dict)  # test id -> PASSED/FAILED/...
    fail_to_pass: dict[str, list[str]] = field(default_factory=dict)  # {"success": [...], "failure": [...]}
    pass_to_pass: dict[str, list[str]] = field(default_factory=dict)
    duration_s: float = 0.0  # the whole attempt
    test_duration_s: float = 0.0  # the in-container exec (apply + tests)
    test_command_s: float | None = None  # the test command alone
    log_path: str | None = None
    patch_hash: str = ""
    error: str | None = None
    apply_method: str | None = None  # git-apply, git-apply-3way or patch-fuzz
    dropped_files: list[str] = field(default_factory=list)  # test-file edits discarded
    duplicate_of: int | None = None  # set by verify_many on duplicates
    phases: dict[str, float] = field(default_factory=dict)  # acquire / upload / exec seconds

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class Verifier:
    def __init__(self, instance: SWEInstance, *, repo_mirror: str | os.PathLike | None = None,
                 pool_size: int = 2, limits: Limits = DEFAULT_LIMITS, image: str | None = None,
                 base_image: str | None = None, log_dir: str | os.PathLike | None = None,
                 use_prebuilt: bool = True, client=None):
        self.instance, self.limits, self.pool_size = instance, limits, max(1, pool_size)
        self.repo_mirror, self.base_image, self.use_prebuilt = repo_mirror, base_image, use_prebuilt
        self.spec = specs.resolve(instance)
        self.image = image
        self.log_dir = Path(log_dir or Path(tempfile.gettempdir()) / "monkeys-swe-logs") / instance.instance_id
        self.client = client or get_client()
        self._pool: SandboxPool | None = None
        lifecycle.install_signal_handlers()

    # -- setup -----------------------------------------------------------------------
    def ensure_image(self) -> str:
        from harness import grading  # noqa: F401  (pay swebench's import here, not in an attempt)

        if self.image is None:
            self.image = images.ensure_image(self.instance, repo_mirror=self.repo_mirror,
                                             base_image=self.base_image, client=self.client,
                                             use_prebuilt=self.use_prebuilt)
        return self.image

    def _sandboxes(self) -> SandboxPool:
        if self._pool is None:
            self._pool = SandboxPool(self.ensure_image(), spares=self.pool_size, limits=self.limits,
                                     client=self.client,
                                     labels={f"{LABEL}.instance": self.instance.instance_id})
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self) -> "Verifier":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- public ----------------------------------------------------------------------
    def verify(self, patch: str) -> Verdict:
        """SWE-bench's verdict for one candidate: FAIL_TO_PASS pass, PASS_TO_PASS kept."""
        return self._attempt(patch, self.spec.test_cmd, apply_test_patch=True,
                             by_exit_code=self.instance.grade_by_exit_code)

    def run_tests(self, patch: str, test_cmd: str, apply_test_patch: bool = False) -> Verdict:
        """Does the candidate pass `test_cmd` (e.g. the repo's tests near the change)?
        status "resolved" means the command exited 0; `tests` holds the parsed statuses."""
        return self._attempt(patch, test_cmd, apply_test_patch=apply_test_patch, by_exit_code=True,
                             log_suffix="-tests")

    def verify_many(self, candidates: Iterable[str]) -> Iterator[tuple[int, Verdict]]:
        """(index, verdict) for every candidate, in completion order, as soon as known.
        Candidates with the same normalized patch are verified once; the later ones get a
        copy with `duplicate_of` set to the first one's index."""
        done: queue.Queue = queue.Queue()
        groups: dict[str, list[int]] = {}
        finished: dict[str, tuple[int, Verdict]] = {}
        executor = ThreadPoolExecutor(self.pool_size, thread_name_prefix="verify")
        pending = 0

        def emit(h: str, verdict: Verdict) -> Iterator[tuple[int, Verdict]]:
            first, *rest = groups.pop(h)
            finished[h] = (first, verdict)
            yield first, verdict
            for i in rest:
                yield i, dataclasses.replace(verdict, duplicate_of=first)

        try:
            for index, candidate in enumerate(candidates):
                h = patches.patch_hash(candidate)
                if h in finished:
                    yield index, dataclasses.replace(finished[h][1], duplicate_of=finished[h][0])
                elif h in groups:
                    groups[h].append(index)
                else:
                    groups[h] = [index]
                    pending += 1
                    executor.submit(self._safe_verify, candidate, h).add_done_callback(
                        lambda f, h=h: done.put((h, f.result())))
                while not done.empty():
                    pending -= 1
                    yield from emit(*done.get())
            while pending:
                pending -= 1
                yield from emit(*done.get())
        finally:
            executor.shutdown(wait=False, cancel_futures=True)

    # -- one attempt -----------------------------------------------------------------
    def _safe_verify(self, patch: str, h: str) -> Verdict:
        try:
            return self.verify(patch)
        except Exception as exc:  # a verdict, never a crash of the whole batch
            if not lifecycle.shutting_down():  # after Ctrl-C, failing attempts are expected
                log.exception("verification failed")
            return Verdict("error", patch_hash=h, error=f"{type(exc).__name__}: {exc}")

    def _attempt(self, patch: str, test_cmd: str, *, apply_test_patch: bool, by_exit_code: bool,
                 log_suffix: str = "") -> Verdict:
        start = time.monotonic()
        h = patches.patch_hash(patch)
        problems = patches.validate(patch)
        if problems:
            return Verdict("malformed", patch_hash=h, error="; ".join(problems)[:2000])
        kept, dropped = patches.drop_files(patch, lambda p: specs.is_protected(p, self.spec))
        result, phases = self._run(kept, test_cmd, apply_test_patch)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{h}{log_suffix}.log"
        log_path.write_text(result.output, encoding="utf-8", errors="replace")
        verdict = self._judge(result, str(log_path), by_exit_code)
        verdict.patch_hash, verdict.dropped_files, verdict.phases = h, dropped, phases
        verdict.duration_s = round(time.monotonic() - start, 3)
        return verdict

    def _run(self, patch: str, test_cmd: str, apply_test_patch: bool):
        """One fresh sandbox, one upload, one exec. Returns (ExecResult, phase seconds)."""
        from harness import grading  # imports swebench (seconds): only once verification starts

        texts = [patch, self.instance.test_patch]
        script = grading.eval_script(test_cmd, apply_test_patch=apply_test_patch)
        # Small patches travel as exec arguments (no upload round trip); others as files.
        inline = all(len(t.encode("utf-8", "surrogateescape")) < ARG_LIMIT and "\0" not in t
                     and _is_utf8(t) for t in texts)
        pool = self._sandboxes()
        t0 = time.monotonic()
        sandbox = pool.acquire()
        t1 = time.monotonic()
        try:
            if inline:
                cmd, args = grading.WRITE_ARGS + script, texts
            else:
                sandbox.container.put_archive("/", tar_bytes({
                    grading.PATCH_FILE: texts[0].encode("utf-8", "surrogateescape"),
                    grading.TEST_PATCH_FILE: texts[1].encode("utf-8", "surrogateescape")}))
                cmd, args = script, []
            t2 = time.monotonic()
            result = sandbox.exec(cmd, timeout=self.limits.timeout_s, workdir="/testbed",
                                  max_output_bytes=MAX_LOG_BYTES, args=args)
        finally:
            pool.release(sandbox)
        return result, {"acquire": round(t1 - t0, 3), "upload": round(t2 - t1, 3),
                        "exec": round(result.duration_s, 3)}

    def _judge(self, result, log_path: str, by_exit_code: bool) -> Verdict:
        from harness import grading

        verdict = Verdict("error", log_path=log_path, test_duration_s=round(result.duration_s, 3),
                          test_command_s=grading.test_command_seconds(result.output))
        for line in result.output.splitlines():
            if line.startswith(grading.APPLIED):
                verdict.apply_method = line[len(grading.APPLIED):].strip()
        if result.timed_out:
            verdict.status, verdict.error = "timeout", f"exceeded {self.limits.timeout_s:g} s"
        elif result.exit_code == grading.EXIT_APPLY_FAILED and grading.APPLY_PATCH_FAIL in result.output:
            verdict.status, verdict.error = "apply_failed", "git apply, git apply --3way and patch --fuzz refused it"
        elif result.exit_code == grading.EXIT_TEST_PATCH_FAILED:
            verdict.error = "the instance's test_patch did not apply"
        elif grading.END_TEST_OUTPUT not in result.output:
            verdict.error = f"the eval script stopped early (exit {result.exit_code})"
        else:
            g = grading.grade(self.instance, self.spec.log_parser, log_path, result.exit_code,
                              by_exit_code=by_exit_code)
            verdict.status = "resolved" if g.resolved else "not_resolved"
            verdict.resolved, verdict.tests, verdict.error = g.resolved, g.tests, g.note
            verdict.fail_to_pass, verdict.pass_to_pass = g.fail_to_pass, g.pass_to_pass
        return verdict
