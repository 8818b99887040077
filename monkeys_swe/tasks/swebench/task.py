"""SWE-bench: problems are repository issues, completions are edits, verification is Docker.

A completion becomes a unified diff (SEARCH/REPLACE blocks applied to the file at the base
commit, or a raw diff), which harness/ verifies: the instance's hidden tests for SWE-bench
instances, the user's test command for a local repository. Applied candidates also run the
repository's existing tests near the change (without the test patch) so that selection has a
signal that needs no hidden tests: `detail["passes_existing_tests"]`.

Verdict conventions: `answer` is the normalized patch hash; `detail["semantic_key"]` is the
meaning-level key (harness.normalize) that verification is deduplicated by and votes group by
(solve/select.py `vote_key`); `detail["patch"]` is the diff (exported as SWE-bench predictions).
With a verdict cache, the regression runs are cached too (`Verifier.run_tests`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import posixpath
import threading
from typing import Any, Callable, ClassVar

from harness import patch as patches
from harness import normalize, repos, specs
from harness.verdict_cache import open_cache
from harness.instance import DEFAULT_DATASET, DataError, SWEInstance, load_instances
from harness.verify import DEFAULT_LIMITS, Verifier
from monkeys_swe.errors import UserError
from monkeys_swe.tasks.swebench import prompt
from monkeys_swe.tasks.swebench.edits import EditError, completion_to_patch
from monkeys_swe.tasks.swebench.retrieval import RepoSnapshot, build_context
from monkeys_swe.settings import Settings
from monkeys_swe.tasks.base import Task
from monkeys_swe.types import Messages, Problem, Verdict

APPLIED = ("resolved", "not_resolved")
PASSING = ("PASSED", "XFAIL")
MAX_TEST_FILES = 3
# (instance, snapshot, query) -> files the model says to edit
Localizer = Callable[[SWEInstance, RepoSnapshot], list[str]]


def related_tests(files: list[str], all_files: tuple[str, ...]) -> list[str]:
    """Existing test files of the touched modules: test_<m>.py, <m>_test.py, tests/<m>/..."""
    tests = [f for f in all_files if f.endswith(".py") and patches.is_test_path(f)]
    found: list[str] = []
    for path in files:
        stem = posixpath.splitext(posixpath.basename(path))[0]
        if stem == "__init__":
            stem = posixpath.basename(posixpath.dirname(path))
        names = {f"test_{stem}.py", f"{stem}_test.py", f"tests_{stem}.py", f"test_{stem}s.py"}
        for t in tests:
            parts = t.split("/")
            if parts[-1] in names or (stem in parts[:-1] and parts[-1] in ("tests.py", f"test_{stem}.py")):
                found.append(t)
    return list(dict.fromkeys(found))[:MAX_TEST_FILES]


def regression_command(inst: SWEInstance, test_files: list[str]) -> str:
    """The repo's own test runner on these files (swebench's per-repo command)."""
    if inst.repo == "django/django":
        test_files = [f.removeprefix("tests/").removesuffix(".py").replace("/", ".") for f in test_files]
    return " ".join([specs.TEST_CMDS.get(inst.repo, specs._PYTEST), *test_files])


class SWEBenchTask(Task):
    name: ClassVar[str] = "swebench"
    stop: ClassVar[tuple[str, ...]] = ()
    verify_workers: ClassVar[int] = 2  # concurrent sandboxes; overlaps verification with sampling
    # where the repositories come from, how many sandboxes, where logs go: no verdict changes
    cosmetic_args: ClassVar[frozenset[str]] = frozenset({"repo_mirror", "pool_size", "log_dir", "verdict_cache"})

    def __init__(self, instances: list[SWEInstance] | None = None, *, instance_ids: list[str] | None = None,
                 repo_mirror: str | os.PathLike | None = None, context_tokens: int = 6000,
                 localizer: Localizer | None = None, regression: bool = True, pool_size: int | None = None,
                 log_dir: str | os.PathLike | None = None, limits=DEFAULT_LIMITS, base_image: str | None = None,
                 timeout_s: float | None = None, oracle_is_model_written: bool = False,
                 verdict_cache: str | os.PathLike | bool | None = None):
        self.instances, self.instance_ids = instances, instance_ids
        self.repo_mirror = repo_mirror or Settings.from_env().repo_mirror
        if timeout_s is not None:
            limits = dataclasses.replace(limits, timeout_s=float(timeout_s))
        self.context_tokens, self.localizer, self.regression = context_tokens, localizer, regression
        self.pool_size, self.log_dir, self.limits, self.base_image = pool_size, log_dir, limits, base_image
        # a local repo judged by model-written reproduction tests (solve --repo without --test):
        # "existing tests" are still the repository's own tests near the change
        self.oracle_is_model_written = oracle_is_model_written
        self._lock = threading.Lock()
        self._verifiers: dict[str, Verifier] = {}
        self._instances: dict[str, SWEInstance] = {}
        self._snapshots: dict[str, RepoSnapshot] = {}
        self._patches: dict[tuple[str, str], tuple[str, str] | EditError] = {}
        self._baselines: dict[tuple[str, str], Any] = {}
        self._baseline_locks: dict[tuple[str, str], threading.Lock] = {}
        self.docker_verifications = 0  # oracle/user-test runs actually made (after dedupe)
        self.cache_hits = 0  # oracle verdicts answered by the verdict cache (harness.verdict_cache)
        self.test_runs = 0  # regression runs (existing tests near the change) actually made in Docker
        self.test_cache_hits = 0  # regression runs answered by the verdict cache
        self.verdict_cache = verdict_cache  # a path (True: ~/.cache/monkeys-swe/verdicts.db); None: off
        self._verdict_cache = open_cache(verdict_cache)
        self._normalizers: dict[str, normalize.Normalizer] = {}

    # -- problems ------------------------------------------------------------------------
    def load(self, data: str | None, limit: int | None) -> list[Problem]:
        instances = self.instances
        if instances is None:
            try:
                instances = load_instances(data or DEFAULT_DATASET, ids=self.instance_ids)
            except DataError as exc:
                raise UserError(str(exc)) from None
        return [self.problem_for(inst) for inst in instances[:limit]]

    def problem_for(self, inst: SWEInstance) -> Problem:
        snapshot = self.snapshot(inst)
        localized = self.localizer(inst, snapshot) if self.localizer else []
        ctx = build_context(snapshot, inst.problem_statement, self.context_tokens, prefer=localized)
        data = {"instance": inst.model_dump(mode="json"), "code": ctx.render(), "context_files": ctx.paths,
                "context_tokens": ctx.tokens, "localized": localized,
                "localization": getattr(self.localizer, "log", {}).get(inst.instance_id)}
        return Problem(id=inst.instance_id, question=inst.problem_statement, data=data)

    def messages(self, problem: Problem) -> Messages:
        inst = self.instance(problem)
        repo = os.path.basename(inst.repo) if inst.repo_path else inst.repo
        return prompt.edit_messages(repo, problem.question, problem.data.get("code", ""))

    def instance(self, problem: Problem) -> SWEInstance:
        with self._lock:
            if problem.id not in self._instances:
                self._instances[problem.id] = SWEInstance.model_validate(problem.data["instance"])
            return self._instances[problem.id]

    def snapshot(self, inst: SWEInstance) -> RepoSnapshot:
        key = inst.instance_id
        if key not in self._snapshots:
            try:
                source = repos.locate(inst.repo_path or inst.repo, self.repo_mirror, clone=self.repo_mirror is None)
            except repos.RepoError as exc:
                raise UserError(str(exc)) from None
            self._snapshots[key] = RepoSnapshot(source, inst.base_commit)
        return self._snapshots[key]

    # -- completions -> patches ----------------------------------------------------------
    def to_patch(self, problem: Problem, completion: str) -> tuple[str, str]:
        """(diff, edit format), cached: the loop thread asks for the dedupe key, a worker verifies."""
        key = (problem.id, hashlib.sha256(completion.encode("utf-8", "surrogateescape")).hexdigest())
        if key not in self._patches:
            snapshot = self.snapshot(self.instance(problem))
            try:
                self._patches[key] = completion_to_patch(completion, snapshot.read, problem.data.get("context_files", []))
            except EditError as exc:
                self._patches[key] = exc
        result = self._patches[key]
        if isinstance(result, EditError):
            raise result
        return result

    def dedupe_key(self, problem: Problem, completion: str) -> str:
        try:
            return self.candidate_key(problem, self.to_patch(problem, completion)[0])
        except EditError:  # malformed costs no Docker time; keep each one's own reason
            return "malformed:" + hashlib.sha256(completion.encode("utf-8", "surrogateescape")).hexdigest()[:16]

    def candidate_key(self, problem: Problem, patch: str) -> str:
        """harness.normalize's key: the same code (test-file edits dropped) is verified once."""
        inst = self.instance(problem)
        with self._lock:
            norm = self._normalizers.get(inst.instance_id)
            if norm is None:
                norm = self._normalizers[inst.instance_id] = normalize.for_instance(inst, self.repo_mirror)
        return norm.key(patch)

    # -- verification --------------------------------------------------------------------
    def verifier(self, inst: SWEInstance) -> Verifier:
        """One Verifier (image + sandbox pool) per instance, built once even with many workers."""
        with self._lock:
            v = self._verifiers.get(inst.instance_id)
            if v is None:
                v = Verifier(inst, repo_mirror=self.repo_mirror, pool_size=self.pool_size or self.verify_workers,
                             log_dir=self.log_dir, limits=self.limits, base_image=self.base_image,
                             verdict_cache=self._verdict_cache)
                v.ensure_image()
                v._sandboxes()  # start the pool here: lazily, two workers could each start one
                self._verifiers[inst.instance_id] = v
            return v

    def prepare(self, problems: list[Problem]) -> None:
        """Build (or find) every instance's image before sampling, so setup errors come first:
        limits the engine would not enforce, and a run that will not fit its disk, are refused
        before anything is built (one line)."""
        from harness import disk, engine
        from harness.docker_util import get_client
        from monkeys_swe.errors import UserError

        instances = [self.instance(p) for p in problems]
        try:
            engine.check_limits(get_client(), self.limits)
            disk.preflight(instances)
        except (engine.EngineError, disk.DiskError) as exc:
            raise UserError(str(exc)) from exc
        for inst in instances:
            self.verifier(inst)

    def verify(self, problem: Problem, completion: str) -> Verdict:
        try:
            patch, fmt = self.to_patch(problem, completion)
        except EditError as exc:
            return self.malformed(exc)
        return self.verify_patch(problem, patch, fmt)

    @staticmethod
    def malformed(exc: EditError) -> Verdict:
        """The verdict of a completion that yields no diff (decided without Docker)."""
        return Verdict(False, "malformed", None, {"patch": "", "error": str(exc)})

    def verify_patch(self, problem: Problem, patch: str, edit_format: str = "diff") -> Verdict:
        """The verdict for an already-extracted diff (`to_patch`'s first value; `edit_format`
        its second): what a remote node runs when the driver did the completion -> diff step."""
        fmt = edit_format
        inst = self.instance(problem)
        verifier = self.verifier(inst)
        v = verifier.verify(patch)
        with self._lock:
            if v.cached:
                self.cache_hits += 1
            else:
                self.docker_verifications += 1
        detail: dict[str, Any] = {"patch": patch, "edit_format": fmt, "status": v.status, "error": v.error,
                                  "duration_s": v.duration_s, "test_duration_s": v.test_duration_s,
                                  "apply_method": v.apply_method, "dropped_files": v.dropped_files,
                                  "decided_by": v.decided_by, "test_cpu_s": v.test_cpu_s,
                                  "fail_to_pass": v.fail_to_pass, "pass_to_pass": v.pass_to_pass,
                                  "tests_run": len(v.tests), "log_path": v.log_path, "patch_hash": v.patch_hash,
                                  "semantic_key": v.semantic_key, "cached": v.cached,
                                  "passes_existing_tests": False if v.status not in APPLIED else None,
                                  "tamper": v.tamper, "reset": v.reset, "flags": v.flags, "official": v.official}
        if self.oracle_is_model_written:  # the reproduction tests ran here: solve/repro.py reuses their outcomes
            detail["repro_outcomes"] = v.tests
        if v.status in APPLIED and self.regression:
            reg = self.regression_check(inst, verifier, patch, v)
            if reg is not None:
                detail["regression"] = reg
                detail["passes_existing_tests"] = reg["passed"]
        return Verdict(v.resolved, v.status, v.patch_hash or patches.patch_hash(patch), detail)

    def regression_check(self, inst: SWEInstance, verifier: Verifier, patch: str, oracle) -> dict | None:
        """Do the tests that passed at the base commit still pass with the patch?"""
        if inst.test_cmd is not None and not self.oracle_is_model_written:  # the user's own test command
            return {"cmd": inst.test_cmd, "passed": oracle.resolved, "same_as_verifier": True}
        touched = [f for f in patches.touched_files(patch) if not patches.is_test_path(f)]
        test_files = related_tests(touched, self.snapshot(inst).files)
        if not test_files:
            return None
        cmd = regression_command(inst, test_files)
        at_base = self._baseline(inst, verifier, cmd)
        run = self._count(verifier.run_tests(patch, cmd))
        if at_base:
            broken = sorted(t for t in at_base if run.tests.get(t) not in PASSING)
            passed = run.status in APPLIED and not broken
        else:  # nothing parsed at base: fall back to the exit status
            broken, passed = [], run.status == "resolved"
        return {"cmd": cmd, "passed": passed, "broken": broken[:20], "passing_at_base": len(at_base),
                "duration_s": run.duration_s, "status": run.status, "cached": run.cached}

    def _count(self, run):
        """Count a regression run as made or as answered by the verdict cache."""
        with self._lock:
            if run.cached:
                self.test_cache_hits += 1
            else:
                self.test_runs += 1
        return run

    def _baseline(self, inst: SWEInstance, verifier: Verifier, cmd: str) -> set[str]:
        key = (inst.instance_id, cmd)
        with self._lock:
            lock = self._baseline_locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._baselines:
                run = self._count(verifier.run_tests("", cmd))
                self._baselines[key] = {t for t, s in run.tests.items() if s in PASSING}
            return self._baselines[key]

    def close(self) -> None:
        with self._lock:
            verifiers, self._verifiers = list(self._verifiers.values()), {}
            snapshots = list(self._snapshots.values())  # kept (cached reads); their git process ends
        for v in verifiers:
            v.close()
        for snap in snapshots:
            snap.close()
