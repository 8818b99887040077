"""Per-instance images: SWE-bench's prebuilt one when it can be had, else built here in layers.

    base        monkeys-swe/python:3.9|3.11|3.13 (debootstrap; python:X-slim when a registry answers)
    environment monkeys-swe/env:<repo>-<version>-py<X>-<hash>: the dependencies (resolved as of
                the environment's date by uv) and the repository at environment_setup_commit as
                git objects; one per (repo, version, python), shared by all its instances
    instance    monkeys-swe/sweb:<instance_id>-<hash>: only the files that differ at base_commit,
                /testbed made one commit of base_commit's tree (no history, the env commit and
                its unreachable objects pruned), pre-install edits and the editable install

Tags carry a hash of everything that went in, so a rebuild happens only when an input
changes. Labels say what was used: `monkeys-swe.python` (the Python in the image),
`monkeys-swe.python-wanted` (the spec's), `monkeys-swe.env`, `monkeys-swe.exclude-newer`.

`python -m harness.images [3.9 3.13]` builds offline base images (default: 3.11; the others
are built on first need, about a minute each).
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import shlex
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import docker
from docker.errors import APIError, ImageNotFound, NotFound

from harness import blobs, disk, lifecycle, repos, specs
from harness.base_images import (BASE_IMAGE, PYTHON_IMAGE, ensure_base_images, ensure_python_base,
                                 ensure_source_python, python_base_for)
from harness.docker_util import LABEL, build_image, disk_usage, get_client, image_exists
from harness.env import reqs as env_reqs
from harness.env import script as env_script
from harness.instance import SWEInstance
from harness.prebuilt import find_prebuilt, prebuilt_names, try_pull  # noqa: F401  (re-exported)

log = logging.getLogger(__name__)

INSTANCE_REPO = "monkeys-swe/sweb"
ENV_REPO = "monkeys-swe/env"
HOST_CA_BUNDLE = os.environ.get("MONKEYS_SWE_PIP_CERT", "/etc/ssl/certs/ca-certificates.crt")
_build_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()

# The first lines are the same for every environment on a base, so Docker's build cache
# shares the uv layer between them.
ENV_DOCKERFILE = """\
FROM {base}
ENV LANG=C.UTF-8 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_ROOT_USER_ACTION=ignore \\
    PYTHONDONTWRITEBYTECODE=1 DEBIAN_FRONTEND=noninteractive
