"""The Ray executor: a driver connected to a cluster (`--ray auto` or an address).

Generation runs in sampler replicas (ray_generate), verification in tasks that hold a `docker`
slot and run in a per-(node, instance) actor (ray_verify); the driver keeps the run's store and
writes every attempt and verdict as results stream back, exactly as the local executor does.
"""
from __future__ import annotations

import time
from concurrent.futures import Future
from typing import Any, Callable

from monkeys_swe.errors import UserError
from monkeys_swe.executors.local import timing_log
from monkeys_swe.types import Problem, Verdict

START_HINT = "ray start --head --resources '{\"docker\": N}'"


def connect(address: str) -> bool:
    """Connect this process to the cluster; True when this call made the connection."""
    try:
        import ray
    except ImportError:
        raise UserError("--ray needs Ray: pip install 'monkeys-swe[ray]'") from None
    if ray.is_initialized():
        return False
    from monkeys_swe.executors.ray_verify import NAMESPACE

    try:
        ray.init(address=address, namespace=NAMESPACE, log_to_driver=False, logging_level="WARNING",
                 configure_logging=False)
    except ConnectionError as exc:
        raise UserError(f"no Ray cluster at {address!r} ({exc}); start one with {START_HINT}") from None
    return True


class RayTaskVerifyPool:
    """The runner's verification pool on the cluster: one task per deduplicated attempt.

    SWE-bench: the driver already turned the completion into a diff (for the dedupe key; the
    task caches it), so a candidate travels as its diff to an actor that holds the instance and
    only verifies; a completion with no diff is `malformed` here, with no task at all."""

    def __init__(self, pool: Any, task: Any, registry: str | None):
        from monkeys_swe.executors.ray_work import task_work

        self._pool, self._task, self._registry = pool, task, registry
        self._work: dict[str, tuple[str, Any]] = {}  # problem id -> (actor name, factory)
        self._task_work = task_work
        self._diffs = callable(getattr(task, "verify_patch", None)) and callable(getattr(task, "to_patch", None))

    def submit(self, problem: Problem, completion: str) -> Future:
        if problem.id not in self._work:
            self._work[problem.id] = self._task_work(self._task, problem, self._registry)
        name, factory = self._work[problem.id]
        if not self._diffs:
            return self._pool.submit_call(name, factory, "verify", (problem, completion), error=Verdict.from_exception)
        from monkeys_swe.tasks.swebench.edits import EditError

        try:
            patch, edit_format = self._task.to_patch(problem, completion)
        except EditError as exc:
            done: Future = Future()
            done.set_result(self._task.malformed(exc))
            return done
        out = self._pool.submit_call(name, factory, "verify_patch", (patch, edit_format), error=Verdict.from_exception)
        out.add_done_callback(self._count)
        return out

    def _count(self, f: Future) -> None:
        """The driver's task counts Docker runs and cache hits as the local executor's does."""
        detail = f.result().detail or {}
        if "cached" in detail:
            if detail["cached"]:
                self._task.cache_hits += 1
            else:
                self._task.docker_verifications += 1

    def shutdown(self, wait: bool = False, cancel_futures: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


class RayExecutor:
    name = "ray"

    def __init__(self, address: str = "auto", *, replicas: int = 1, cpus_per_replica: float = 1,
                 endpoints: tuple[str, ...] = (), registry: str | None = None, max_in_flight: int | None = None,
                 max_retries: int = 3):
        self.address = address
        self._owns = connect(address)
        self.replicas, self.cpus_per_replica, self.endpoints = replicas, cpus_per_replica, tuple(endpoints)
        self.registry, self.max_retries = registry, max_retries
        self._max_in_flight = max_in_flight
        self.actors: set[str] = set()  # verification actors used: closed with the executor
        self.timings = timing_log()  # the latest verification tasks' phases (benchmarks/ray_overhead.py)
        self._described, self._line = 0.0, ""

    # -- resources -------------------------------------------------------------------------
    def docker_slots(self) -> int:
        import ray

        slots = int(ray.cluster_resources().get("docker", 0))
        if slots < 1:
            raise UserError(f"no node of the Ray cluster declares the 'docker' resource; start nodes with {START_HINT}")
        return slots

    def _pool(self) -> Any:
        from monkeys_swe.executors.ray_verify import RayVerifyPool

        # Enough refs in flight to keep every slot busy with the next one queued, and no more.
        bound = self._max_in_flight or 2 * self.docker_slots()
        return RayVerifyPool(max_in_flight=bound, max_retries=self.max_retries, actors=self.actors,
                             timings=self.timings)

    def describe(self) -> str:
        """'2 nodes  GPU 0/0  docker 3/4 in use', refreshed at most once a second."""
        now = time.monotonic()
        if now - self._described < 1.0:
            return self._line
        import ray

        self._described = now
        try:
            nodes = sum(1 for n in ray.nodes() if n.get("Alive"))
            total, free = ray.cluster_resources(), ray.available_resources()
        except Exception:  # the cluster is going away; keep the last line
            return self._line
        used = lambda key: total.get(key, 0) - free.get(key, 0)  # noqa: E731
        self._line = (f"{nodes} nodes  GPU {used('GPU'):g}/{total.get('GPU', 0):g}  "
                      f"docker {used('docker'):g}/{total.get('docker', 0):g} in use")
        return self._line

    # -- the seam --------------------------------------------------------------------------
    def sampler(self, config: Any) -> Any:
        if config.backend == "replay" or (config.backend == "openai" and not self.endpoints):
            # Replay reads the driver's files; one OpenAI server is already remote.
            from monkeys_swe.samplers.base import make_sampler

            return make_sampler(config)
        from monkeys_swe.executors.ray_generate import RaySampler

        return RaySampler(config, replicas=self.replicas, cpus_per_replica=self.cpus_per_replica,
                          endpoints=self.endpoints)

    def prepare(self, task: Any, problems: list[Problem]) -> None:
        """Tasks verified on the cluster set up on each node (ray_work); the driver checks that
        some node can take the work and starts, without waiting, the actors the first tasks on
        each node will need (ray_verify.prewarm), so their setup overlaps generation. Other
        instances' actors start when a node first needs them. Inline tasks prepare here."""
        if not task.verify_workers:
            task.prepare(problems)
            return
        slots = self.docker_slots()
        from monkeys_swe.executors.ray_verify import prewarm
        from monkeys_swe.executors.ray_work import task_work

        works: dict[str, Any] = {}
        for p in problems:
            name, factory = task_work(task, p, self.registry)
            works.setdefault(name, factory)
            if len(works) >= slots:  # no node takes more than that many first
                break
        self.actors.update(prewarm(list(works.items())))

    def verify_pool(self, task: Any, verify: Callable[[Problem, str], Verdict], workers: int) -> RayTaskVerifyPool:
        return RayTaskVerifyPool(self._pool(), task, self.registry)

    def verify_predictions(self, instances: dict, predictions: list[dict], *, stream_path=None, report=None,
                           on_verdict=None, on_instance=None, **options: Any) -> dict:
        """harness.batch.verify_predictions on the cluster, same arguments and report: every
        instance at once, each unique (instance, patch) dispatched once (`options` go to each
        node's harness Verifier)."""
        from harness import batch
        from harness import patch as patches
        from harness.instance import DataError
        from monkeys_swe.executors.ray_predictions import collect

        unknown = sorted({p["instance_id"] for p in predictions} - set(instances))
        if unknown:
            raise DataError(f"predictions name instances missing from the data: {', '.join(unknown[:5])}")
        return collect(self._pool(), instances, predictions, options, self.registry, report=report,
                       stream_path=stream_path, on_verdict=on_verdict, on_instance=on_instance,
                       summarize=batch._summarize, patch_hash=patches.patch_hash)

    def close(self) -> None:
        import ray

        from monkeys_swe.executors.ray_verify import close_actors

        if ray.is_initialized():
            close_actors(set(self.actors))
            self.actors.clear()
            if self._owns:
                ray.shutdown()
        _reap_local_orphans()


def _reap_local_orphans() -> None:
    """Containers on this host whose actor died with its node (a killed raylet): remove them."""
    try:
        from harness import lifecycle
        from harness.docker_util import LABEL, get_client

        lifecycle.reap_orphans(get_client(), LABEL, once=False)
    except Exception:  # no Docker on the driver's host: the nodes reap their own at next start
        pass
