"""The attempt-and-check loop: sample -> store -> verify -> store.

Generation runs in a background thread and hands samples to this loop through a queue; the
loop persists each one at once and verifies it (inline for cheap checks, in a worker pool for
Docker and sandboxes), so early attempts are verified while later ones are still generated.
Only the loop's thread touches the store.
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from monkeys_swe.choose import load_problems
from monkeys_swe.config import RunConfig
from monkeys_swe.errors import UserError
from monkeys_swe.executors import Executor, LocalExecutor
from monkeys_swe.logs import run_log
from monkeys_swe.registry import make_task
from monkeys_swe.samplers.base import Sampler, sample_seed
from monkeys_swe.store import DB_NAME, Store
from monkeys_swe.types import FailedSlot, Problem, Sample, SampleRequest, Verdict

log = logging.getLogger(__name__)
# Samplers whose thread was still generating when the run ended: the CLI exits without finalizing
# (os._exit after the atexit handlers) so that no destructor frees a model under a running decode.
ABANDONED: list[Any] = []


@dataclass
class RunStats:
    problems: int = 0
    target_attempts: int = 0
    attempts: int = 0
    verified: int = 0  # real verdicts; errors are counted apart
    correct: int = 0
    errors: int = 0  # attempts the verifier could not judge (re-verified on the next run)
    failed_slots: int = 0  # slots the sampler could not fill this session (asked again on the next run)
    failed_requests: int = 0
    completion_tokens: int = 0
    generated_this_session: int = 0
    started: float = field(default_factory=time.perf_counter)
    solved: set[str] = field(default_factory=set)

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / max(time.perf_counter() - self.started, 1e-9)


def open_run(config: RunConfig, task: Any, problems: list[Problem] | None = None) -> tuple[Store, list[Problem]]:
    """Open (or create) the run directory for `config`; refuse a directory that holds another config.

    `problems`: use these instead of `task.load` (e.g. `solve`'s one instance); a resumed run keeps its own."""
    store = Store(config.run_dir())
    stored = store.get_meta("config")
    if stored is not None and {k: v for k, v in stored.items() if k != "model_name"} != config.identity():
        store.close()
        raise UserError(f"{config.run_dir()} holds a run with a different config; use another --runs-dir")
    store.set_meta("config", {**config.identity(), "model_name": (stored or {}).get("model_name")})
    stored_problems = store.problems()
    if not stored_problems:
        try:
            stored_problems = problems if problems is not None else load_problems(task, config)
        except KeyError as exc:  # a loader without its own layout check met a row of another layout
            store.close()
            raise UserError(f"{config.data or 'the dataset'}: a row has no {exc} field, which task {config.task} "
                            f"needs") from None
        except BaseException:
            store.close()
            raise
        if not stored_problems:
            store.close()
            raise UserError(f"task {config.task} loaded no problems from {config.data or 'its default dataset'}")
        store.add_problems(stored_problems)
    return store, stored_problems


def discard_run_dir(run_dir: Path) -> None:
    """Remove a run directory this process just created and filled with nothing worth keeping."""
    import shutil

    shutil.rmtree(run_dir, ignore_errors=True)


def check_settings(store: Store, task: Any, config: RunConfig) -> None:
    """A run is verified under one regime: refuse to resume it when the task's verdict settings changed."""
    now = json.loads(json.dumps(task.settings(), sort_keys=True, default=str))
    before = store.get_meta("task_settings")
    if before is not None and before != now:
        changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
        raise UserError(f"{config.run_dir()} was verified with other {config.task} settings ({', '.join(changed)}: "
                        f"{before.get(changed[0])!r} then, {now.get(changed[0])!r} now); use another --runs-dir")
    store.set_meta("task_settings", now)


class Runner:
    """One run: `prepare()` the task, sample and verify until every slot is filled, `close()` it.

    The task is closed at the end even when it was passed in (closing twice is harmless)."""

    def __init__(
        self,
        config: RunConfig,
        *,
        task: Any = None,
        sampler: Sampler | None = None,
        problems: list[Problem] | None = None,
        on_update: Callable[[RunStats], None] | None = None,
        stop_on_success: bool = False,
        executor: Executor | None = None,
        adaptive: bool = False,
    ):
        self.config = config
        self.task = task if task is not None else make_task(config)
        self._sampler = sampler
        self.problems = problems
        self.on_update = on_update or (lambda stats: None)
        self.on_phase: Callable[[str], None] = lambda what: None  # "loading model", ... before the counts move
        self.stop_on_success = stop_on_success
        self.adaptive = adaptive  # stop sampling solved problems; their slots go to the rest (allocation.py)
        self.executor = executor or LocalExecutor()  # where generation and verification run
        self.stats = RunStats()
        self.sampler_busy = False  # a sampler thread outlived an interrupt: its model must not be freed

    def run(self) -> Path:
        from monkeys_swe.runlock import write_lock

        run_dir = self.config.run_dir()
        fresh = not (run_dir / DB_NAME).exists()
        with write_lock(run_dir):  # one writer per run directory; `report` still reads it
            try:
                store, problems = open_run(self.config, self.task, self.problems)  # bad data fails before a model loads
            except BaseException:
                if fresh:  # a start that failed leaves no directory behind
                    discard_run_dir(run_dir)
                raise
            self._run(store, problems, fresh)
        return run_dir

    def _run(self, store: Store, problems: list[Problem], fresh: bool) -> None:
        sampler = None
        try:
            with run_log(self.config.run_dir()):
                log.info("run %s: %s x %d, backend %s", self.config.run_id(), self.config.task,
                         self.config.samples, self.config.backend)
                check_settings(store, self.task, self.config)
                if self._sampler is None:
                    from monkeys_swe.registry import sampler_class

                    sampler_class(self.config.backend).check_config(self.config)  # a wrong path: before the phase line
                    self.on_phase(f"loading model {self.config.model or ''}".rstrip() + f" ({self.config.backend})")
                sampler = self._sampler or self.executor.sampler(self.config)
                self.on_phase("preparing the task")
                store.set_meta("config", {**self.config.identity(), "model_name": sampler.model_name})
                self.executor.prepare(self.task, problems)
                self._loop(store, sampler, {p.id: p for p in problems})
                s = self.stats
                log.info("attempts %d (%d new), verified %d, correct %d, errors %d, failed slots %d",
                         s.attempts, s.generated_this_session, s.verified, s.correct, s.errors, s.failed_slots)
        except UserError:
            if fresh and self.stats.attempts == 0:  # the model, the server or the environment failed first
                store.close()
                discard_run_dir(self.config.run_dir())
            raise
        finally:
            store.close()
            self.task.close()
            if self._sampler is None and sampler is not None and not self.sampler_busy:
                sampler.close()

    # ------------------------------------------------------------------------------------
    def _requests(self, store: Store, problems: dict[str, Problem]) -> list[SampleRequest]:
        filled = store.filled_indices()
        params = self.config.params(tuple(self.task.stop))
        requests = []
        for pid, problem in problems.items():
            missing = tuple(i for i in range(self.config.samples) if i not in filled.get(pid, set()))
            if missing:
                seeds = tuple(sample_seed(self.config.seed, pid, i) for i in missing)
                requests.append(SampleRequest(pid, self.task.messages(problem), missing, seeds, params, problem.question))
        return requests

    def _rounds(self, store: Store, problems: dict[str, Problem], solved: set[str]) -> Any:
        """Sampling in rounds that skip solved problems (monkeys_swe.allocation)."""
        from monkeys_swe.allocation import Rounds

        params = self.config.params(tuple(self.task.stop))
        templates = {pid: SampleRequest(pid, self.task.messages(p), (), (), params, p.question)
                     for pid, p in problems.items()}
        return Rounds(templates, store.filled_indices(), self.config.samples, self.config.seed, solved,
                      workers=self.config.verify_workers or self.task.verify_workers or 1,
                      reallocate=self.adaptive)

    def _verify_pool(self) -> Any:
        """Where verifications run: None inline in the loop's thread, else a pool of workers."""
        workers = self.config.verify_workers or self.task.verify_workers
        return self.executor.verify_pool(self.task, self._safe_verify, workers) if workers else None

    def _loop(self, store: Store, sampler: Sampler, problems: dict[str, Problem]) -> None:
        counts, s = store.counts(), self.stats
        s.problems, s.target_attempts = len(problems), len(problems) * self.config.samples
        s.attempts, s.verified, s.correct = counts["attempts"], counts["verified"], counts["correct"]
        s.errors = 0 if self.config.retry_errors else counts["errors"]
        s.solved = {pid for pid, _, v in store.verdicts() if v.correct}
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        stop = threading.Event()
        if self.stop_on_success and s.solved:
            stop.set()
        requests = self._requests(store, problems)
        rounds = self._rounds(store, problems, s.solved) if self.adaptive or self.stop_on_success else None

        def produce() -> None:
            try:
                if not stop.is_set():
                    for item in (rounds.generate(sampler, stop) if rounds else sampler.generate(requests)):
                        events.put(("failed" if isinstance(item, FailedSlot) else "sample", item))
                        if stop.is_set():
                            break
            except BaseException as exc:  # surfaced in the loop's thread
                events.put(("error", exc))
            events.put(("done", None))

        pool = self._verify_pool()
        inflight: dict[tuple[str, str], list[Sample]] = {}  # dedupe key -> attempts waiting on it
        cache: dict[tuple[str, str], Verdict] = {}  # real verdicts only: an error is never reused

        def _record(sample: Sample, verdict: Verdict) -> None:
            store.add_verdict(sample.problem_id, sample.index, verdict)
            if verdict.is_error:
                s.errors += 1
                log.warning("verifier error on %s#%d: %s", sample.problem_id, sample.index, verdict.detail.get("error"))
                return
            s.verified += 1
            if verdict.correct:
                s.correct += 1
                s.solved.add(sample.problem_id)
                if self.stop_on_success:
                    stop.set()

        def record(sample: Sample, verdict: Verdict) -> None:
            _record(sample, verdict)
            if rounds is not None:  # after s.solved is updated: the next round skips a solved problem
                rounds.settle(sample.problem_id, sample.index)

        def decided(key: tuple[str, str], verdict: Verdict, waiting: list[Sample]) -> None:
            if not verdict.is_error:
                cache[key] = verdict
            for sample in waiting:
                record(sample, verdict)

        def verify(sample: Sample) -> None:
            problem = problems[sample.problem_id]
            key = (sample.problem_id, self.task.dedupe_key(problem, sample.text))
            if key in cache:
                record(sample, cache[key])
            elif key in inflight:
                inflight[key].append(sample)
            elif pool is None:
                decided(key, self._safe_verify(problem, sample.text), [sample])
            else:
                inflight[key] = [sample]
                fut: Future = pool.submit(problem, sample.text)
                fut.add_done_callback(lambda f, key=key: events.put(("verdict", (key, f.result()))))

        # attempts a killed run stored but never judged, and (unless turned off) error verdicts
        for sample in store.unverified(errors=self.config.retry_errors):
            verify(sample)
        thread = threading.Thread(target=produce, name="sampler", daemon=True)
        self.on_phase("sampling")
        self.on_update(s)
        thread.start()
        producing, error, last_failure = True, None, None
        try:
            while producing or inflight:
                kind, payload = events.get()
                if kind == "sample" and store.add_sample(payload):
                    s.attempts += 1
                    s.generated_this_session += 1
                    s.completion_tokens += payload.completion_tokens
                    verify(payload)
                elif kind == "sample" and rounds is not None:
                    rounds.settle(payload.problem_id, payload.index)  # already stored: nothing to judge
                elif kind == "failed":
                    last_failure = self._failed(store, payload)
                    if s.failed_requests > self.config.max_failed_requests:
                        stop.set()
                        error = UserError(f"stopped after {s.failed_requests} failed requests (more than "
                                          f"--max-failed-requests {self.config.max_failed_requests}); last: {last_failure}")
                elif kind == "verdict":
                    decided(payload[0], payload[1], inflight.pop(payload[0]))
                elif kind == "error":
                    error = error or payload
                elif kind == "done":
                    producing = False
                self.on_update(s)
        except BaseException:
            stop.set()
            self._halt(sampler, thread)
            raise
        finally:
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        if error is None and last_failure is not None and s.generated_this_session == 0:
            error = UserError(f"every request failed; last: {last_failure}")
        if error is not None:
            if isinstance(error, UserError):
                raise error
            raise UserError(f"{self.config.backend} backend failed: {type(error).__name__}: {error}") from error

    def _halt(self, sampler: Sampler, thread: threading.Thread, grace_s: float = 60.0) -> None:
        """On an interrupt: cancel the sampler and wait for its thread, so that nobody frees a model that
        a decode is still using (llama.cpp segfaulted). A second Ctrl-C does not cut this short; a thread
        still alive after `grace_s` is abandoned with its model (see `abandoned`)."""
        cancel = getattr(sampler, "cancel", None)
        if cancel is not None:
            cancel()
        deadline = time.monotonic() + grace_s
        while thread.is_alive() and time.monotonic() < deadline:
            try:
                thread.join(0.1)
            except KeyboardInterrupt:
                continue
        if thread.is_alive():
            self.sampler_busy = True
            ABANDONED.append(sampler)
            log.warning("the sampler did not stop within %.0f s; its model is left to the process exit", grace_s)

    def _failed(self, store: Store, failed: FailedSlot) -> str:
        """Record a request's unfilled slots: the next run asks for them again."""
        for index in failed.indices:
            store.add_failure(failed.problem_id, index, failed.error)
        self.stats.failed_slots += len(failed.indices)
        self.stats.failed_requests += 1
        log.warning("slots %s of %s not filled: %s", list(failed.indices), failed.problem_id, failed.error)
        return failed.error

    def _safe_verify(self, problem: Problem, text: str) -> Verdict:
        """A verifier that raises must not kill the run: it becomes an `error` verdict with the traceback."""
        try:
            return self.task.verify(problem, text)
        except Exception as exc:
            log.warning("verifier raised on %s", problem.id, exc_info=True)
            return Verdict.from_exception(exc)
