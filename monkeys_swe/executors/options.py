"""`--ray` and its companions, shared by bench, verify and sweep."""
from __future__ import annotations

from typing import Any, Callable

import click

RAY_FLAGS = ("ray", "ray_replicas", "ray_endpoint", "ray_registry", "ray_in_flight")


def ray_options(f: Callable) -> Callable:
    opts = [
        click.option("--ray", "ray", metavar="auto|ADDRESS",
                     help="Run on a Ray cluster: 'auto' (this node's cluster) or an address (HEAD:6379, "
                          "ray://HEAD:10001). Nodes that verify declare --resources '{\"docker\": N}'."),
        click.option("--ray-replicas", type=int, default=1, show_default=True,
                     help="With --ray: sampler replicas (llamacpp: 1 CPU each; vllm: tensor_parallel_size GPUs each)."),
        click.option("--ray-endpoint", multiple=True, metavar="URL",
                     help="With --ray and --backend openai: an OpenAI-compatible server (repeatable), one replica each."),
        click.option("--ray-registry", metavar="NAME",
                     help="With --ray: a registry (host:port/prefix) where the first node to build an image pushes it and the others pull."),
        click.option("--ray-in-flight", type=int,
                     help="With --ray: verification tasks in flight (default: twice the cluster's docker slots)."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def pop_ray_flags(flags: dict[str, Any]) -> dict[str, Any]:
    """Take the --ray flags out of a command's flags (the rest build the run's config)."""
    return {k: flags.pop(k, None) for k in RAY_FLAGS}


def executor_from(values: dict[str, Any]) -> Any:
    """The executor the --ray flags ask for (local threads without --ray)."""
    from monkeys_swe.errors import UserError
    from monkeys_swe.executors import make_executor

    address = values["ray"]
    if not address:
        if values["ray_endpoint"] or values["ray_registry"] or values["ray_in_flight"] or (values["ray_replicas"] or 1) != 1:
            raise UserError("--ray-replicas, --ray-endpoint, --ray-registry and --ray-in-flight need --ray auto|ADDRESS")
        return make_executor(None)
    if (values["ray_replicas"] or 1) < 1 or (values["ray_in_flight"] is not None and values["ray_in_flight"] < 1):
        raise UserError("--ray-replicas and --ray-in-flight must be at least 1")
    return make_executor(address, replicas=values["ray_replicas"] or 1, endpoints=tuple(values["ray_endpoint"] or ()),
                         registry=values["ray_registry"], max_in_flight=values["ray_in_flight"])
