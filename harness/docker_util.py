"""Small Docker helpers shared by images and sandboxes: one client, labels, in-memory builds."""
from __future__ import annotations

import io
import logging
import os
import re
import tarfile
import threading
import time

import docker
from docker.errors import DockerException, ImageNotFound

log = logging.getLogger(__name__)

# Every container and image we make carries this label, so cleanup can find ours only.
LABEL = "monkeys-swe"

_client: docker.DockerClient | None = None
_client_lock = threading.Lock()


def get_client() -> docker.DockerClient:
    """A process-wide client (thread-safe for our use: one HTTP pool, big enough for the pool)."""
    global _client
    with _client_lock:
        if _client is None:
            environment = dict(os.environ)
            if not environment.get("DOCKER_HOST") and environment.get("CONTAINER_HOST"):  # Podman's name
                environment["DOCKER_HOST"] = environment["CONTAINER_HOST"]
            where = environment.get("DOCKER_HOST") or "the local Docker socket"
            try:
                # ssh://: through the `ssh` client (the remote needs `docker system dial-stdio`)
                _client = docker.from_env(timeout=600, max_pool_size=64, use_ssh_client=True,
                                          environment=environment)
                _client.ping()
            except DockerException as exc:
                raise RuntimeError(f"cannot reach the container engine at {where} ({exc}); is dockerd "
                                   "(or `podman system service`) running?") from exc
        return _client


def image_exists(client: docker.DockerClient, tag: str) -> bool:
    try:
        client.images.get(tag)
        return True
    except ImageNotFound:
        return False


def tar_bytes(files: dict[str, bytes | tuple[bytes, int]]) -> bytes:
    """A tar archive of {path: data or (data, mode)}, built in memory."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, value in files.items():
            data, mode = value if isinstance(value, tuple) else (value, 0o644)
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def build_image(client: docker.DockerClient, tag: str, dockerfile: str,
                files: dict[str, bytes | tuple[bytes, int]], *, labels: dict[str, str] | None = None,
                extra_tar: bytes | None = None) -> str:
    """Build `tag` from a Dockerfile and an in-memory context; returns the tag.

    `extra_tar` is an already-made tar stream (e.g. `git archive`) appended under
    `repo/` in the context, so a repository snapshot never touches the host disk.
    """
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, value in {"Dockerfile": dockerfile.encode(), **files}.items():
            data, mode = value if isinstance(value, tuple) else (value, 0o644)
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
        if extra_tar is not None:
            with tarfile.open(fileobj=io.BytesIO(extra_tar), mode="r") as src:
                for member in src:
                    fobj = src.extractfile(member) if member.isfile() else None
                    member.name = "repo/" + member.name
                    if member.islnk():
                        member.linkname = "repo/" + member.linkname
                    tar.addfile(member, fobj)
    buf.seek(0)
    log.info("building image %s", tag)
    return _stream_build(client, tag, buf, labels or {LABEL: "1"})


class _StepContainer:
    """A build's step container, registered with harness.lifecycle while it runs: an interrupt
    removes it at once instead of leaving the daemon to finish the step (about a minute)."""

    def __init__(self, client: docker.DockerClient, cid: str):
        self.client, self.id, self.short_id = client, cid, cid[:12]

    def remove(self, force: bool = True) -> None:
        self.client.api.remove_container(self.id, force=force)


_STEP = re.compile(r"---> Running in ([0-9a-f]{12,64})")


def _stream_build(client: docker.DockerClient, tag: str, context: io.BytesIO, labels: dict[str, str]) -> str:
    from harness import lifecycle

    lifecycle.check_not_shutting_down()
    log_lines: list[str] = []
    step: _StepContainer | None = None
    finished = False
    try:
        for chunk in client.api.build(fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True,
                                      pull=False, labels=labels, decode=True):
            text = chunk.get("stream") or ""
            log_lines.append(text or chunk.get("error", ""))
            if "error" in chunk or "errorDetail" in chunk:
                tail = "".join(log_lines)[-3000:]
                msg = chunk.get("error") or (chunk.get("errorDetail") or {}).get("message", "")
                raise RuntimeError(f"image build failed for {tag}: {msg}\n{tail}")
            found = _STEP.search(text)
            if found:
                if step is not None:
                    lifecycle.forget(step)
                step = _StepContainer(client, found.group(1))
                lifecycle.register(step)
                lifecycle.note_build_step(step.id)
            if lifecycle.shutting_down():
                raise RuntimeError(f"image build of {tag} cancelled: shutting down")
        finished = True
    finally:
        if step is not None:  # the daemon removes finished steps itself (forcerm); an interrupted one goes now
            if not finished:
                lifecycle.remove(step)
            lifecycle.forget(step)
            lifecycle.note_build_step(None)
    if not image_exists(client, tag):
        raise RuntimeError(f"image build of {tag} ended without an image:\n{''.join(log_lines)[-3000:]}")
    return tag


def disk_usage(client) -> dict:
    """The engine's `system df`. Docker runs one at a time, daemon-wide, and answers a second
    with 500 "a disk usage operation is already running" (another verifier, a benchmark, `images
    list`): that one waits its turn instead of failing the build that asked."""
    from docker.errors import APIError

    delay = 0.2
    for attempt in range(25):
        try:
            return client.df() or {}
        except APIError as exc:
            if "disk usage operation is already running" not in str(exc) or attempt == 24:
                raise
            time.sleep(delay)
            delay = min(delay * 1.5, 5.0)
    return {}