RUN (command -v git && command -v patch && command -v timeout) >/dev/null || \\
    (apt-get update && apt-get install -y --no-install-recommends git patch ca-certificates \\
     && rm -rf /var/lib/apt/lists/*)
COPY uv /usr/local/bin/uv
{apt}COPY repo/ /testbed/
WORKDIR /testbed
RUN git config --global --add safe.directory /testbed && git init -q \\
 && git config gc.auto 0 && git config core.checkStat minimal && git config core.trustctime false \\
 && git add -A -f && git -c user.name=monkeys-swe -c user.email=monkeys-swe@localhost \\
      commit -q --no-verify -m "env {commit}"
{venv}COPY env/ /opt/monkeys-env/
{install}LABEL {labels}
"""
INSTANCE_DOCKERFILE = """\
FROM {env}
COPY repo/ /testbed/
COPY inst/ /tmp/monkeys-inst/
RUN mkdir -p /opt/monkeys-env && cp /tmp/monkeys-inst/ca.crt /opt/monkeys-env/ca.crt \\
 && bash /tmp/monkeys-inst/setup.sh
LABEL {labels}
"""


_python_of: dict[str, str] = {}


def python_in(client: docker.DockerClient, image: str) -> str:
    """The X.Y of `python3` in a given base image ("given" when it has none): a verdict judged on another
    Python than the instance's is then labelled as a substitution (image_info) and shown with it."""
    image_id = client.images.get(image).id
    if image_id not in _python_of:
        try:
            out = client.containers.run(image_id, ["python3", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                        remove=True, network_disabled=True, labels=lifecycle.owner_labels(LABEL))
            version = out.decode().strip()
            _python_of[image_id] = version if re.fullmatch(r"\d+\.\d+", version) else "given"
        except (APIError, docker.errors.ContainerError):
            _python_of[image_id] = "given"
    return _python_of[image_id]


def choose_base(spec: specs.Spec, client: docker.DockerClient, base_image: str | None,
                repo_mirror: str | None = None) -> tuple[str, str]:
    """(base image, the Python it has): the given one, python:X-slim when a registry has it,
    a CPython compiled from a source in the mirror directory when no Debian suite has that
    Python, else the nearest offline base (`python_base_for`)."""
    if base_image:
        if image_exists(client, base_image) or try_pull(client, base_image):
            return base_image, "given"
        raise RuntimeError(f"base image {base_image} is neither local nor pullable")
    wanted = spec.python or "3.11"
    official = f"python:{wanted}-slim"
    if image_exists(client, official) or try_pull(client, official):
        return official, wanted
    used = python_base_for(spec.python)
    if used != wanted:
        compiled = ensure_source_python(wanted, repo_mirror, client)
        if compiled:
            return compiled, wanted
        log.info("no %s here; using the offline Python %s base instead", official, used)
    return ensure_python_base(used, client), used


def _lock(tag: str) -> threading.Lock:
    with _locks_guard:
        return _build_locks.setdefault(tag, threading.Lock())


def _ca_bytes() -> bytes:  # an empty file when the host has no bundle: pip/uv keep their own then
    return Path(HOST_CA_BUNDLE).read_bytes() if os.path.exists(HOST_CA_BUNDLE) else b""


def _uv_binary() -> bytes:
    import uv

    return Path(uv.find_uv_bin()).read_bytes()


def _label_line(labels: dict[str, str]) -> str:
    return " ".join(f"{k}={shlex.quote(v)}" for k, v in labels.items())


def _git(source: Path, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", str(repos.git_dir(source)), *args], check=True,
                          capture_output=True, text=True, timeout=300).stdout


def commit_date(source: Path, commit: str) -> str | None:
    try:
        return env_script.iso_date(_git(source, "show", "-s", "--format=%cI", commit).strip())
    except (subprocess.CalledProcessError, ValueError):
        return None


def _env_commit(instance: SWEInstance, source: Path) -> str:
    """environment_setup_commit when the mirror has its whole tree, else base_commit (a
    size-limited mirror may lack a big file at one commit and not at the other: astropy 5.1's
    setup commit has a 4.9 MB IERS table that astropy__astropy-14182's base does not)."""
    commit = instance.environment_setup_commit
    if commit and commit != instance.base_commit:
        try:
            _git(source, "cat-file", "-e", f"{commit}^{{commit}}")
        except subprocess.CalledProcessError:
            log.warning("%s: environment_setup_commit %s not in the mirror; using base_commit",
                        instance.instance_id, commit[:12])
            return instance.base_commit
        missing = repos.missing_files(source, commit)
        if missing and repos.missing_files(source, instance.base_commit) == []:
            log.warning("%s: the mirror lacks %s at environment_setup_commit %s; the environment is "
                        "built at base_commit", instance.instance_id, missing[0], commit[:12])
            return instance.base_commit
        return commit
    return instance.base_commit


def _requirements(spec: specs.Spec, source: Path, commit: str) -> tuple[str, list[str]]:
    """(requirements.txt text, notes) for the env layer, read from the mirror."""
    req = spec.env.requirements
    if not req:
        return "", []
    if req["kind"] == "environment.yml":
        found = env_reqs.environment_yml(source, commit, req["paths"])
        if found is None:
            return "", [f"no {' or '.join(req['paths'])} at {commit[:12]}"]
        text, read, skipped = found
        return text, [f"read {read[0]}"] + ([f"conda-only, left out: {', '.join(skipped)}"] if skipped else [])
    found = env_reqs.requirements_txt(source, commit, req["paths"])
    if found is None:
        return "", [f"no {' or '.join(req['paths'])} at {commit[:12]}"]
    return found[0], [f"read {', '.join(found[1])}"]


def scm_version(source: Path, commit: str) -> str:
    """The shell line giving setuptools_scm the commit's nearest tag (the image's /testbed has
    no tags). The env layer needs it too: its editable install is reused by the instances, and
    a version of 0.1.dev1 fails pytest's own `minversion` check (pytest-dev__pytest-5221)."""
    version = repos.describe(source, commit)
    return f"export SETUPTOOLS_SCM_PRETEND_VERSION={shlex.quote(version)}" \
        if version and re.match(r"^\d+(\.\d+)*", version) else ":"


def versioneer_tag(source: Path, commit: str) -> str | None:
    """The nearest tag, for a repository whose version comes from versioneer (it runs `git
    describe` in /testbed, which has one commit and no tags: "0+untagged" fails dependents'
    bounds, e.g. pvfactors' pvlib>=0.7 on pvlib__pvlib-python-1072). setuptools_scm has its
    pretend-version variable instead (`scm_version`), so only versioneer trees get a tag."""
    try:
        _git(source, "cat-file", "-e", f"{commit}:versioneer.py")
    except subprocess.CalledProcessError:
        return None
    tag = repos.nearest_tag(source, commit)
    return tag if tag and re.match(r"^[A-Za-z0-9._/-]+$", tag) else None


def _needs_pytest(spec: specs.Spec) -> bool:
    return "pytest" in spec.test_cmd and spec.source == "swebench-4.1.0"


def build_env_image(instance: SWEInstance, spec: specs.Spec, *, source: Path, base: str, python: str,
                    client: docker.DockerClient, force: bool = False) -> tuple[str, bool]:
    """(tag, built now?) of the environment layer for the instance's (repo, version, python)."""
    commit = _env_commit(instance, source)
    date = commit_date(source, commit) or (env_script.iso_date(instance.created_at)
                                           if instance.created_at else None)
    requirements, notes = _requirements(spec, source, commit)
    env = spec.env
    install_sh = ""
    version_tag = versioneer_tag(source, commit)
    tag_line = [f"git tag -f {shlex.quote(version_tag)} HEAD"] if version_tag else []
    if spec.source == "swebench-4.1.0":
        install_sh = env_script.env_script(
            date=date, requirements=bool(requirements.strip()), packages=list(env.packages),
            pins=list(env.pip_packages), pre_install=[scm_version(source, commit), *tag_line, *env.pre_install],
            install=env.install,
            needs_pytest=_needs_pytest(spec), python=python, services=env.services)
    apt = (f"RUN apt-get update && apt-get install -y --no-install-recommends {' '.join(map(shlex.quote, env.apt))}"
           " && rm -rf /var/lib/apt/lists/*\n") if env.apt else ""
    repo_key = re.sub(r"[^A-Za-z0-9_.-]", "-", (instance.repo if not instance.repo_path
                                                 else Path(instance.repo_path).name).replace("/", "__"))
    labels = {LABEL: "1", f"{LABEL}.kind": "env", f"{LABEL}.repo": instance.repo,
              f"{LABEL}.version": instance.version, f"{LABEL}.python": python,
              f"{LABEL}.python-wanted": spec.python or "", f"{LABEL}.env-commit": commit,
              f"{LABEL}.date": date or ""}
    dockerfile = ENV_DOCKERFILE.format(
        base=base, apt=apt, commit=commit, labels=_label_line(labels),
        venv="ENV PATH=/opt/venv/bin:$PATH VIRTUAL_ENV=/opt/venv\n" if install_sh else "",
        install="RUN bash /opt/monkeys-env/install.sh\n" if install_sh else "")
    uv_bin = _uv_binary()
    digest = hashlib.sha256("\0".join([dockerfile, install_sh, requirements, client.images.get(base).id,
                                       hashlib.sha256(uv_bin).hexdigest()]).encode()).hexdigest()[:12]
    tag = f"{ENV_REPO}:{repo_key[:60]}-{instance.version or 'none'}-py{python}-{digest}".lower()
    with _lock(tag):
        if image_exists(client, tag) and not force:
            return tag, False
        tree, filled = blobs.archive_filled("" if instance.repo_path else instance.repo, source, commit)
        if filled:  # files the mirror lacks, taken from a release (harness.blobs)
            labels = {**labels, f"{LABEL}.filled": " | ".join(filled)}
        files = {"uv": (uv_bin, 0o755), "env/install.sh": install_sh.encode(),
                 "env/requirements.txt": requirements.encode(), "env/ca.crt": _ca_bytes(),
                 "env/notes.txt": ("\n".join([*env.offline, *notes, *filled]) + "\n").encode()}
        log.info("building environment %s", tag)
        build_image(client, tag, dockerfile, files, extra_tar=tree, labels=labels)
    return tag, True


def _changed(source: Path, env_commit: str, base_commit: str) -> tuple[set[str], list[str]]:
    """(paths added or modified at base_commit, paths deleted) relative to env_commit."""
    if env_commit == base_commit:
        return set(), []
    out = _git(source, "diff", "--name-status", "--no-renames", "-z", env_commit, base_commit)
    parts = out.split("\0")
    changed, deleted = set(), []
    for status, path in zip(parts[0::2], parts[1::2]):
        (deleted.append(path) if status.startswith("D") else changed.add(path))
    return changed, deleted


def _instance_context(source: Path, base_commit: str, env_commit: str, repo: str = ""
                      ) -> tuple[bytes, list[str], list[str], list[str], list[str]]:
    """(tar of the changed files at base_commit, changed paths, deleted paths, all paths,
    notes on files filled from a release because the mirror lacks them)."""
    full, filled = blobs.archive_filled(repo, source, base_commit)
    changed, deleted = _changed(source, env_commit, base_commit)
    buf = io.BytesIO()
    paths = []
    with tarfile.open(fileobj=io.BytesIO(full)) as src, tarfile.open(fileobj=buf, mode="w") as out:
        top = tarfile.TarInfo(".")  # repo/ exists in the context even when nothing changed
        top.type, top.mode = tarfile.DIRTYPE, 0o755
        out.addfile(top)
        for member in src:
            if member.isdir():
                continue
            paths.append(member.name)
            if member.name in changed:
                out.addfile(member, src.extractfile(member) if member.isfile() else None)
    return buf.getvalue(), sorted(changed & set(paths)), deleted, paths, filled


def build_instance_image(instance: SWEInstance, *, repo_mirror: str | None = None,
                         base_image: str | None = None, client: docker.DockerClient | None = None,
                         force: bool = False, timings: dict | None = None) -> str:
    """Build (or reuse) this instance's image (and its environment layer); returns the tag.
    `timings`, when given, receives env_s / instance_s / env_built / env tag."""
    client = client or get_client()
    spec = specs.resolve(instance)
    source = repos.locate(instance.repo_path or instance.repo, repo_mirror)
    t0 = time.monotonic()
    base, python = choose_base(spec, client, base_image, repo_mirror)
    env_tag, env_built = build_env_image(instance, spec, source=source, base=base, python=python,
                                         client=client)
    t1 = time.monotonic()
    env_labels = client.images.get(env_tag).labels or {}
    env_commit = env_labels.get(f"{LABEL}.env-commit") or instance.base_commit
    scm = scm_version(source, instance.base_commit)
    date = env_script.iso_date(instance.created_at) if instance.created_at else env_labels.get(f"{LABEL}.date")
    setup = env_script.instance_script(date=date or None, pins=list(spec.env.pip_packages),
                                       pre_install=[scm, *spec.env.pre_install] if spec.source != "override" else [scm],
                                       install=[c for c in spec.install if c not in spec.env.pre_install],
                                       base_commit=instance.base_commit,
                                       tag=versioneer_tag(source, instance.base_commit),
                                       reuse_env_install=spec.source == "swebench-4.1.0", python=python)
    labels = {LABEL: "1", f"{LABEL}.kind": "instance", f"{LABEL}.instance": instance.instance_id,
              f"{LABEL}.repo": instance.repo, f"{LABEL}.env": env_tag, f"{LABEL}.python": python,
              f"{LABEL}.python-wanted": spec.python or "", f"{LABEL}.spec": spec.source,
              f"{LABEL}.exclude-newer": env_labels.get(f"{LABEL}.date", "") if not env_script.legacy(python)
              else f"none (pip: uv does not run Python {python})"}
    dockerfile = INSTANCE_DOCKERFILE.format(env=env_tag, labels=_label_line(labels))
    digest = hashlib.sha256("\0".join([dockerfile, setup, client.images.get(env_tag).id, instance.repo,
                                       instance.base_commit]).encode()).hexdigest()[:12]
    safe_id = re.sub(r"[^A-Za-z0-9_.-]", "-", instance.instance_id)[:100]
    tag = f"{INSTANCE_REPO}:{safe_id}-{digest}"
    with _lock(tag):
        if not image_exists(client, tag) or force:
            tree, changed, deleted, paths, filled = _instance_context(
                source, instance.base_commit, env_commit, "" if instance.repo_path else instance.repo)
            if filled:
                labels = {**labels, f"{LABEL}.filled": " | ".join(filled)}
            files = {"inst/setup.sh": setup.encode(), "inst/ca.crt": _ca_bytes(),
                     "inst/changed": "\0".join(changed).encode(), "inst/deleted": "\0".join(deleted).encode(),
                     "inst/paths": "\0".join(paths).encode()}
            build_image(client, tag, dockerfile, files, extra_tar=tree, labels=labels)
    if timings is not None:
        timings.update(env_s=round(t1 - t0, 1), instance_s=round(time.monotonic() - t1, 1),
                       env_built=env_built, env=env_tag)
    return tag


def image_info(tag: str, client: docker.DockerClient | None = None) -> dict:
    """What an image was built with: python (used), python_wanted, substituted (bool), env,
    exclude_newer; {} for images we did not build (prebuilt ones)."""
    client = client or get_client()
    labels = client.images.get(tag).labels or {}
    if labels.get(f"{LABEL}.kind") not in ("instance", "env"):
        return {}
    used, wanted = labels.get(f"{LABEL}.python", ""), labels.get(f"{LABEL}.python-wanted", "")
    if used == "given":  # a --base-image: which Python it has is read from the image itself
        used = python_in(client, tag)
    info = {"python": used, "python_wanted": wanted, "substituted": bool(wanted) and used not in (wanted, "given"),
            "env": labels.get(f"{LABEL}.env", ""), "exclude_newer": labels.get(f"{LABEL}.exclude-newer", "")}
    if labels.get(f"{LABEL}.filled"):  # files the mirror lacked, filled from a release (harness.blobs)
        info["filled_files"] = labels[f"{LABEL}.filled"].split(" | ")
    return info


def ensure_image(instance: SWEInstance, *, repo_mirror: str | None = None, base_image: str | None = None,
                 client: docker.DockerClient | None = None, use_prebuilt: bool | str = True,
                 timings: dict | None = None) -> str:
    """A prebuilt image if present or pullable (harness.prebuilt), else our own build (cached).
    `use_prebuilt`: True (the configured source, default auto), False ("local"), or a source name."""
    client = client or get_client()
    if not instance.repo_path:
        name = find_prebuilt(instance, client, source=use_prebuilt)
        if name:
            return name
    if disk.budget() is not None:  # make room first: least-recently-used instance images go
        disk.enforce_budget(client, room=disk.estimate([instance], client).largest)
    tag = build_instance_image(instance, repo_mirror=repo_mirror, base_image=base_image, client=client,
                               timings=timings)
    disk.touch(client, tag)
    disk.enforce_budget(client, keep={tag})
    return tag


def list_images(client: docker.DockerClient | None = None) -> list[dict]:
    """Our images, with disk use: size (all layers), shared (bytes in layers other images
    use too) and unique (what removing it frees), from the daemon's own accounting."""
    client = client or get_client()
    usage = {i["Id"]: i for i in (disk_usage(client).get("Images") or [])}
    rows = []
    for image in client.images.list(filters={"label": LABEL}):
        labels = image.labels or {}
        df = usage.get(image.id, {})
        size = df.get("Size", image.attrs.get("Size", 0))
        shared = max(df.get("SharedSize", 0), 0)
        rows.append({"tags": image.tags, "id": image.short_id, "kind": labels.get(f"{LABEL}.kind", "?"),
                     "instance": labels.get(f"{LABEL}.instance", ""), "python": labels.get(f"{LABEL}.python", ""),
                     "size_mb": round(size / 1e6), "shared_mb": round(shared / 1e6),
                     "unique_mb": round((size - shared) / 1e6), "containers": df.get("Containers", 0),
                     "created": image.attrs.get("Created", "")})
    return rows


def layers_mb(client: docker.DockerClient | None = None) -> int:
    """Disk held by all image layers on the daemon, each shared layer counted once."""
    return round((disk_usage(client or get_client()).get("LayersSize") or 0) / 1e6)


def prune(client: docker.DockerClient | None = None, *, include_base: bool = False,
          repo: str | None = None) -> dict:
    """Remove containers of ours whose process is gone, then our instance and environment
    images (`repo`: only that repository's; include_base: the base images too) that no
    container uses, children before parents. Never forced: an image in use stays."""
    client = client or get_client()
    containers = lifecycle.reap_orphans(client, LABEL, once=False)
    in_use = {c.attrs.get("Image") for c in client.containers.list(all=True, ignore_removed=True)}
    kinds = ("instance", "env", "base") if include_base else ("instance", "env")
    removed, kept = [], []
    for kind in kinds:  # children first: an env image stays while an instance image uses it
        parent = {i["Id"]: i.get("ParentId") for i in client.api.images(all=True)}
        candidates = [i for i in client.images.list(filters={"label": [f"{LABEL}.kind={kind}"]})
                      if (i.labels or {}).get(LABEL) == "1"
                      and (not repo or (i.labels or {}).get(f"{LABEL}.repo") == repo)]
        ids = {i.id for i in candidates}
        needed = set()  # ancestors of every image that stays (not a candidate, or in use)
        for image_id in parent:
            if image_id in ids and image_id not in in_use:
                continue
            p = parent.get(image_id)
            while p and p not in needed:
                needed.add(p)
                p = parent.get(p)
        for image in candidates:
            name = image.tags[0] if image.tags else image.short_id
            if image.id in in_use or image.id in needed:
                kept.append(f"{name} ({'in use' if image.id in in_use else 'parent of an image in use'})")
                continue
            try:
                for tag in image.tags[:-1]:  # untag all but the last, then delete (never forced)
                    client.images.remove(tag)
                    removed.append(tag)
                client.images.remove(image.tags[-1] if image.tags else image.id)
                removed.append(name if not image.tags else image.tags[-1])
            except (APIError, ImageNotFound, NotFound) as exc:  # taken into use meanwhile
                kept.append(f"{name} ({str(exc).splitlines()[0][:80]})")
    return {"containers": containers, "images": removed, "kept": kept}


__all__ = ["BASE_IMAGE", "PYTHON_IMAGE", "ensure_base_images", "ensure_image", "build_instance_image",
           "build_env_image", "image_info", "find_prebuilt", "list_images", "prune"]

if __name__ == "__main__":  # python -m harness.images [PYTHON ...]: build offline bases (default 3.11)
    import sys

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for wanted in sys.argv[1:] or ["3.11"]:
        print(ensure_python_base(python_base_for(wanted)))
