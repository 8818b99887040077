"""Prebuilt instance images, the way users with a registry get them.

Sources, tried in this order under `auto` (the default):
- the row's own `image` (swebench 5.x dataset rows carry one);
- `swebench`: the official harness's `swebench/sweb.eval.x86_64.<id>` on Docker Hub
  (`__` written `_1776_`, as Docker Hub refuses dunders), and the untagged
  `sweb.eval.x86_64.<id>` that a local run of swebench's own harness leaves behind;
- `epoch`: Epoch AI's layered rebuild, `ghcr.io/epoch-research/swe-bench.eval.x86_64.<id>`;
- then a local build (harness.images), which `local` asks for directly.

These images keep the repository at /testbed with its history and its environment in
the conda env `testbed` under /opt/miniconda3; grading.eval_script activates it when present.
Choose with `monkeys-swe verify --image-source`, or MONKEYS_SWE_IMAGE_SOURCE for every run.
A pull that cannot reach its registry marks that registry unreachable for the rest of the
process, so an offline run pays one failed lookup per registry, not one per instance.
"""
from __future__ import annotations

import logging
import os
import threading

import docker
from docker.errors import APIError, DockerException

from harness.docker_util import image_exists
from harness.instance import DataError, SWEInstance

log = logging.getLogger(__name__)

SOURCES = ("auto", "swebench", "epoch", "local")
ENV_VAR = "MONKEYS_SWE_IMAGE_SOURCE"
EPOCH_REGISTRY = os.environ.get("MONKEYS_SWE_EPOCH_REGISTRY", "ghcr.io/epoch-research")
_unreachable: set[str] = set()
_unreachable_lock = threading.Lock()
# Phrases of a pull that never reached a registry (as opposed to one that answered "no such image").
_NETWORK_ERRORS = ("no such host", "timeout", "connection", "network is unreachable", "i/o timeout",
                   "tls handshake", "no route to host")


def source_of(value: str | bool | None) -> str:
    """The image source asked for: a name in SOURCES, True (the configured default), False (local)."""
    if value is False:
        return "local"
    if value is None or value is True:
        value = os.environ.get(ENV_VAR, "auto")
    value = str(value).strip().lower()
    if value not in SOURCES:
        raise DataError(f"unknown image source {value!r}: use one of {', '.join(SOURCES)} "
                        f"(--image-source or {ENV_VAR})")
    return value


def swebench_name(instance_id: str) -> str:
    return f"swebench/sweb.eval.x86_64.{instance_id.replace('__', '_1776_')}:latest"


def epoch_name(instance_id: str) -> str:
    return f"{EPOCH_REGISTRY}/swe-bench.eval.x86_64.{instance_id}:latest"


def prebuilt_names(instance: SWEInstance, source: str | bool | None = None) -> list[tuple[str, bool]]:
    """(image name, may be pulled) in the order they are tried; [] for `local`."""
    source = source_of(source)
    if source == "local":
        return []
    iid = instance.instance_id
    names = [(instance.image, True)] if instance.image else []
    if source in ("auto", "swebench"):
        names += [(swebench_name(iid), True), (f"sweb.eval.x86_64.{iid}:latest", False)]
    if source in ("auto", "epoch"):
        names.append((epoch_name(iid), True))
    return names


def registry_of(name: str) -> str:
    first = name.split("/")[0]
    return first if "/" in name and ("." in first or ":" in first or first == "localhost") else "docker.io"


def try_pull(client: docker.DockerClient, name: str) -> bool:
    """Pull `name` if its registry answers and has it. Offline, the first failure marks
    the registry unreachable and later calls return False at once."""
    registry = registry_of(name)
    with _unreachable_lock:
        if registry in _unreachable:
            return False
    last = name.split("/")[-1]
    repo, tag = (name.rsplit(":", 1) if ":" in last else (name, "latest"))
    try:
        out = client.api.pull(repo, tag=tag or "latest")
        if not image_exists(client, f"{repo}:{tag or 'latest'}"):  # Podman answers 200, the error in the stream
            raise DockerException(str(out)[-500:])
        return True
    except (APIError, DockerException) as exc:
        msg = str(exc)
        if any(phrase in msg.lower() for phrase in _NETWORK_ERRORS):
            with _unreachable_lock:
                _unreachable.add(registry)
            log.info("registry %s unreachable; no more pulls from it in this process", registry)
        log.debug("pull %s failed: %s", name, msg.splitlines()[0] if msg else exc)
        return False


def unreachable_registries() -> set[str]:
    with _unreachable_lock:
        return set(_unreachable)


def find_prebuilt(instance: SWEInstance, client: docker.DockerClient, pull: bool = True,
                  source: str | bool | None = None) -> str | None:
    """The first prebuilt image for `instance` that is local or pullable, else None."""
    if instance.repo_path:  # a custom instance has no published image
        return None
    for name, pullable in prebuilt_names(instance, source):
        if image_exists(client, name) or (pull and pullable and try_pull(client, name)):
            return name
    return None


__all__ = ["SOURCES", "source_of", "prebuilt_names", "try_pull", "find_prebuilt", "swebench_name",
           "epoch_name", "registry_of", "unreachable_registries"]
