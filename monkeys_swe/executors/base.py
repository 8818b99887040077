"""The executor seam: what the run loop and the `verify` command ask of wherever work runs."""
from __future__ import annotations

from concurrent.futures import Future
from typing import Any, Callable, Protocol

from monkeys_swe.samplers.base import Sampler
from monkeys_swe.types import Problem, Verdict


class VerifyPool(Protocol):
    def submit(self, problem: Problem, completion: str) -> Future:
        """Start verifying one (deduplicated) attempt; the Future always resolves to a Verdict."""
        ...

    def shutdown(self, wait: bool = False, cancel_futures: bool = True) -> None: ...


class Executor(Protocol):
    def sampler(self, config: Any) -> Sampler:
        """The generation backend that `config` names, running wherever this executor runs work."""
        ...

    def prepare(self, task: Any, problems: list[Problem]) -> None:
        """Before sampling: set up what verification needs (images, pools) where it will run."""
        ...

    def verify_pool(self, task: Any, verify: Callable[[Problem, str], Verdict], workers: int) -> VerifyPool:
        """Concurrent verification for `task`; `verify` is the driver-side safe verify (local use)."""
        ...

    def verify_predictions(self, instances: dict, predictions: list[dict], **options: Any) -> dict:
        """harness.batch.verify_predictions's contract: same arguments, same report."""
        ...

    def describe(self) -> str:
        """One short line about the resources in use ('' when there is nothing to say)."""
        ...

    def close(self) -> None: ...
