"""Offline base images: Debian from debootstrap, and a Python layer on top, one per suite.

Debian's mirror serves bullseye (Python 3.9), bookworm (3.11) and trixie (3.13):
`monkeys-swe/python:3.9`, `:3.11`, `:3.13`. `python_base_for(wanted)` maps the Python an
instance wants to the nearest of these (`SUBSTITUTES`); the choice is recorded in the
instance image's labels. Each base is built on first need (about 35-60 s of debootstrap).

Machines without a registry cannot pull `python:3.11-slim`, but they can reach a Debian
mirror. `debootstrap --variant=minbase` + `docker import` makes a base image from Debian
packages alone; the Python layer is an ordinary build FROM it. Both are idempotent: an
image that already exists is reused.

An instance that wants a Python no suite has (3.6 for astropy 1.3 and django 2-3) gets a real
match when a CPython source tree is in the repository mirror directory (`python__cpython.git`,
tags `vX.Y.Z`, or deadsnakes' `deadsnakes__pythonX.Y.git`, tags `upstream/X.Y.Z`):
`monkeys-swe/python:X.Y-src` is compiled from the newest patch release there on bullseye
(about 4 minutes once). Without a source, the nearest suite's Python stands in (`SUBSTITUTES`).

Other parts of monkeys-swe (program sandbox, agent shells) run containers on
PYTHON_IMAGE, so it carries what they need: python3 with a venv on PATH (Debian's pip
refuses to install system-wide, PEP 668), pytest from Debian (so small fixtures need no
PyPI), git, patch, and coreutils' `timeout`.
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile

import docker

from harness import repos
from harness.docker_util import build_image, get_client, image_exists, LABEL

log = logging.getLogger(__name__)

BASE_IMAGE = os.environ.get("MONKEYS_SWE_BASE_IMAGE", "monkeys-swe/base:bookworm")
PYTHON_IMAGE = os.environ.get("MONKEYS_SWE_PYTHON_IMAGE", "monkeys-swe/python:3.11")
DEBIAN_MIRROR = os.environ.get("MONKEYS_SWE_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SUITES = {"3.9": "bullseye", "3.11": "bookworm", "3.13": "trixie"}  # Debian's python3 per suite
# Wanted Python -> the offline one used. 3.5-3.8 code runs on 3.9 (which still has the
# `collections` ABC aliases and the old `ast` nodes' deprecation shims that 3.10+ dropped);
# 3.10 -> 3.9 for the same reason and because the pinned numpy/scipy of those specs have 3.9
# wheels; 3.12 -> 3.13.
SUBSTITUTES = {"2.7": "3.9", "3.5": "3.9", "3.6": "3.9", "3.7": "3.9", "3.8": "3.9", "3.9": "3.9",
               "3.10": "3.9", "3.11": "3.11", "3.12": "3.13", "3.13": "3.13"}

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


def rootfs_tar(suite: str, mirror: str = DEBIAN_MIRROR) -> str:
    """A tar of a debootstrap --variant=minbase root of `suite`, made once per machine and kept
    in the cache, so a second engine (Docker, then Podman) imports it without a second debootstrap."""
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "monkeys-swe", "rootfs")
    path = os.path.join(cache, f"{suite}-{hashlib.sha256(mirror.encode()).hexdigest()[:8]}.tar")
    if os.path.exists(path):
        return path
    if shutil.which("debootstrap") is None:
        raise RuntimeError("debootstrap is not installed: apt-get install -y debootstrap")
    os.makedirs(cache, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="monkeys-swe-rootfs-") as root:
        log.info("debootstrap %s into %s (about 35 s)", suite, root)
        subprocess.run(["debootstrap", "--variant=minbase", suite, root, mirror],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # apt caches are useless in an image; keep it small.
        shutil.rmtree(os.path.join(root, "var/cache/apt/archives"), ignore_errors=True)
        subprocess.run(["tar", "-C", root, "-cf", path + ".part", "."], check=True)
        os.replace(path + ".part", path)
    return path


def debootstrap_base(tag: str = BASE_IMAGE, *, mirror: str = DEBIAN_MIRROR,
                     suite: str = "bookworm", client: docker.DockerClient | None = None) -> str:
    """Make `tag` from Debian packages (debootstrap minbase + the engine's import). Needs root."""
    client = client or get_client()
    with open(rootfs_tar(suite, mirror), "rb") as tar:
        # The name with its tag in `repository`, and one LABEL per change: Podman's import
        # ignores a separate tag and reads "LABEL a=1 b=2" as one label; Docker takes both forms.
        # A pipe, not the file: docker-py sends a file chunked in a way Podman's service rejects.
        cat = subprocess.Popen(["cat"], stdin=tar, stdout=subprocess.PIPE)
        client.api.import_image_from_stream(cat.stdout, repository=tag,
                                            changes=[f"LABEL {LABEL}=1", f"LABEL {LABEL}.kind=base",
                                                     'CMD ["bash"]'])
        if cat.wait() != 0:
            raise RuntimeError("reading the debootstrap root failed")
    return tag


def python_base_for(wanted: str | None) -> str:
    """The offline Python version used for `wanted` ("3.6" -> "3.9"); None -> 3.11."""
    if not wanted:
        return "3.11"
    if wanted in SUBSTITUTES:
        return SUBSTITUTES[wanted]
    raise ValueError(f"no offline base for Python {wanted}; known: {', '.join(SUBSTITUTES)}")


def python_image_tag(version: str) -> str:
    return PYTHON_IMAGE if version == "3.11" else f"monkeys-swe/python:{version}"


def ensure_python_base(version: str = "3.11", client: docker.DockerClient | None = None) -> str:
    """The offline `monkeys-swe/python:<version>` image (version in SUITES), built if missing.
    A file lock keeps two processes from debootstrapping the same suite at once."""
    client = client or get_client()
    if version not in SUITES:
        raise ValueError(f"no Debian suite with Python {version}; have {', '.join(SUITES)}")
    tag = python_image_tag(version)
    if image_exists(client, tag):
        return tag
    suite = SUITES[version]
    base = BASE_IMAGE if suite == "bookworm" else f"monkeys-swe/base:{suite}"
    with open(os.path.join(tempfile.gettempdir(), f"monkeys-swe-base-{suite}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if image_exists(client, tag):
            return tag
        if not image_exists(client, base):
            debootstrap_base(base, suite=suite, client=client)
        build_image(client, tag, PYTHON_DOCKERFILE.format(base=base), {},
                    labels={LABEL: "1", f"{LABEL}.kind": "base", f"{LABEL}.python": version})
    return tag


# CPython built from source on Debian bullseye (OpenSSL 1.1, which 3.6-3.9 support).
SOURCE_DOCKERFILE = """\
FROM @BASE@
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 PIP_DISABLE_PIP_VERSION_CHECK=1 \\
    PIP_NO_INPUT=1 PYTHONDONTWRITEBYTECODE=1
RUN apt-get update \\
 && apt-get install -y --no-install-recommends build-essential libssl-dev zlib1g-dev libffi-dev \\
      libbz2-dev libsqlite3-dev libreadline-dev liblzma-dev libncursesw5-dev libgdbm-dev uuid-dev \\
      git patch ca-certificates coreutils \\
 && rm -rf /var/lib/apt/lists/*
COPY repo/ /usr/src/cpython/
RUN cd /usr/src/cpython && { ./configure --prefix=/usr/local --with-ensurepip=install \\
      && make -j"$(nproc)" && make altinstall; } > /tmp/cpython-build.log 2>&1 \\
      || { tail -40 /tmp/cpython-build.log; exit 1; } \\
 && ln -sf python@VERSION@ /usr/local/bin/python3 && ln -sf python@VERSION@ /usr/local/bin/python \\
 && cd / && rm -rf /usr/src/cpython /tmp/cpython-build.log
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH VIRTUAL_ENV=/opt/venv
RUN git config --system user.email monkeys-swe@localhost \\
 && git config --system user.name monkeys-swe \\
 && git config --system init.defaultBranch main \\
 && git config --system --add safe.directory '*'
"""
# Where a CPython source may be found in a mirror directory, and its release tags.
CPYTHON_SOURCES = (("python/cpython", "v{v}."), ("deadsnakes/python{v}", "upstream/{v}."))


def cpython_source(version: str, mirror_dir: str | os.PathLike | None) -> tuple[os.PathLike, str] | None:
    """(repository, tag) of the newest X.Y.Z release of CPython `version` found in the mirror
    directory (or the clone cache), or None."""
    best = None
    for repo, prefix in CPYTHON_SOURCES:
        prefix = prefix.format(v=version)
        try:
            path = repos.locate(repo.format(v=version), mirror_dir, clone=False)
            tags = subprocess.run(["git", "--git-dir", str(repos.git_dir(path)), "tag", "--list", prefix + "*"],
                                  check=True, capture_output=True, text=True, timeout=60).stdout.split()
        except (repos.RepoError, subprocess.CalledProcessError, OSError):
            continue
        patches = [(int(t[len(prefix):]), t) for t in tags if t[len(prefix):].isdigit()]
        if patches:
            patch, tag = max(patches)
            if best is None or patch > best[0]:
                best = (patch, path, tag)
    return (best[1], best[2]) if best else None


def source_python_tag(version: str) -> str:
    return f"monkeys-swe/python:{version}-src"


def ensure_source_python(version: str, mirror_dir: str | os.PathLike | None,
                         client: docker.DockerClient | None = None) -> str | None:
    """`monkeys-swe/python:X.Y-src`, compiled from a CPython source in the mirror directory
    (built once, about 4 minutes on 2 cores); None when no source is there."""
    client = client or get_client()
    tag = source_python_tag(version)
    if image_exists(client, tag):
        return tag
    found = cpython_source(version, mirror_dir)
    if found is None:
        return None
    source, ref = found
    base = "monkeys-swe/base:bullseye"
    with open(os.path.join(tempfile.gettempdir(), f"monkeys-swe-python-{version}-src.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if image_exists(client, tag):
            return tag
        if not image_exists(client, base):
            debootstrap_base(base, suite="bullseye", client=client)
        log.info("compiling CPython %s from %s (%s), about 4 minutes", version, source, ref)
        # A size-limited mirror lacks big files the build never reads (Misc/svnmap.txt): left out.
        left_out = repos.missing_files(source, ref) or []
        build_image(client, tag, SOURCE_DOCKERFILE.replace("@BASE@", base).replace("@VERSION@", version), {},
                    extra_tar=repos.archive(source, ref, replace={p: None for p in left_out}),
                    labels={LABEL: "1", f"{LABEL}.kind": "base", f"{LABEL}.python": version,
                            f"{LABEL}.python-source": f"{os.path.basename(os.fspath(source))}:{ref}",
                            f"{LABEL}.left-out": ",".join(left_out)})
    return tag


def ensure_base_images(client: docker.DockerClient | None = None) -> str:
    """Return the default (Python 3.11) base image tag, building it if missing."""
    return ensure_python_base("3.11", client)
