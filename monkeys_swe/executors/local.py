"""Today's behaviour: the sampler in a thread of this process, verification in a thread pool."""
from __future__ import annotations

import collections
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

from monkeys_swe.samplers.base import Sampler, make_sampler
from monkeys_swe.types import Problem, Verdict


class LocalVerifyPool:
    def __init__(self, verify: Callable[[Problem, str], Verdict], workers: int,
                 timings: collections.deque | None = None):
        self._verify = verify
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="verify")
        self.timings = timings if timings is not None else timing_log()  # per attempt: queued / work seconds

    def submit(self, problem: Problem, completion: str) -> Future:
        return self._pool.submit(self._timed, time.time(), problem, completion)

    def _timed(self, submitted: float, problem: Problem, completion: str) -> Verdict:
        start = time.time()
        verdict = self._verify(problem, completion)
        end = time.time()
        self.timings.append({"queued": start - submitted, "work": end - start, "total": end - submitted,
                             "t_start": start, "t_stop": end, "node": threading.current_thread().name})
        return verdict

    def shutdown(self, wait: bool = False, cancel_futures: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def timing_log() -> collections.deque:
    """The latest verifications' phases (seconds), for benchmarks/ray_overhead.py: bounded, so a
    75,000-attempt run does not keep them all."""
    return collections.deque(maxlen=10_000)


class LocalExecutor:
    name = "local"

    def __init__(self) -> None:
        self.timings = timing_log()

    def sampler(self, config: Any) -> Sampler:
        return make_sampler(config)

    def prepare(self, task: Any, problems: list[Problem]) -> None:
        task.prepare(problems)  # images and pools here, before sampling: setup errors come first

    def verify_pool(self, task: Any, verify: Callable[[Problem, str], Verdict], workers: int) -> LocalVerifyPool:
        return LocalVerifyPool(verify, workers, self.timings)

    def verify_predictions(self, instances: dict, predictions: list[dict], **options: Any) -> dict:
        from harness import batch

        return batch.verify_predictions(instances, predictions, **options)

    def describe(self) -> str:
        return ""

    def close(self) -> None:
        pass
