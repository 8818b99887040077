"""Offline base images: Debian bookworm from debootstrap, and a Python 3.11 layer on top.

Machines without a registry cannot pull `python:3.11-slim`, but they can reach a Debian
mirror. `debootstrap --variant=minbase` + `docker import` makes a base image from Debian
packages alone; the Python layer is an ordinary build FROM it. Both are idempotent: an
image that already exists is reused.

Other parts of monkeys-swe (program sandbox, agent shells) run containers on
PYTHON_IMAGE, so it carries what they need: python3 with a venv on PATH (Debian's pip
refuses to install system-wide, PEP 668), pytest from Debian (so small fixtures need no
PyPI), git, patch, and coreutils' `timeout`.
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile

import docker

from harness.docker_util import build_image, get_client, image_exists, LABEL

log = logging.getLogger(__name__)

BASE_IMAGE = os.environ.get("MONKEYS_SWE_BASE_IMAGE", "monkeys-swe/base:bookworm")
PYTHON_IMAGE = os.environ.get("MONKEYS_SWE_PYTHON_IMAGE", "monkeys-swe/python:3.11")
DEBIAN_MIRROR = os.environ.get("MONKEYS_SWE_DEBIAN_MIRROR", "http://deb.debian.org/debian")

PYTHON_DOCKERFILE = f"""\
FROM {{base}}
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 PIP_DISABLE_PIP_VERSION_CHECK=1 \\
    PIP_NO_INPUT=1 PYTHONDONTWRITEBYTECODE=1
RUN apt-get update \\
 && apt-get install -y --no-install-recommends python3 python3-venv python3-pip \\
      python3-pytest git patch ca-certificates coreutils \\
 && rm -rf /var/lib/apt/lists/*
# A venv that still sees Debian's packages (pytest): pip installs go into the venv.
RUN python3 -m venv --system-site-packages /opt/venv
ENV PATH=/opt/venv/bin:$PATH VIRTUAL_ENV=/opt/venv
RUN git config --system user.email monkeys-swe@localhost \\
 && git config --system user.name monkeys-swe \\
 && git config --system init.defaultBranch main \\
 && git config --system --add safe.directory '*'
LABEL {LABEL}=1 {LABEL}.kind=base
"""


def debootstrap_base(tag: str = BASE_IMAGE, *, mirror: str = DEBIAN_MIRROR,
                     suite: str = "bookworm", client: docker.DockerClient | None = None) -> str:
    """Make `tag` from Debian packages (debootstrap minbase + docker import). Needs root."""
    client = client or get_client()
    if shutil.which("debootstrap") is None:
        raise RuntimeError("debootstrap is not installed: apt-get install -y debootstrap")
    with tempfile.TemporaryDirectory(prefix="monkeys-swe-rootfs-") as root:
        log.info("debootstrap %s into %s (about 35 s)", suite, root)
        subprocess.run(["debootstrap", "--variant=minbase", suite, root, mirror],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # apt caches are useless in an image; keep it small.
        shutil.rmtree(os.path.join(root, "var/cache/apt/archives"), ignore_errors=True)
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        repo, _, image_tag = tag.rpartition(":")
        client.api.import_image_from_stream(tar.stdout, repository=repo, tag=image_tag,
                                            changes=[f"LABEL {LABEL}=1 {LABEL}.kind=base",
                                                     'CMD ["bash"]'])
        if tar.wait() != 0:
            raise RuntimeError("tar of the debootstrap root failed")
    return tag


def ensure_base_images(client: docker.DockerClient | None = None) -> str:
    """Return the Python base image tag, building the Debian base and Python layer if missing."""
    client = client or get_client()
    if image_exists(client, PYTHON_IMAGE):
        return PYTHON_IMAGE
    if not image_exists(client, BASE_IMAGE):
        debootstrap_base(BASE_IMAGE, client=client)
    build_image(client, PYTHON_IMAGE, PYTHON_DOCKERFILE.format(base=BASE_IMAGE), {})
    return PYTHON_IMAGE
