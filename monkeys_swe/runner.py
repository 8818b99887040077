"""The attempt-and-check loop: sample -> store -> verify -> store.

Generation runs in a background thread and hands samples to this loop through a queue; the
loop persists each one at once and verifies it (inline for cheap checks, in a worker pool for
Docker and sandboxes), so early attempts are verified while later ones are still generated.
Only the loop's thread touches the store.
"""
from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from monkeys_swe.config import RunConfig
from monkeys_swe.errors import UserError
from monkeys_swe.registry import task_class
from monkeys_swe.samplers.base import Sampler, make_sampler, sample_seed
from monkeys_swe.store import Store
from monkeys_swe.types import Problem, Sample, SampleRequest, Verdict


@dataclass
class RunStats:
    problems: int = 0
    target_attempts: int = 0
    attempts: int = 0
    verified: int = 0
    correct: int = 0
    completion_tokens: int = 0
    generated_this_session: int = 0
    started: float = field(default_factory=time.perf_counter)
    solved: set[str] = field(default_factory=set)

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / max(time.perf_counter() - self.started, 1e-9)


def open_run(config: RunConfig, task: Any, sampler_name: str) -> tuple[Store, list[Problem]]:
    """Open (or create) the run directory for `config`; refuse a directory that holds another config."""
    store = Store(config.run_dir())
    identity = config.identity()
    stored = store.get_meta("config")
    if stored is not None and {k: v for k, v in stored.items() if k != "model_name"} != identity:
        store.close()
        raise UserError(f"{config.run_dir()} holds a run with a different config; use another --runs-dir")
    store.set_meta("config", {**identity, "model_name": sampler_name})
    problems = store.problems()
    if not problems:
        problems = task.load(config.data, config.limit)
        if not problems:
            raise UserError(f"task {config.task} loaded no problems from {config.data or 'its default dataset'}")
        store.add_problems(problems)
    return store, problems


class Runner:
    def __init__(
        self,
        config: RunConfig,
        *,
        task: Any = None,
        sampler: Sampler | None = None,
        on_update: Callable[[RunStats], None] | None = None,
        stop_on_success: bool = False,
    ):
        self.config = config
        self.task = task if task is not None else task_class(config.task)()
        self._sampler = sampler
        self.on_update = on_update or (lambda stats: None)
        self.stop_on_success = stop_on_success
        self.stats = RunStats()

    def run(self) -> Path:
        sampler = self._sampler or make_sampler(self.config)
        store, problems = open_run(self.config, self.task, sampler.model_name)
        try:
            self._loop(store, sampler, {p.id: p for p in problems})
        finally:
            store.close()
            if self._sampler is None:
                sampler.close()
        return self.config.run_dir()

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

    def _loop(self, store: Store, sampler: Sampler, problems: dict[str, Problem]) -> None:
        counts = store.counts()
        s = self.stats
        s.problems, s.target_attempts = len(problems), len(problems) * self.config.samples
        s.attempts, s.verified, s.correct = counts["attempts"], counts["verified"], counts["correct"]
        s.solved = {pid for pid, _, v in store.verdicts() if v.correct}
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        stop = threading.Event()
        if self.stop_on_success and s.solved:
            stop.set()

        requests = self._requests(store, problems)

        def produce() -> None:
            try:
                if not stop.is_set():
                    for sample in sampler.generate(requests):
                        events.put(("sample", sample))
                        if stop.is_set():
                            break
            except BaseException as exc:  # surfaced in the loop's thread
                events.put(("error", exc))
            events.put(("done", None))

        workers = self.config.verify_workers or getattr(self.task, "verify_workers", 0)
        pool = ThreadPoolExecutor(workers, thread_name_prefix="verify") if workers else None
        inflight: dict[tuple[str, str], list[Sample]] = {}  # dedupe key -> attempts waiting on it
        cache: dict[tuple[str, str], Verdict] = {}

        def record(sample: Sample, verdict: Verdict) -> None:
            store.add_verdict(sample.problem_id, sample.index, verdict)
            s.verified += 1
            if verdict.correct:
                s.correct += 1
                s.solved.add(sample.problem_id)
                if self.stop_on_success:
                    stop.set()

        def verify(sample: Sample) -> None:
            problem = problems[sample.problem_id]
            key = (sample.problem_id, self._dedupe_key(problem, sample.text))
            if key in cache:
                record(sample, cache[key])
            elif key in inflight:
                inflight[key].append(sample)
            elif pool is None:
                cache[key] = self._safe_verify(problem, sample.text)
                record(sample, cache[key])
            else:
                inflight[key] = [sample]
                fut: Future = pool.submit(self._safe_verify, problem, sample.text)
                fut.add_done_callback(lambda f, key=key: events.put(("verdict", (key, f.result()))))

        for sample in store.unverified():  # attempts a killed run stored but never judged
            verify(sample)
        thread = threading.Thread(target=produce, name="sampler", daemon=True)
        thread.start()
        producing, error = True, None
        try:
            while producing or inflight:
                kind, payload = events.get()
                if kind == "sample":
                    if store.add_sample(payload):
                        s.attempts += 1
                        s.generated_this_session += 1
                        s.completion_tokens += payload.completion_tokens
                        verify(payload)
                elif kind == "verdict":
                    key, verdict = payload
                    cache[key] = verdict
                    for waiting in inflight.pop(key):
                        record(waiting, verdict)
                elif kind == "error":
                    error = payload
                elif kind == "done":
                    producing = False
                self.on_update(s)
        except BaseException:
            stop.set()
            raise
        finally:
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
        if error is not None:
            if isinstance(error, UserError):
                raise error
            raise UserError(f"{self.config.backend} backend failed: {type(error).__name__}: {error}") from error

    def _dedupe_key(self, problem: Problem, text: str) -> str:
        key_fn = getattr(self.task, "dedupe_key", None)
        return key_fn(problem, text) if key_fn else text.strip()

    def _safe_verify(self, problem: Problem, text: str) -> Verdict:
        """A verifier bug must not kill the run: it becomes an 'error' verdict with the message."""
        try:
            return self.task.verify(problem, text)
        except Exception as exc:
            return Verdict(False, "error", None, {"error": f"{type(exc).__name__}: {exc}"})
