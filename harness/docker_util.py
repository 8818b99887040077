"""Small Docker helpers shared by images and sandboxes: one client, labels, in-memory builds."""
from __future__ import annotations

import io
import logging
import os
import tarfile
import threading

import docker
from docker.errors import BuildError, DockerException, ImageNotFound

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
    try:
        image, output = client.images.build(fileobj=buf, custom_context=True, tag=tag, rm=True,
                                            forcerm=True, pull=False, labels=labels or {LABEL: "1"})
    except BuildError as exc:
        tail = "".join(chunk.get("stream", chunk.get("error", "")) for chunk in exc.build_log)[-3000:]
        raise RuntimeError(f"image build failed for {tag}: {exc.msg}\n{tail}") from exc
    return tag
