"""Per-instance images: SWE-bench's prebuilt one when it can be had, else built here.

A built image is: a base with Python (python:X-slim when a registry answers, else the
offline monkeys-swe/python:3.11 from debootstrap), the repository at `base_commit`
committed as a one-commit git repo in /testbed, and the install commands. It is tagged
by a hash of everything that went in, so a rebuild happens only when an input changes.

`python -m harness.images` builds the offline base images (the bootstrap script uses it).
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import shlex
import threading
from pathlib import Path

import docker
from docker.errors import APIError, DockerException, ImageNotFound

from harness import lifecycle, repos, specs
from harness.base_images import BASE_IMAGE, PYTHON_IMAGE, ensure_base_images
from harness.docker_util import LABEL, build_image, get_client, image_exists
from harness.instance import SWEInstance

log = logging.getLogger(__name__)

INSTANCE_REPO = "monkeys-swe/sweb"
HOST_CA_BUNDLE = os.environ.get("MONKEYS_SWE_PIP_CERT", "/etc/ssl/certs/ca-certificates.crt")
_unpullable: set[str] = set()
_build_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()

DOCKERFILE = """\
FROM {base}
ENV LANG=C.UTF-8 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_ROOT_USER_ACTION=ignore
RUN (command -v git && command -v patch && command -v timeout) >/dev/null || \\
    (apt-get update && apt-get install -y --no-install-recommends git patch ca-certificates \\
     && rm -rf /var/lib/apt/lists/*)
COPY repo/ /testbed/
WORKDIR /testbed
RUN git init -q && git add -A -f \\
 && git -c user.name=monkeys-swe -c user.email=monkeys-swe@localhost commit -q --no-verify \\
      -m "base {commit}" \\
 && git config --global --add safe.directory /testbed
{install}
LABEL {label}=1 {label}.kind=instance {label}.instance={instance_id}
"""
# The CA bundle lets pip reach PyPI behind the host's TLS proxy; it leaves with the layer's
# last command. Build artifacts that git does not ignore are excluded so that `git diff`
# shows only what a candidate changed.
INSTALL = """\
COPY ca.crt /tmp/monkeys-ca.crt
RUN {{ [ ! -s /tmp/monkeys-ca.crt ] || export PIP_CERT=/tmp/monkeys-ca.crt; }}; {scm} set -ex; {commands}; \\
    rm -f /tmp/monkeys-ca.crt; \\
    git ls-files --others --exclude-standard >> .git/info/exclude"""


def prebuilt_names(instance: SWEInstance) -> list[str]:
    iid = instance.instance_id
    names = [instance.image] if instance.image else []
    names += [f"swebench/sweb.eval.x86_64.{iid.replace('__', '_1776_')}:latest",
              f"sweb.eval.x86_64.{iid}:latest"]
    return names


def try_pull(client: docker.DockerClient, name: str) -> bool:
    """Pull `name` if a registry answers; remembers failures so offline runs fail fast."""
    registry = name.split("/")[0] if "/" in name and "." in name.split("/")[0] else "docker.io"
    if registry in _unpullable:
        return False
    try:
        repo, _, tag = name.rpartition(":") if ":" in name.split("/")[-1] else (name, "", "latest")
        client.api.pull(repo, tag=tag or "latest")
        return True
    except (APIError, DockerException) as exc:
        msg = str(exc)
        if "no such host" in msg or "timeout" in msg.lower() or "connection" in msg.lower():
            _unpullable.add(registry)
        log.debug("pull %s failed: %s", name, msg.splitlines()[0] if msg else exc)
        return False


def find_prebuilt(instance: SWEInstance, client: docker.DockerClient, pull: bool = True) -> str | None:
    for name in prebuilt_names(instance):
        if image_exists(client, name) or (pull and try_pull(client, name)):
            return name
    return None


def choose_base(spec: specs.Spec, client: docker.DockerClient, base_image: str | None) -> str:
    if base_image:
        if image_exists(client, base_image) or try_pull(client, base_image):
            return base_image
        raise RuntimeError(f"base image {base_image} is neither local nor pullable")
    official = f"python:{spec.python or '3.11'}-slim"
    if image_exists(client, official) or try_pull(client, official):
        return official
    if spec.python and spec.python != "3.11":
        log.warning("no %s here; using the offline Python 3.11 base instead", official)
    return ensure_base_images(client)


def dockerfile_for(instance: SWEInstance, spec: specs.Spec, base: str, scm_version: str | None) -> str:
    install = ""
    if spec.install:
        scm = f"export SETUPTOOLS_SCM_PRETEND_VERSION={shlex.quote(scm_version)};" if scm_version else ""
        install = INSTALL.format(scm=scm, commands="; ".join(spec.install))
    return DOCKERFILE.format(base=base, commit=instance.base_commit, install=install,
                             label=LABEL, instance_id=shlex.quote(instance.instance_id))


def build_instance_image(instance: SWEInstance, *, repo_mirror: str | None = None,
                         base_image: str | None = None, client: docker.DockerClient | None = None,
                         force: bool = False) -> str:
    """Build (or reuse) this instance's image from its repository; returns the tag."""
    client = client or get_client()
    spec = specs.resolve(instance)
    base = choose_base(spec, client, base_image)
    source = repos.locate(instance.repo_path or instance.repo, repo_mirror)
    version = repos.describe(source, instance.base_commit)
    scm_version = version if version and re.match(r"^\d+(\.\d+)*", version) else None
    dockerfile = dockerfile_for(instance, spec, base, scm_version)
    digest = hashlib.sha256("\0".join([dockerfile, client.images.get(base).id, instance.repo])
                            .encode()).hexdigest()[:12]
    safe_id = re.sub(r"[^A-Za-z0-9_.-]", "-", instance.instance_id)[:100]
    tag = f"{INSTANCE_REPO}:{safe_id}-{digest}"
    with _locks_guard:
        lock = _build_locks.setdefault(tag, threading.Lock())
    with lock:
        if image_exists(client, tag) and not force:
            return tag
        files = {}
        if spec.install:  # an empty file when the host has no bundle: pip keeps its own then
            files["ca.crt"] = Path(HOST_CA_BUNDLE).read_bytes() if os.path.exists(HOST_CA_BUNDLE) else b""
        build_image(client, tag, dockerfile, files, extra_tar=repos.archive(source, instance.base_commit),
                    labels={LABEL: "1", f"{LABEL}.kind": "instance",
                            f"{LABEL}.instance": instance.instance_id})
    return tag


def ensure_image(instance: SWEInstance, *, repo_mirror: str | None = None, base_image: str | None = None,
                 client: docker.DockerClient | None = None, use_prebuilt: bool = True) -> str:
    """SWE-bench's prebuilt image if present or pullable, else our own build (cached)."""
    client = client or get_client()
    if use_prebuilt and not instance.repo_path:
        name = find_prebuilt(instance, client)
        if name:
            return name
    return build_instance_image(instance, repo_mirror=repo_mirror, base_image=base_image, client=client)


def list_images(client: docker.DockerClient | None = None) -> list[dict]:
    client = client or get_client()
    rows = []
    for image in client.images.list(filters={"label": LABEL}):
        labels = image.labels or {}
        rows.append({"tags": image.tags, "id": image.short_id, "kind": labels.get(f"{LABEL}.kind", "?"),
                     "instance": labels.get(f"{LABEL}.instance", ""),
                     "size_mb": round(image.attrs.get("Size", 0) / 1e6), "created": image.attrs.get("Created", "")})
    return rows


def prune(client: docker.DockerClient | None = None, *, include_base: bool = False) -> dict:
    """Remove containers of ours whose process is gone, instance images, and (optionally)
    the base images. Containers of live monkeys-swe processes on this host are left alone."""
    client = client or get_client()
    containers = lifecycle.reap_orphans(client, LABEL, once=False)
    removed = []
    for image in client.images.list(filters={"label": LABEL}):
        kind = (image.labels or {}).get(f"{LABEL}.kind")
        if kind == "instance" or (include_base and kind == "base"):
            for tag in image.tags or [image.id]:
                try:
                    client.images.remove(tag, force=True)
                    removed.append(tag)
                except (APIError, ImageNotFound):
                    pass
    return {"containers": containers, "images": removed}


__all__ = ["BASE_IMAGE", "PYTHON_IMAGE", "ensure_base_images", "ensure_image", "build_instance_image",
           "find_prebuilt", "list_images", "prune"]

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(ensure_base_images())
