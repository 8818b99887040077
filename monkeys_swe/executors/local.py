"""Today's behaviour: the sampler in a thread of this process, verification in a thread pool."""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

from monkeys_swe.samplers.base import Sampler, make_sampler
from monkeys_swe.types import Problem, Verdict


class LocalVerifyPool:
    def __init__(self, verify: Callable[[Problem, str], Verdict], workers: int):
        self._verify = verify
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="verify")

    def submit(self, problem: Problem, completion: str) -> Future:
        return self._pool.submit(self._verify, problem, completion)

    def shutdown(self, wait: bool = False, cancel_futures: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


class LocalExecutor:
    name = "local"

    def sampler(self, config: Any) -> Sampler:
        return make_sampler(config)

    def prepare(self, task: Any, problems: list[Problem]) -> None:
        task.prepare(problems)  # images and pools here, before sampling: setup errors come first

    def verify_pool(self, task: Any, verify: Callable[[Problem, str], Verdict], workers: int) -> LocalVerifyPool:
        return LocalVerifyPool(verify, workers)

    def verify_predictions(self, instances: dict, predictions: list[dict], **options: Any) -> dict:
        from harness import batch

        return batch.verify_predictions(instances, predictions, **options)

    def describe(self) -> str:
        return ""

    def close(self) -> None:
        pass
