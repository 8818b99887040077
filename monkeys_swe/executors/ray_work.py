"""What a node's verification actor holds, built on that node: a harness Verifier for the
`verify` command, a task (SWE-bench: one instance's) for runs. Factories are plain picklable
callables; the image is built (or pulled from an optional registry) the first time a node needs it."""
from __future__ import annotations

import functools
import hashlib
import inspect
import logging
import pickle
from typing import Any, Callable

log = logging.getLogger(__name__)


def _digest(*parts: Any) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:10]


# -- an optional registry: the first node to build an image pushes it, the others pull ----------
def registry_ref(registry: str, instance: Any, base_image: str | None) -> str:
    digest = _digest(instance.model_dump_json(), base_image)
    return f"{registry.rstrip('/')}/monkeys-swe-instance:{instance.instance_id.lower()[:100]}-{digest}"


def shared_image(verifier: Any, registry: str | None) -> str:
    """The verifier's image: pulled from `registry` when a node pushed it already, else built
    here (harness.images caches it on this node) and pushed for the other nodes."""
    if not registry:
        return verifier.ensure_image()
    from docker.errors import APIError

    ref = registry_ref(registry, verifier.instance, verifier.base_image)
    repo, tag = ref.rsplit(":", 1)
    client = verifier.client
    try:
        client.images.pull(repo, tag=tag)
        verifier.image = ref
        return ref
    except APIError:  # not pushed yet (or no registry reachable): build it here
        pass
    local = verifier.ensure_image()
    try:
        client.images.get(local).tag(repo, tag)
        for line in client.images.push(repo, tag=tag, stream=True, decode=True):
            if "error" in line:
                log.warning("push %s: %s", ref, line["error"])
                break
    except APIError as exc:
        log.warning("could not push %s: %s", ref, exc)
    return local


# -- the `verify` command: one harness Verifier per (node, instance) ------------------------------
class InstanceVerifier:
    """What a node's actor holds for the `verify` command: the instance's Verifier, image built."""

    def __init__(self, instance: Any, options: dict[str, Any], registry: str | None):
        from harness.verify import Verifier

        self.verifier = Verifier(instance, **options)
        shared_image(self.verifier, registry)
        self.verifier._sandboxes()  # start the warm pool now, not in the first attempt

    def verify(self, patch: str, patch_hash: str) -> Any:
        return self.verifier._safe_verify(patch, patch_hash)

    def environment(self) -> dict | None:
        health = getattr(self.verifier, "_health", None)
        return health.to_dict() if health is not None else None

    def close(self) -> None:
        self.verifier.close()


def instance_work(instance: Any, options: dict[str, Any], registry: str | None) -> tuple[str, Callable[[], Any]]:
    name = f"verify:{instance.instance_id}:{_digest(sorted(options.items()), registry)}"
    return name, functools.partial(InstanceVerifier, instance, options, registry)


# -- runs: the task itself, on the node (SWE-bench: prepared for one instance) --------------------
SKIP = ("self", "instances", "instance_ids", "localizer")  # what a node's verifier does not need


def constructor_settings(task: Any) -> dict[str, Any]:
    """The task's settings (its constructor's keyword arguments, kept as same-named attributes)."""
    params = inspect.signature(type(task).__init__).parameters
    settings = {name: getattr(task, name) for name, p in params.items()
                if name not in SKIP and p.kind is p.KEYWORD_ONLY and hasattr(task, name)}
    if hasattr(settings.get("verdict_cache"), "path"):  # an open VerdictCache: its file travels
        settings["verdict_cache"] = str(settings["verdict_cache"].path)
    return settings


class InstanceTask:
    """What a node's actor holds for a run's SWE-bench instance: the task prepared for it (image,
    warm sandbox pool, verdict cache) and the problem, both shipped once with the factory; each
    candidate then carries only its diff (the driver did the completion -> diff step)."""

    def __init__(self, settings: dict[str, Any], problem: Any, registry: str | None):
        from harness.verify import Verifier
        from monkeys_swe.tasks.swebench import SWEBenchTask

        task = SWEBenchTask(**settings)
        inst = task.instance(problem)
        if registry:  # the task's own verifier, with its image from the registry when there
            verifier = Verifier(inst, repo_mirror=task.repo_mirror, pool_size=task.pool_size or task.verify_workers,
                                log_dir=task.log_dir, limits=task.limits, base_image=task.base_image,
                                verdict_cache=task._verdict_cache)
            shared_image(verifier, registry)
            verifier._sandboxes()
            task._verifiers[inst.instance_id] = verifier
        task.prepare([problem])  # image and warm sandbox pool
        self.task, self.problem = task, problem

    def verify_patch(self, patch: str, edit_format: str) -> Any:
        return self.task.verify_patch(self.problem, patch, edit_format)

    def verify(self, completion: str) -> Any:  # a completion the driver did not turn into a diff
        return self.task.verify(self.problem, completion)

    def close(self) -> None:
        self.task.close()


def _same(obj: Any) -> Any:
    return obj


def task_work(task: Any, problem: Any, registry: str | None) -> tuple[str, Callable[[], Any]]:
    """(actor name, factory) for verifying `problem`'s attempts: SWE-bench gets an actor per
    instance; other tasks one actor per task (shipped as they are when they pickle)."""
    from monkeys_swe.tasks.swebench import SWEBenchTask
    from monkeys_swe.types import Problem

    if isinstance(task, SWEBenchTask):
        settings = constructor_settings(task)
        # what verification reads of the problem: its instance (not the prompt's code context)
        slim = Problem(id=problem.id, question="", data={"instance": problem.data["instance"]})
        name = f"swebench:{problem.id}:{_digest(sorted(settings.items()), registry, slim.data)}"
        return name, functools.partial(InstanceTask, settings, slim, registry)
    try:
        blob = pickle.dumps(task)
        return f"task:{task.name}:{hashlib.sha256(blob).hexdigest()[:10]}", functools.partial(_same, task)
    except Exception:  # locks, pools...: a fresh default instance of the task on the node
        return f"task:{task.name}:default", type(task)
