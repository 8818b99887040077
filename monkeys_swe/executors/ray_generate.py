"""Generation on Ray: the configured sampler runs inside actors (replicas), fed one request
(a problem's missing slots, `n` at once as the sampler does locally) at a time per free replica;
samples stream back to the driver as each is done (Ray streaming generators).

- llamacpp: each replica takes `cpus_per_replica` CPUs (how the CPU tests run);
- vllm: each replica takes `tensor_parallel_size` GPUs, from a placement group when more than one
  (STRICT_PACK: the shards of one replica on one node); data parallel = more replicas;
- openai with endpoints: one replica per endpoint URL (no resources), each with `concurrency`
  requests in flight.
A replica that dies is restarted by Ray (`max_restarts`) and its request retried
(`max_task_retries`); slots that arrive twice are ignored by the store.
"""
from __future__ import annotations

import json
import os
from typing import Any, Iterable, Iterator

import ray
from ray.util.placement_group import placement_group, remove_placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from monkeys_swe.errors import UserError
from monkeys_swe.types import Sample, SampleRequest

PLACEMENT_TIMEOUT_S = 600


@ray.remote(max_restarts=3, max_task_retries=3)
class SamplerReplica:
    def __init__(self, config: Any):
        from monkeys_swe.samplers.base import make_sampler

        self.sampler = make_sampler(config)

    def model_name(self) -> str:
        return self.sampler.model_name

    def generate(self, request: SampleRequest) -> Iterator[Sample]:
        yield from self.sampler.generate([request])

    def close(self) -> None:
        self.sampler.close()


def tensor_parallel_size(config: Any) -> int:
    from monkeys_swe.cost import model_entry
    from monkeys_swe.samplers.vllm import engine_args

    return int(engine_args(model_entry(config.model or "")).get("tensor_parallel_size") or 1)


class RaySampler:
    """The Sampler protocol over `replicas` actors of the configured backend."""

    name = "ray"

    def __init__(self, config: Any, *, replicas: int = 1, cpus_per_replica: float = 1,
                 endpoints: Iterable[str] = ()):
        self.config, self._groups, self.actors = config, [], []
        endpoints = list(endpoints)
        in_flight = 1
        if config.backend == "openai" and endpoints:
            specs = [({"num_cpus": 0, "max_concurrency": config.concurrency},
                      config.model_copy(update={"base_url": url})) for url in endpoints]
            in_flight = config.concurrency
        elif config.backend == "vllm":
            tp = tensor_parallel_size(config)
            gpus = ray.cluster_resources().get("GPU", 0)
            if gpus < tp:
                raise UserError(f"the Ray cluster has {gpus:g} GPUs; a vllm replica needs tensor_parallel_size={tp}")
            specs = [(self._gpu_options(tp), config) for _ in range(replicas)]
            in_flight = 4  # vLLM batches whatever is in flight
        else:
            if ray.cluster_resources().get("CPU", 0) < cpus_per_replica:
                raise UserError(f"no node of the Ray cluster has {cpus_per_replica:g} CPUs for a {config.backend} replica")
            specs = [({"num_cpus": cpus_per_replica}, config) for _ in range(replicas)]
        self.actors = [SamplerReplica.options(**opts).remote(cfg) for opts, cfg in specs]
        self._in_flight = in_flight
        self.model_name = ray.get(self.actors[0].model_name.remote())

    def _gpu_options(self, tp: int) -> dict[str, Any]:
        if tp <= 1:
            return {"num_gpus": 1}
        pg = placement_group([{"GPU": 1, "CPU": 1}] * tp, strategy="STRICT_PACK")
        try:
            ray.get(pg.ready(), timeout=PLACEMENT_TIMEOUT_S)
        except ray.exceptions.GetTimeoutError:
            remove_placement_group(pg)
            raise UserError(f"no node could host {tp} GPUs together (STRICT_PACK) within "
                            f"{PLACEMENT_TIMEOUT_S} s; lower tensor_parallel_size or add GPUs") from None
        self._groups.append(pg)
        # vLLM's Ray backend starts its tensor-parallel workers inside the captured group.
        return {"num_cpus": 0, "num_gpus": 0,
                "scheduling_strategy": PlacementGroupSchedulingStrategy(pg, placement_group_capture_child_tasks=True),
                "runtime_env": {"env_vars": {"MONKEYS_SWE_VLLM_ARGS": json.dumps(
                    {**json.loads(os.environ.get("MONKEYS_SWE_VLLM_ARGS") or "{}"),
                     "distributed_executor_backend": "ray"})}}}

    def generate(self, requests: Iterable[SampleRequest]) -> Iterator[Sample]:
        pending = list(requests)[::-1]
        load = [0] * len(self.actors)
        streams: dict[Any, int] = {}  # streaming generator -> replica

        def feed() -> None:
            while pending:
                i = min(range(len(load)), key=load.__getitem__)
                if load[i] >= self._in_flight:
                    return
                gen = self.actors[i].generate.options(num_returns="streaming").remote(pending.pop())
                streams[gen] = i
                load[i] += 1

        feed()
        try:
            while streams:
                ready, _ = ray.wait(list(streams), num_returns=1)
                gen = ready[0]
                try:
                    ref = next(gen)
                except StopIteration:
                    load[streams.pop(gen)] -= 1
                    feed()
                    continue
                yield ray.get(ref)
        finally:
            for gen in streams:  # the consumer stopped early (stop on success, Ctrl-C)
                try:
                    ray.cancel(gen)
                except Exception:
                    pass

    def close(self) -> None:
        done = [a.close.remote() for a in self.actors]
        ray.wait(done, num_returns=len(done), timeout=30)
        for a in self.actors:
            ray.kill(a)
        for pg in self._groups:
            remove_placement_group(pg)
