"""Agent trajectories as attempts: a Sampler whose every sample is one whole trajectory's diff.

    agent = AgentSampler(make_sampler(config), run_dir, target_for, limits=AgentLimits(step_limit=30))
    Runner(config, task=swebench_task, sampler=agent).run()

The run loop then stores, dedupes, verifies, selects and reports agent attempts exactly like
one-shot ones: a sample's text is the trajectory's final diff, its token counts are the sum
over its steps (so modes compare at equal cost), and `meta` says how the trajectory ended.
Trajectories run in parallel, bounded by `parallel` (sandboxes) and, for model calls, by the
inner sampler's concurrency; the steps of each go to the run's database as they happen, and a
trajectory cut short by a crash resumes from its stored steps.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Iterator

from harness.patch import is_test_path
from monkeys_swe.agent.loop import AgentLimits, initial_messages, run_trajectory
from monkeys_swe.trajectories import Step, TrajectoryStore
from monkeys_swe.samplers.base import BaseSampler, Sampler
from monkeys_swe.types import GenerationParams, Sample, SampleRequest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AgentTarget:
    """Where a problem's trajectories run: its instance image (shared by all of them) and issue."""

    image: str
    problem_statement: str
    exclude: Callable[[str], bool] = is_test_path  # paths left out of the candidate diff


class AgentSampler(BaseSampler):
    name: ClassVar[str] = "agent"

    def __init__(self, inner: Sampler, run_dir: str | Path, target_for: Callable[[str], AgentTarget], *,
                 limits: AgentLimits = AgentLimits(), parallel: int = 2, model_concurrency: int | None = None,
                 params: GenerationParams | None = None, on_step: Callable[[str, int, Step], None] | None = None):
        self.inner, self.run_dir, self.target_for = inner, Path(run_dir), target_for
        self.limits, self.parallel, self.params = limits, max(1, parallel), params
        self.model_name = inner.model_name
        # In-process models (llama.cpp, vLLM offline) take one call at a time; servers take more.
        self.gate = threading.BoundedSemaphore(model_concurrency or getattr(inner, "concurrency", 1))
        self.on_step = on_step or (lambda pid, index, step: None)
        self._store: TrajectoryStore | None = None
        self._lock = threading.Lock()

    @property
    def store(self) -> TrajectoryStore:
        with self._lock:  # opened lazily: the run loop creates the run directory first
            if self._store is None:
                self._store = TrajectoryStore(self.run_dir)
            return self._store

    def generate(self, requests: Iterable[SampleRequest]) -> Iterator[Sample]:
        pool = ThreadPoolExecutor(self.parallel, thread_name_prefix="agent")
        jobs = ((req, index, seed) for req in requests for index, seed in zip(req.indices, req.seeds))
        inflight: set = set()
        try:
            while True:
                while len(inflight) < self.parallel and (job := next(jobs, None)) is not None:
                    inflight.add(pool.submit(self.attempt, *job))
                if not inflight:
                    return
                done, inflight = wait(inflight, return_when=FIRST_COMPLETED)
                for fut in done:
                    yield fut.result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def attempt(self, req: SampleRequest, index: int, seed: int) -> Sample:
        """One trajectory, start to end (or from where a crashed run left it)."""
        pid, target, store = req.problem_id, self.target_for(req.problem_id), self.store
        old = store.load(pid, index)
        if old is not None and old.exit_status is not None:  # finished before a crash lost its attempt row
            return _as_sample(pid, index, seed, old.diff or "", old.steps, old.exit_status, old.detail)
        store.start(pid, index, seed, initial_messages(target.problem_statement))
        params = self.params or dataclasses.replace(req.params, stop=())  # one-shot stops would cut commands
        result = run_trajectory(
            self.inner, target.image, target.problem_statement, limits=self.limits, seed=seed,
            problem_id=pid, index=index, params=params, exclude=target.exclude, gate=self.gate,
            prior=old.steps if old is not None else (),
            on_step=lambda step: (store.add_step(pid, index, step), self.on_step(pid, index, step)))
        detail = {"wall_s": round(result.wall_s, 3), "model_s": round(result.model_s, 3),
                  "error": result.error, "dropped_files": result.dropped_files}
        if result.traceback:
            detail["traceback"] = result.traceback[-8000:]
            log.warning("trajectory %s#%d ended with %s: %s", pid, index, result.exit_status, result.error)
        store.finish(pid, index, result.exit_status, result.diff, detail)
        return _as_sample(pid, index, seed, result.diff, result.steps, result.exit_status, detail)

    def cancel(self) -> None:
        self.inner.cancel()  # the trajectories in flight end at their next model call

    def close(self) -> None:
        """Close the trajectory store; the inner sampler belongs to whoever built it."""
        if self._store is not None:
            self._store.close()
            self._store = None


def _as_sample(pid: str, index: int, seed: int, diff: str, steps: list[Step], exit_status: str,
               detail: dict[str, Any]) -> Sample:
    return Sample(pid, index, diff, sum(s.prompt_tokens for s in steps), sum(s.completion_tokens for s in steps),
                  seed, float(detail.get("wall_s") or 0.0), exit_status,
                  {"mode": "agent", "steps": len(steps), "exit_status": exit_status, **detail})


def swebench_targets(task: Any, problems: list[Any]) -> Callable[[str], AgentTarget]:
    """Targets for a SWEBenchTask's problems: each instance's image is the one its verifier
    builds (once, shared by every trajectory and every verification of that instance), and
    the instance's test files stay out of the candidate exactly as the verifier would drop them."""
    from harness import specs

    by_id = {p.id: p for p in problems}
    cache: dict[str, AgentTarget] = {}
    lock = threading.Lock()

    def target_for(problem_id: str) -> AgentTarget:
        with lock:
            if problem_id not in cache:
                inst = task.instance(by_id[problem_id])
                verifier = task.verifier(inst)
                cache[problem_id] = AgentTarget(verifier.ensure_image(), inst.problem_statement,
                                                lambda path, spec=verifier.spec: specs.is_protected(path, spec))
            return cache[problem_id]

    return target_for
