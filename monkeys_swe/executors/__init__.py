"""Where the loop's work runs: local threads (the default) or a Ray cluster.

The runner, `verify` and `sweep` hand work to an executor and never ask where it ran:
- `sampler(config)`: the generation backend (local: the sampler itself; Ray: replicas as actors),
- `verify_pool(task, verify, workers)`: concurrent verification of attempts (Future per attempt),
- `verify_predictions(...)`: SWE-bench predictions files (the `verify` command),
- `describe()`: one line about the resources in use, for the progress display.
The driver alone writes the store, so resume works the same under both.
"""
from __future__ import annotations

from monkeys_swe.executors.base import Executor, VerifyPool
from monkeys_swe.executors.local import LocalExecutor


def make_executor(ray: str | None = None, **options) -> Executor:
    """LocalExecutor without `ray`; with it, a RayExecutor connected to that cluster ("auto" or an address)."""
    if not ray:
        return LocalExecutor()
    from monkeys_swe.executors.ray_executor import RayExecutor

    return RayExecutor(ray, **options)


__all__ = ["Executor", "VerifyPool", "LocalExecutor", "make_executor"]
