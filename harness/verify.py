"""Verdicts for candidate patches: one instance, any number of candidates, bounded concurrency.

One attempt = a fresh sandbox from the instance image (started ahead by the pool), one
exec that carries the patch and test_patch as arguments (an upload only for large ones) and
runs apply-with-fallbacks, test_patch and the test command, then grading of the log with
swebench's code. Edits a candidate makes to test files are dropped before it is
applied. Identical candidates (after normalization) are verified once.

Honesty: before its first candidate, an image is validated (harness.health); on a broken
image every verdict is `error`, never `not_resolved`. What the log parser read is
cross-checked against the runner's own report (harness.runners); a mismatch is `error`.

Fail-fast grading (default): the FAIL_TO_PASS tests run first, selected by id; if one fails
the verdict is `not_resolved` at once (`decided_by="fail-fast"`), else the full official
command runs and decides (`decided_by="full"`), so `resolved` always comes from the full run.
Validation turns fail-fast off for an instance whose FAIL_TO_PASS selection costs more than
half the full run (harness.health.fail_fast_cost_note): there it would cost more than it saves.
Between the two, where the runner can stop at its first failure (pytest `--maxfail=1`), the full
command runs so (`decided_by="stop-first"`): complete, it is the full run and is graded as one;
stopped on a FAIL_TO_PASS/PASS_TO_PASS test, `not_resolved`; stopped elsewhere, the plain full
command runs and decides (harness.failfast: the rules and why they are sound).

Flaky tests never decide alone: validation runs the empty and the gold patch more than once and
records the tests whose status varied (harness.health). A verdict that hinges on such a test,
or a `not_resolved` that hinges only on a few PASS_TO_PASS tests (at most MAX_UNEXPLAINED; they
passed in every validation run of both patches: a failure there is the candidate's, or luck), is
rerun with the full command (up to RERUNS times for a known-flaky test, once otherwise): if a test it hinges on changes
status, the verdict is `error` ("flaky: TEST"), never `resolved` or `not_resolved` by luck
(`_steady`). A stable instance whose candidates fail FAIL_TO_PASS tests pays no rerun.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import queue
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from harness import health as healths, images, lifecycle, patch as patches, repos, runners, specs
from harness import canary as canaries_, failfast, integrity, normalize, protect, verdict_cache as verdict_caches
from docker.errors import APIError, NotFound

from harness.docker_util import LABEL, get_client, tar_bytes
from harness.instance import SWEInstance
from harness.pool import SandboxPool
from harness.sandbox import Limits, SandboxError

log = logging.getLogger(__name__)

STATUSES = ("resolved", "not_resolved", "tampered", "apply_failed", "malformed", "timeout", "error")
DEFAULT_LIMITS = Limits(memory="4g", cpus=2.0, pids=1024, timeout_s=1800)
MAX_LOG_BYTES = 64 << 20
ARG_LIMIT = 120_000  # Linux caps one argv string at 128 KiB
RERUNS = 2  # full reruns of a candidate whose verdict hinges on a known-flaky test (Verifier._steady)
MAX_UNEXPLAINED = 3  # a not_resolved failing only more PASS_TO_PASS tests than this is not rerun
HASH_SEEDS = ("0", "1", "2", "3")  # PYTHONHASHSEED tried in order by validation (Verifier._validate_seeded)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:  # lone surrogates: bytes that were not UTF-8
        return False


@dataclass
class PatchVerdict:
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
    test_exit_code: int | None = None  # the test command's exit status
    test_cpu_s: float | None = None  # CPU seconds (all cores) of the test command(s)
    decided_by: str | None = None  # "fail-fast", "stop-first", "full", or "validation" (broken image)
    stages: list[dict] = field(default_factory=list)  # per test run: stage, status, seconds, log
    semantic_key: str = ""  # harness.normalize's key: candidates with one key share one verdict
    cached: bool = False  # answered from the verdict cache (harness.verdict_cache): no test run
    # What judged it: the Python used and wanted (substituted?), the date rule, the env layer
    # (harness.images.image_info), and the validation's caveats (harness.health).
    environment: dict = field(default_factory=dict)
    # Tamper-proofing (harness.protect, harness.canary, harness.integrity):
    tamper: list[str] = field(default_factory=list)  # evidence of a `tampered` verdict
    reset: dict[str, str] = field(default_factory=dict)  # non-test files reset to the base commit: path -> why
    flags: list[str] = field(default_factory=list)  # what deserves a second look (never a verdict)
    official: str | None = None  # what swebench's grading alone makes of the same log
    canaries: dict = field(default_factory=dict)  # the run's canary tests and what the log showed
    rerun_note: str | None = None  # why the candidate was rerun, and what the reruns showed (Verifier._steady)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class Verifier:
    def __init__(self, instance: SWEInstance, *, repo_mirror: str | os.PathLike | None = None,
                 pool_size: int = 2, limits: Limits = DEFAULT_LIMITS, image: str | None = None,
                 base_image: str | None = None, log_dir: str | os.PathLike | None = None,
                 use_prebuilt: bool = True, client=None, fail_fast: bool = True,
                 cache_dir: str | os.PathLike | None = None, verdict_cache=None,
                 fail_fast_max_share: float | None = healths.FAIL_FAST_MAX_SHARE, stop_first: bool = True,
                 validation_runs: int = healths.VALIDATION_RUNS, reruns: int = RERUNS):
        self.instance, self.limits, self.pool_size = instance, limits, max(1, pool_size)
        self.repo_mirror, self.base_image, self.use_prebuilt = repo_mirror, base_image, use_prebuilt
        self.spec = specs.resolve(instance)
        self.image = image
        self.log_dir = Path(log_dir or Path(tempfile.gettempdir()) / "monkeys-swe-logs") / instance.instance_id
        self.client = client or get_client()
        self.fail_fast = fail_fast
        self.fail_fast_max_share = fail_fast_max_share  # None: fail-fast whatever the selection costs
        self.stop_first = stop_first  # with fail_fast: the stop-at-first-failure stage (harness.failfast)
        self.validation_runs = max(1, validation_runs)  # full runs of the empty and the gold patch each
        self.reruns = max(1, reruns)  # at most this many reruns of a verdict hinging on a flaky test
        self.health_store = healths.Store(Path(cache_dir or repos.CACHE) / "validations")
        self._health: healths.Health | None = None
        self._health_lock = threading.Lock()
        self._pool: SandboxPool | None = None
        self._pool_lock = threading.Lock()
        self.verdict_cache = verdict_caches.open_cache(verdict_cache)  # None: every verdict is computed
        self._normalizer = normalize.for_instance(instance, repo_mirror, self.spec)  # no clone, no Docker
        self._image_id: str | None = None
        self._environment: dict | None = None
        self.hash_seed = HASH_SEEDS[0]  # every run's PYTHONHASHSEED; validation may choose another

    # -- setup -----------------------------------------------------------------------
    def ensure_image(self) -> str:
        from harness import grading  # noqa: F401  (pay swebench's import here, not in an attempt)

        if self.image is None:
            self.image = images.ensure_image(self.instance, repo_mirror=self.repo_mirror,
                                             base_image=self.base_image, client=self.client,
                                             use_prebuilt=self.use_prebuilt)
        return self.image

    def _sandboxes(self) -> SandboxPool:
        # Verify threads race here on the first attempt: one pool, or the loser's spares leak.
        with self._pool_lock:
            if self._pool is None:
                self._pool = SandboxPool(self.ensure_image(), spares=self.pool_size, limits=self.limits,
                                         client=self.client, blackhole=self.spec.blackhole,
                                         labels={f"{LABEL}.instance": self.instance.instance_id})
            return self._pool

    def close(self) -> None:
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def __enter__(self) -> "Verifier":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- image health ------------------------------------------------------------------
    def fail_fast_command(self) -> str | None:
        """The instance's FAIL_TO_PASS tests alone, with its runner (None: not selectable)."""
        if self.instance.grade_by_exit_code:
            return None
        return runners.select(runners.kind_of(self.spec.test_cmd), self.spec.test_cmd,
                              specs.test_directives(self.instance), self.instance.FAIL_TO_PASS)

    def stop_first_command(self) -> str | None:
        """The full command told to stop at its first failure (None: no such stage here)."""
        if not self.stop_first or self.instance.grade_by_exit_code or self.instance.eval_script:
            return None  # by exit code there are no lists to stop on; a 5.x row's own script decides
        return failfast.command(self.spec.test_cmd)

    def health(self) -> healths.Health:
        """Validate the image (once: remembered per image id on disk); see harness.health."""
        with self._health_lock:
            if self._health is None:
                image = self.ensure_image()
                fast = self.fail_fast_command()
                i = self.instance
                judged = json.dumps([i.FAIL_TO_PASS, i.PASS_TO_PASS, i.test_patch, i.patch, i.grade_by_exit_code]
                                    + ([list(self.spec.blackhole)] if self.spec.blackhole else [])
                                    + ([self.validation_runs] if self.validation_runs != healths.VALIDATION_RUNS
                                       else []))
                stop = self.stop_first_command()
                k = healths.key(self.client.images.get(image).id, i.instance_id, self.spec.test_cmd, fast,
                                self.fail_fast_max_share, judged, stop_first_cmd=stop)
                found = self.health_store.load(k)
                self._health = found or self.health_store.save(k, self._validate_seeded(image, fast, stop))
                self.hash_seed = self._health.hash_seed or HASH_SEEDS[0]
            return self._health

    def _validate_seeded(self, image: str, fast: str | None, stop: str | None) -> healths.Health:
        """Every run has a fixed PYTHONHASHSEED, so a candidate gets the same verdict each time.
        Some suites pass only under some seeds (sympy 1.1's assumptions recurse without end
        under about 2 seeds in 5: sympy__sympy-13177; sympy's runner seed is pinned to it,
        harness.specs.SYMPY_SEED): when PASS_TO_PASS tests fail under the first seed, or the gold
        patch does not resolve where the runner's seed follows it, the next ones are tried, and
        the first healthy one is every run's seed."""
        first = None
        for seed in HASH_SEEDS:
            self.hash_seed = seed
            h = self._validate(image, fast, stop)
            h.hash_seed = seed
            if first is None:
                first = h
            if h.healthy:
                if h is not first:
                    h.note = "; ".join(filter(None, [h.note, (
                        f"validation depends on the hash seed: under PYTHONHASHSEED={HASH_SEEDS[0]}, "
                        f"{first.reason.split(' (image')[0]}; every run uses PYTHONHASHSEED={seed}")]))
                return h
            reason = h.reason or ""
            seeded = ("PASS_TO_PASS tests do not pass" in reason  # or the runner's own seed follows it:
                      or (reason.startswith(healths.GOLD_UNRESOLVED) and "PYTHONHASHSEED" in self.spec.test_cmd))
            if not h.persist or not seeded:
                break  # not a seed-dependent failure (or a timeout): report the first
        self.hash_seed = HASH_SEEDS[0]
        return first

    def _validate(self, image: str, fast: str | None, stop: str | None = None) -> healths.Health:
        empty = self._attempt("", self.spec.test_cmd, by_exit_code=self.instance.grade_by_exit_code,
                              stage="validation")
        from harness import grading

        kind = runners.kind_of(self.spec.test_cmd)
        junit = healths.junit_beside(empty.log_path) if kind == "pytest" else None
        h = healths.judge(self.instance, empty, image, runners.read_report(kind, "", junit) if junit else None,
                          grading.parsed_name(self.spec.log_parser))
        h.canary_note = canaries_.note(empty.canaries)
        gold_full = None
        if h.p2p_missing_only and self.instance.patch:
            h, gold_full = self._confirm_with_gold(h)
        if h.healthy:
            h, gold_full = self._check_runs(h, empty, gold_full)
        self._check_fail_fast(h, fast)
        if h.healthy:
            self._check_stop_first(h, stop, gold_full)
        return h

    def _check_runs(self, h: healths.Health, empty: PatchVerdict,
                    gold: PatchVerdict | None) -> tuple[healths.Health, PatchVerdict | None]:
        """The gold patch's full runs and the empty candidate's repeats (validation_runs of each):
        the tests whose status varied (`flaky`), and the image cannot judge when no gold run is
        `resolved` (harness.health). Returns the health and a resolved gold run (else the first)."""
        patch, cmd, by_code = self.instance.patch, self.spec.test_cmd, self.instance.grade_by_exit_code
        runs: dict[str, list[PatchVerdict]] = {"empty": [empty]}
        if patch:
            runs["gold"] = [gold or self._attempt(patch, cmd, by_exit_code=by_code, stage="validation-gold")]
            for n in range(2, self.validation_runs + 1):
                runs["gold"].append(self._attempt(patch, cmd, by_exit_code=by_code, stage=f"validation-gold-{n}"))
        resolved = [v for v in runs.get("gold", []) if v.status == "resolved"]
        if patch and not resolved:
            g = runs["gold"][0]
            h = dataclasses.replace(h, healthy=False, fault="environment", note=None, reason=healths.gold_reason(
                g.status, g.fail_to_pass, g.pass_to_pass, g.error, g.log_path))
        else:
            for n in range(2, self.validation_runs + 1):
                runs["empty"].append(self._attempt("", cmd, by_exit_code=by_code, stage=f"validation-{n}"))
        if any(v.status in ("timeout", "error") for vs in runs.values() for v in vs):
            h.persist = False  # the machine may be loaded, the daemon may have failed: not remembered
        h.runs = {k: [v.status for v in vs] for k, vs in runs.items()}
        h.run_s = {k: [v.test_command_s or 0.0 for v in vs] for k, vs in runs.items()}
        h.flaky = healths.varied({k: [v.tests for v in vs if v.status not in ("timeout", "error")]
                                  for k, vs in runs.items()})
        return h, (resolved or runs.get("gold") or [None])[0]

    def _check_fail_fast(self, h: healths.Health, fast: str | None) -> None:
        if not h.healthy or fast is None:
            h.fail_fast_note = None if fast else ("graded by exit code" if self.instance.grade_by_exit_code
                                                  else "FAIL_TO_PASS ids not selectable with this runner")
            return
        if not self.instance.patch:
            h.fail_fast_note = "no gold patch to check the FAIL_TO_PASS selection with"
            return
        gold = self._attempt(self.instance.patch, fast, by_exit_code=False, stage="validation-fail-fast")
        if gold.status == "timeout":
            h.persist = False
        h.fail_fast_cpu_s = gold.test_cpu_s
        if gold.status in ("not_resolved", "resolved") and gold.tests and not gold.fail_to_pass.get("failure"):
            h.fail_fast_note = healths.fail_fast_cost_note(h.full_cpu_s, h.fail_fast_cpu_s,
                                                           self.fail_fast_max_share)
            h.fail_fast_cmd = None if h.fail_fast_note else fast
        else:
            h.fail_fast_note = (f"the gold patch does not pass the FAIL_TO_PASS tests run alone "
                                f"({gold.status}: {gold.error or gold.fail_to_pass.get('failure')}); "
                                f"log {gold.log_path}")

    def _check_stop_first(self, h: healths.Health, stop: str | None, gold: PatchVerdict | None) -> None:
        """The stop-at-first-failure stage is on unless the gold patch's full run fails a test
        outside the lists (every right candidate would stop there and pay a rerun)."""
        if stop is None:
            h.stop_first_note = ("off (Verifier(stop_first=False))" if not self.stop_first else
                                 "no stop-at-first-failure option used for this runner or command")
            return
        if not self.instance.patch:
            h.stop_first_note = failfast.note(None, None, [])
            return
        if gold is None:
            gold = self._attempt(self.instance.patch, self.spec.test_cmd, by_exit_code=False, stage="validation-gold")
        if gold.status == "timeout":
            h.persist = False
        listed = {*self.instance.FAIL_TO_PASS, *self.instance.PASS_TO_PASS}
        failing = sorted(t for t in self._junit_failed(gold) if t not in listed)
        h.stop_first_note = failfast.note(gold.status, gold.test_exit_code, failing)
        h.gold_full_cpu_s = gold.test_cpu_s
        h.stop_first_cmd = None if h.stop_first_note else stop

    def _junit_failed(self, v: PatchVerdict) -> set[str]:
        """The run's log ids that its runner's own JUnit report shows failing."""
        from harness import grading

        return failfast.junit_failed(v.tests, healths.junit_beside(v.log_path), grading.parsed_name(self.spec.log_parser))

    def environment(self) -> dict:
        """The verdict detail's `environment` (empty until the image is validated)."""
        if self._health is None:
            return {}
        if self._environment is None:
            info = images.image_info(self._health.image, self.client) if self._health.image else {}
            self._environment = {**info, "image": self._health.image, "validation_note": self._health.note,
                                 "fail_fast_note": self._health.fail_fast_note,
                                 "hash_seed": self.hash_seed, "validation_runs": self._health.runs,
                                 "flaky_tests": self._health.flaky}
        return self._environment

    def _confirm_with_gold(self, h: healths.Health) -> tuple[healths.Health, PatchVerdict]:
        """PASS_TO_PASS tests were only missing from the empty candidate's log: the environment
        is healthy if the gold patch's full run passes every FAIL_TO_PASS and PASS_TO_PASS test."""
        gold = self._attempt(self.instance.patch, self.spec.test_cmd,
                             by_exit_code=self.instance.grade_by_exit_code, stage="validation-gold")
        if gold.status == "resolved":
            return dataclasses.replace(h, healthy=True, reason=None, fault=None, note=(
                f"{h.reason.split(' (e.g.')[0]}, but only as lines missing from the log; the gold patch passes "
                f"them all (log {gold.log_path})")), gold
        if gold.status == "timeout":
            h.persist = False
        h.reason = f"{h.reason} (the gold patch does not pass them either: {gold.status}; log {gold.log_path})"
        return h, gold

    def _broken(self, h: healths.Health, patch_hash: str) -> PatchVerdict:
        return PatchVerdict("error", patch_hash=patch_hash, log_path=h.log_path, decided_by="validation",
                       error=f"{h.unjudged()}, not judged: {h.reason} (image {h.image}; "
                             f"validation log {h.log_path})")

    # -- identity and the verdict cache -------------------------------------------------
    def candidate_key(self, patch: str) -> str:
        """The candidate's meaning-level key (harness.normalize), computed on the host."""
        return self._normalizer.key(patch)

    def _own(self, patch: str) -> dict:
        """The fields of a verdict that belong to the candidate's own text: its hash, the files
        reset to the base commit (test files apart) and its flags."""
        kind = runners.kind_of(self.spec.test_cmd)
        try:
            reset = protect.reset(patch, self.spec, kind)[1]
        except patches.PatchError:
            reset = {}
        return {"patch_hash": patches.patch_hash(patch), "flags": protect.flags(patch, self.spec, kind),
                "dropped_files": [p for p, why in reset.items() if why == "test file"],
                "reset": {p: why for p, why in reset.items() if why != "test file"}}

    def _share(self, verdict: PatchVerdict, first: int | None, patch: str, **changes) -> PatchVerdict:
        """`verdict` for another candidate with the same key (its own hash, reset files, flags)."""
        return dataclasses.replace(verdict, duplicate_of=first, **self._own(patch), **changes)

    def _cache_fields(self, key: str) -> dict:
        if self._image_id is None:
            self._image_id = self.client.images.get(self.ensure_image()).id
        fields = verdict_caches.verdict_fields(
            instance=self.instance, spec=self.spec, image_id=self._image_id, limits=self.limits,
            grading="fail-fast" if self.fail_fast else "full", fail_fast_cmd=self.fail_fast_command(),
            candidate=key)
        self.health()  # settles self.hash_seed
        fields.update(hash_seed=self.hash_seed, stop_first_cmd=self.stop_first_command() if self.fail_fast else None)
        return fields

    def _cached(self, fields: dict, key: str, patch: str, start: float) -> PatchVerdict | None:
        """The cache's verdict for `fields`, as this candidate's (its own hash), or None."""
        hit = self.verdict_cache.get(verdict_caches.verdict_key(fields))
        if hit is None:
            return None
        known = {f.name for f in dataclasses.fields(PatchVerdict)}
        return self._share(PatchVerdict(**{k: v for k, v in hit.items() if k in known}), None, patch,
                           cached=True, semantic_key=key, phases={}, duration_s=round(time.monotonic() - start, 3))

    # -- public ----------------------------------------------------------------------
    def verify(self, patch: str) -> PatchVerdict:
        """SWE-bench's verdict for one candidate: FAIL_TO_PASS pass, PASS_TO_PASS kept.
        With a verdict cache, a candidate judged before (same key, image, tests, mode, harness)
        is answered from it (`cached=True`) and a new judgement is stored."""
        start = time.monotonic()
        key = self.candidate_key(patch)
        fields = None if self.verdict_cache is None or key.startswith("raw:") else self._cache_fields(key)
        if fields is not None:
            hit = self._cached(fields, key, patch, start)
            if hit is not None:
                return hit
        verdict = self._steady(patch, self._verify(patch))
        verdict.semantic_key = key
        verdict.environment = self.environment()
        if fields is not None:
            self.verdict_cache.put(verdict_caches.verdict_key(fields), fields, verdict.to_dict())
        return verdict

    def _verify(self, patch: str) -> PatchVerdict:
        start = time.monotonic()
        h = patches.patch_hash(patch)
        problems = patches.validate(patch)
        if problems:
            return PatchVerdict("malformed", patch_hash=h, error="; ".join(problems)[:2000])
        env = self.health()
        if not env.healthy:
            return self._broken(env, h)
        stages = []
        if self.fail_fast and env.fail_fast_cmd:
            first = self._attempt(patch, env.fail_fast_cmd, by_exit_code=False, stage="fail-fast")
            stages.append(first)
            if self._fail_fast_decides(first):
                return self._combine(first, stages, "fail-fast", start)
        if self.fail_fast and env.stop_first_cmd:
            second = self._attempt(patch, env.stop_first_cmd, by_exit_code=False, stage=failfast.STAGE)
            stages.append(second)
            i = self.instance
            told, stopped_on = failfast.outcome(second.status, second.tests, second.test_exit_code,
                                                self._junit_failed(second), i.FAIL_TO_PASS, i.PASS_TO_PASS)
            if told == failfast.LISTED and second.status == "not_resolved":
                return self._combine(second, stages, failfast.STAGE, start, stopped_on=stopped_on)
            if told == failfast.FINAL:
                return self._combine(second, stages, failfast.STAGE, start)
            second.decided_by = f"{failfast.STAGE} (rerun)"  # stopped outside the lists: nothing known
        full = self._attempt(patch, self.spec.test_cmd, by_exit_code=self.instance.grade_by_exit_code,
                             stage="full")
        return self._combine(full, [*stages, full], "full", start)

    @staticmethod
    def _fail_fast_decides(v: PatchVerdict) -> bool:
        """The FAIL_TO_PASS-only run settles the verdict: it could not apply, ran out of time,
        or a FAIL_TO_PASS test failed (or the run reported nothing: the candidate broke it)."""
        if v.status in ("apply_failed", "timeout", "malformed", "tampered"):
            return True
        if v.status != "not_resolved":
            return False  # errors and the (impossible) resolved go to the full run
        return not v.tests or bool(v.fail_to_pass.get("failure"))

    @staticmethod
    def _combine(final: PatchVerdict, stages: list[PatchVerdict], decided_by: str, start: float,
                 stopped_on: str | None = None) -> PatchVerdict:
        final.decided_by = decided_by
        if decided_by == "fail-fast" and final.pass_to_pass:  # decided before they ran
            final.pass_to_pass = {"success": [], "failure": [], "not_run": final.pass_to_pass.get("failure", [])}
        if stopped_on is not None:  # stopped there: the listed tests after it did not run
            for lists in (final.fail_to_pass, final.pass_to_pass):
                failed = lists.get("failure", [])
                lists["failure"] = [t for t in failed if t in final.tests]
                lists["not_run"] = [t for t in failed if t not in final.tests]
        final.stages = [{"stage": s.decided_by, "status": s.status if s is final else Verifier._undecided(s),
                         "test_command_s": s.test_command_s, "test_cpu_s": s.test_cpu_s, "log_path": s.log_path}
                        for s in stages]
        if stopped_on is not None:
            final.stages[-1]["stopped_on"] = stopped_on
        if len(stages) > 1:
            final.test_command_s = round(sum(s.test_command_s or 0 for s in stages), 3)
            final.test_cpu_s = round(sum(s.test_cpu_s or 0 for s in stages), 3)
            final.test_duration_s = round(sum(s.test_duration_s for s in stages), 3)
            final.phases = {k: round(sum(s.phases.get(k, 0) for s in stages), 3) for k in final.phases}
        final.duration_s = round(time.monotonic() - start, 3)
        return final

    @staticmethod
    def _undecided(stage: PatchVerdict) -> str:
        """The `stages` label of a stage that did not decide the verdict: what it found, not a
        verdict (a FAIL_TO_PASS selection can never be `resolved`, so its run says not_resolved)."""
        if stage.decided_by == "fail-fast" and stage.status == "not_resolved":
            return "passed (full run decides)"
        if stage.decided_by == f"{failfast.STAGE} (rerun)" and stage.status in ("resolved", "not_resolved"):
            return "stopped outside the lists (full run decides)"
        return f"{stage.status} (full run decides)"

    def hinges_on(self, v: PatchVerdict) -> tuple[list[str], bool]:
        """(the tests this verdict hinges on that might have flipped, whether one is known-flaky);
        ([], False) when it needs no rerun. `resolved` hinges on every listed test: the known-flaky
        ones might have passed by luck. `not_resolved` hinges on its failing listed tests, and only
        when none of them is explained: a failing FAIL_TO_PASS test is what no fix gives (unless it
        is known-flaky), a failing PASS_TO_PASS test passed in every validation run."""
        if v.status not in ("resolved", "not_resolved") or self._health is None:
            return [], False
        flaky = self._health.flaky
        i = self.instance
        if v.status == "resolved":
            known = [t for t in (*i.FAIL_TO_PASS, *i.PASS_TO_PASS) if t in flaky]
            return known, bool(known)
        failing = [*v.fail_to_pass.get("failure", []), *v.pass_to_pass.get("failure", [])]
        p2p = set(i.PASS_TO_PASS)
        if not failing or not all(t in flaky or t in p2p for t in failing):
            return [], False
        known = any(t in flaky for t in failing)
        if not known and len(failing) > MAX_UNEXPLAINED:  # breaks that many: the candidate did it
            return [], False
        return failing, known

    def _steady(self, patch: str, v: PatchVerdict) -> PatchVerdict:
        """Rerun (the full command) a verdict that hinges on a test that may have flipped: a test
        that changes status makes it `error` ("flaky: TEST"); the same status every time keeps it."""
        hinge, known = self.hinges_on(v)
        if not hinge:
            return v
        why = (f"hinges on known-flaky {', '.join(t for t in hinge if t in self._health.flaky)}" if known
               else f"hinges only on PASS_TO_PASS tests that passed at validation ({', '.join(hinge[:3])})")
        reruns = []
        for n in range(1, (self.reruns if known else 1) + 1):
            r = self._attempt(patch, self.spec.test_cmd, by_exit_code=self.instance.grade_by_exit_code,
                              stage=f"rerun-{n}")
            reruns.append(r)
            if r.status not in ("resolved", "not_resolved"):
                break
            flipped = [t for t in hinge if r.tests.get(t, "absent") != v.tests.get(t, "absent")]
            if flipped or r.status != v.status:
                break
        v.stages = [*v.stages, *({"stage": r.decided_by, "status": r.status, "test_command_s": r.test_command_s,
                                  "test_cpu_s": r.test_cpu_s, "log_path": r.log_path} for r in reruns)]
        v.test_command_s = round((v.test_command_s or 0) + sum(r.test_command_s or 0 for r in reruns), 3)
        v.test_cpu_s = round((v.test_cpu_s or 0) + sum(r.test_cpu_s or 0 for r in reruns), 3)
        last = reruns[-1]
        if last.status == "tampered":  # evidence on any run decides (harness.canary, harness.integrity)
            v.rerun_note = f"{why}: rerun {len(reruns)}x, the rerun was tampered"
            return dataclasses.replace(v, status="tampered", resolved=False, tamper=last.tamper, error=last.error)
        if last.status not in ("resolved", "not_resolved"):
            v.rerun_note = f"{why}: rerun {len(reruns)}x, the rerun was {last.status}"
            return dataclasses.replace(v, status="error", resolved=False,
                                       error=f"could not rerun to rule out a flaky test: {last.error or last.status}")
        flipped = [t for t in hinge if last.tests.get(t, "absent") != v.tests.get(t, "absent")]
        if flipped or last.status != v.status:
            t = (flipped or hinge)[0]
            v.rerun_note = (f"{why}: rerun {len(reruns)}x; {t} was {v.tests.get(t, 'absent')}, then "
                            f"{last.tests.get(t, 'absent')} ({v.status}, then {last.status})")
            return dataclasses.replace(v, status="error", resolved=False, error=f"flaky: {t} ({v.rerun_note})")
        v.rerun_note = f"{why}: rerun {len(reruns)}x, the same {v.status} each time"
        return v

    def run_tests(self, patch: str, test_cmd: str, apply_test_patch: bool = False, *,
                  test_patch: str | None = None, stage: str = "tests") -> PatchVerdict:
        """Does the candidate pass `test_cmd` (e.g. the repo's tests near the change)?
        status "resolved" means the command exited 0; `tests` holds the parsed statuses.
        `test_patch` (e.g. model-written reproduction tests) replaces the instance's, applied after
        the candidate; `stage` names the log file.
        With a verdict cache, a run made before (same candidate by meaning, command, test patch,
        image, limits, harness) is answered from it (`cached=True`), and a new one is stored."""
        start = time.monotonic()
        problems = patches.validate(patch)
        if problems:
            return PatchVerdict("malformed", patch_hash=patches.patch_hash(patch), error="; ".join(problems)[:2000])
        with_test_patch = apply_test_patch or test_patch is not None
        self.health()  # settles the image's PYTHONHASHSEED (validation may choose it) before any run
        key = fields = None
        if self.verdict_cache is not None:
            key = self.candidate_key(patch)
            fields = self._run_tests_fields(key, test_cmd, with_test_patch, test_patch)
            hit = self._cached(fields, key, patch, start)
            if hit is not None:
                return hit
        verdict = self._attempt(patch, test_cmd, apply_test_patch=with_test_patch, by_exit_code=True, stage=stage,
                                test_patch=test_patch)
        if fields is not None:
            verdict.semantic_key = key
            self.verdict_cache.put(verdict_caches.verdict_key(fields), fields, verdict.to_dict())
        return verdict

    def _run_tests_fields(self, key: str, test_cmd: str, with_test_patch: bool, test_patch: str | None) -> dict:
        """What decides a `run_tests` result: the instance, image and limits (as for verdicts), the
        command, whether a test patch is applied and which (the instance's or the one given), the
        PYTHONHASHSEED it runs under, the harness version and the candidate's meaning-level key.
        Graded by exit code, no fail-fast."""
        if self._image_id is None:
            self._image_id = self.client.images.get(self.ensure_image()).id
        fields = verdict_caches.verdict_fields(
            instance=self.instance, spec=self.spec, image_id=self._image_id, limits=self.limits,
            grading="run-tests", fail_fast_cmd=None, candidate=key)
        given = None if test_patch is None else hashlib.sha256(
            test_patch.encode("utf-8", "surrogateescape")).hexdigest()
        fields.update(command=test_cmd, apply_test_patch=with_test_patch, given_test_patch=given,
                      hash_seed=self.hash_seed)
        return fields

    def verify_many(self, candidates: Iterable[str]) -> Iterator[tuple[int, PatchVerdict]]:
        """(index, verdict) for every candidate, in completion order, as soon as known.
        Candidates with the same key (harness.normalize: same code after dropping test-file
        edits) are verified once; the later ones get a copy with `duplicate_of` set to the
        first one's index (and their own `patch_hash` and `dropped_files`)."""
        done: queue.Queue = queue.Queue()
        groups: dict[str, list[int]] = {}
        finished: dict[str, tuple[int, PatchVerdict]] = {}
        texts: dict[int, str] = {}  # the waiting duplicates' own patches
        executor = ThreadPoolExecutor(self.pool_size, thread_name_prefix="verify")
        pending = 0

        def emit(h: str, verdict: PatchVerdict) -> Iterator[tuple[int, PatchVerdict]]:
            first, *rest = groups.pop(h)
            finished[h] = (first, verdict)
            yield first, verdict
            for i in rest:
                yield i, self._share(verdict, first, texts.pop(i))

        try:
            for index, candidate in enumerate(candidates):
                h = self.candidate_key(candidate)  # same meaning (harness.normalize): one verification
                if h in finished:
                    yield index, self._share(finished[h][1], finished[h][0], candidate)
                elif h in groups:
                    groups[h].append(index)
                    texts[index] = candidate
                else:
                    groups[h] = [index]
                    pending += 1
                    executor.submit(self._safe_verify, candidate, patches.patch_hash(candidate)).add_done_callback(
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
    def _safe_verify(self, patch: str, h: str) -> PatchVerdict:
        try:
            return self.verify(patch)
        except Exception as exc:  # a verdict, never a crash of the whole batch
            if not lifecycle.shutting_down():  # after Ctrl-C, failing attempts are expected
                log.exception("verification failed")
            return PatchVerdict("error", patch_hash=h, error=f"{type(exc).__name__}: {exc}")

    def _attempt(self, patch: str, test_cmd: str, *, by_exit_code: bool, stage: str,
                 apply_test_patch: bool = True, test_patch: str | None = None) -> PatchVerdict:
        start = time.monotonic()
        h = patches.patch_hash(patch)
        kind = runners.kind_of(test_cmd)
        kept, reset = protect.reset(patch, self.spec, kind)
        tests_patch = (self.instance.test_patch if test_patch is None else test_patch) if apply_test_patch else ""
        own_script = bool(self.instance.eval_script) and test_cmd == self.spec.test_cmd and apply_test_patch
        canaries = None if own_script else canaries_.make(test_cmd, specs.test_directives(self.instance), tests_patch)
        if canaries is not None and stage in ("fail-fast", "validation-fail-fast"):
            test_cmd = canaries_.with_selection(test_cmd, canaries)  # a selection runs them too
        protected = sorted({*self.spec.test_files, *patches.touched_files(tests_patch),
                            *protect.RUNNER_CODE.get(kind or "", ())} | ({canaries.file} if canaries else set()))
        report_path = f"/tmp/monkeys-report-{uuid.uuid4().hex}.xml"  # per run: not guessable ahead
        result, phases, after = self._run(kept, test_cmd, apply_test_patch, report_path, test_patch,
                                          canaries=canaries, protected=protected)
        from harness import grading

        output = result.output
        collected, junit = grading.split_report(after[0])  # read out of band, after the run
        if stage in ("fail-fast", "validation-fail-fast"):
            output = runners.selected_log(kind, output)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{h}-{stage}.log"
        log_path.write_text(output, encoding="utf-8", errors="replace")
        if junit:
            log_path.with_suffix(".junit.xml").write_bytes(junit)
        else:  # not an earlier run's report (harness.health reads it beside the log)
            log_path.with_suffix(".junit.xml").unlink(missing_ok=True)
        checks = (canaries, integrity.read_manifest(output), integrity.read_manifest(collected), after[1])
        verdict = self._judge(result, output, junit, test_cmd, str(log_path), by_exit_code, checks)
        verdict.patch_hash, verdict.phases = h, phases
        verdict.dropped_files = [p for p, why in reset.items() if why == "test file"]
        verdict.reset = {p: why for p, why in reset.items() if why != "test file"}
        verdict.flags = protect.flags(patch, self.spec, kind)
        verdict.decided_by = stage
        verdict.duration_s = round(time.monotonic() - start, 3)
        return verdict

    def _run(self, patch: str, test_cmd: str, apply_test_patch: bool, report_path: str,
             test_patch: str | None = None, *, canaries=None, protected: list[str] = ()):
        """One fresh sandbox, one upload, one exec, then one trusted exec once the run is over
        (stray processes killed; the runner's report and the protected files' manifest) and the
        engine's diff of the container. Returns (ExecResult, phase seconds, (after-run output,
        container changes))."""
        from harness import grading  # imports swebench (seconds): only once verification starts

        texts = [patch, self.instance.test_patch if test_patch is None else test_patch]
        row_script = self.instance.eval_script if test_cmd == self.spec.test_cmd else None  # 5.x rows
        try:
            paths = patches.touched_files(patch)
        except patches.PatchError:
            paths = []
        script = grading.eval_script(test_cmd, apply_test_patch=apply_test_patch, report_path=report_path,
                                     row_script=row_script, paths=paths, canaries=canaries, protected=protected)
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
                                  max_output_bytes=MAX_LOG_BYTES, args=args,
                                  env={"PYTHONHASHSEED": self.hash_seed})
            t3 = time.monotonic()
            try:
                after = sandbox.after_run(grading.collect_script(report_path, list(protected)))
            except (SandboxError, APIError, NotFound):
                if not result.timed_out:  # the sandbox went away after a normal run: infrastructure
                    raise
                after = ("", None)  # a timeout decides the verdict; the watchdog may have killed it
            t4 = time.monotonic()
        finally:
            pool.release(sandbox)
        return result, {"acquire": round(t1 - t0, 3), "upload": round(t2 - t1, 3),
                        "exec": round(result.duration_s, 3), "collect": round(t4 - t3, 3)}, after

    def _canaries_required(self) -> bool:
        """Missing canaries count as tampering once validation saw them run on this image."""
        return self._health is not None and self._health.healthy and not getattr(self._health, "canary_note", None)

    def _judge(self, result, output: str, junit: bytes | None, test_cmd: str, log_path: str,
               by_exit_code: bool, checks: tuple = (None, None, None, None)) -> PatchVerdict:
        """`checks`: (the run's canaries, the manifest before the run, the manifest after it,
        the engine's diff of the container): see harness.canary and harness.integrity."""
        from harness import grading

        canaries, before, after, changes = checks
        verdict = PatchVerdict("error", log_path=log_path, test_duration_s=round(result.duration_s, 3),
                          test_command_s=grading.test_command_seconds(output),
                          test_cpu_s=grading.test_command_cpu_seconds(output))
        for line in output.splitlines():
            if line.startswith(grading.APPLIED):
                verdict.apply_method = line[len(grading.APPLIED):].strip()
        if result.timed_out:
            verdict.status, verdict.error = "timeout", f"exceeded {self.limits.timeout_s:g} s"
        elif result.exit_code == grading.EXIT_UNSAFE_PATH and grading.UNSAFE_PATH in output:
            verdict.status = "malformed"
            verdict.error = "refused: " + output.split(grading.UNSAFE_PATH, 1)[1].splitlines()[0].strip()
        elif result.exit_code == grading.EXIT_APPLY_FAILED and grading.APPLY_PATCH_FAIL in output:
            verdict.status, verdict.error = "apply_failed", "git apply, git apply --3way and patch refused it"
        elif result.exit_code == grading.EXIT_TEST_PATCH_FAILED:
            verdict.error = "the instance's test_patch did not apply"
        elif grading.END_TEST_OUTPUT not in output:
            verdict.error = f"the eval script stopped early (exit {result.exit_code})"
        else:
            kind = runners.kind_of(test_cmd)
            section = output.split(grading.START_TEST_OUTPUT, 1)[-1].split(grading.END_TEST_OUTPUT, 1)[0]
            report = runners.read_report(kind, section, junit)
            exit_code, settled = result.exit_code, None
            appended = canaries is not None and f"{grading.CANARIES} appended" in output.split(
                grading.START_TEST_OUTPUT, 1)[0]
            if appended:
                # sympy's reporter glues a file's [OK]/[FAIL] to its last test's line, which its log
                # parser then misses: the canaries are that last test, so read them unglued
                settled = canaries_.settle(canaries, grading.parse_tests(runners.selected_log(kind, output),
                                                                         self.instance, self.spec.log_parser),
                                           exit_code, report)
                exit_code = settled.exit_code
                verdict.canaries = {"file": canaries.file, "must_pass": canaries.must_pass,
                                    "must_fail": canaries.must_fail, "seen": settled.seen, "junit": settled.junit}
            elif canaries is not None:
                verdict.canaries = {"file": canaries.file, "unavailable": True}
            verdict.test_exit_code = exit_code
            g = grading.grade(self.instance, self.spec.log_parser, log_path, exit_code, by_exit_code=by_exit_code)
            if appended:
                g.tests = {t: st for t, st in g.tests.items()
                           if not any(canaries.matches(t, n) for n in canaries.names())}
            verdict.tests, verdict.error = g.tests, g.note
            verdict.fail_to_pass, verdict.pass_to_pass = g.fail_to_pass, g.pass_to_pass
            if not by_exit_code:
                verdict.official = grading.official(self.instance, self.spec.log_parser, log_path)
            evidence = []
            if appended:
                found = settled.evidence(canaries, would_resolve=g.resolved and self._canaries_required())
                evidence += [found] if found else []
            elif canaries is not None and g.resolved and self._canaries_required():
                evidence.append(f"the canary tests could not be added to {canaries.file} this run")
            evidence += integrity.compare(before, after) + integrity.suspicious(changes)
            # A printed fake can only aim at `resolved`: on a run graded otherwise a mismatch
            # changes nothing (a crashed runner's partial report, the empty candidate's run).
            graded = None if by_exit_code else {*self.instance.FAIL_TO_PASS, *self.instance.PASS_TO_PASS}
            mismatch = g.resolved and grading.runner_check(output, junit, test_cmd, g.tests, exit_code,
                                                           self.spec.log_parser, graded,
                                                           report=canaries_.without(report, canaries, settled))
            if evidence:
                verdict.status, verdict.tamper = "tampered", evidence
                verdict.error = f"tampered: {evidence[0]}"
            elif mismatch:
                verdict.error = f"test output does not match the runner's report: {mismatch}"
            else:
                verdict.status = "resolved" if g.resolved else "not_resolved"
                verdict.resolved = g.resolved
                if not g.tests and not by_exit_code:
                    verdict.error = "the candidate's run reported no test results (it broke the test suite)"
        return verdict
