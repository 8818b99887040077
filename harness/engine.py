"""Which container engine verifies: Docker, or Podman through its Docker-compatible API,
on this machine or another (`DOCKER_HOST=tcp://...` / `ssh://...`).

    select("podman")   # --engine podman: CONTAINER_HOST, DOCKER_HOST, else Podman's own socket
    select(None)       # auto: DOCKER_HOST, else CONTAINER_HOST, else Docker's default socket

The choice is kept in the environment (MONKEYS_SWE_ENGINE, DOCKER_HOST), so CLI subprocesses and
local Ray workers talk to the same engine. What the engine is (Docker or Podman, rootless or not,
its cgroup version and the controllers it can use) is read from the engine itself (`describe`).

Limits: a sandbox's memory, CPU and pids limits are cgroup settings. Rootful Docker and Podman
enforce all three on cgroup v1 and v2. Rootless Podman enforces none on cgroup v1 (it ignores
them with a warning) and, on cgroup v2, only the controllers delegated to the user
(systemd's `Delegate=memory pids cpu` for user@.service). `check_limits` refuses, in one line
naming the limit, a sandbox whose limit the engine would not enforce: never weaker isolation
than asked for, silently.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

ENGINES = ("docker", "podman")
ENV = "MONKEYS_SWE_ENGINE"
# Where `podman system service` listens by default: rootful, then rootless.
PODMAN_SOCKETS = ("/run/podman/podman.sock", "{runtime}/podman/podman.sock")
# The cgroup controller each limit needs.
CONTROLLERS = {"memory": "memory", "cpus": "cpu", "pids": "pids"}


class EngineError(RuntimeError):
    """The engine cannot do what was asked (one line, naming it)."""


def _podman_socket() -> str | None:
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    for path in PODMAN_SOCKETS:
        path = path.format(runtime=runtime)
        if os.path.exists(path):
            return f"unix://{path}"
    return None


def select(name: str | None) -> None:
    """Choose the engine for this process and its children (`--engine`); None: auto-detect."""
    if name is None:
        return
    if name not in ENGINES:
        raise EngineError(f"unknown engine {name!r}: use one of {', '.join(ENGINES)}")
    os.environ[ENV] = name
    if name == "docker" and "podman" in os.environ.get("DOCKER_HOST", ""):  # back from Podman
        os.environ.pop("DOCKER_HOST")
    if name == "podman":
        url = os.environ.get("CONTAINER_HOST") or os.environ.get("DOCKER_HOST") or _podman_socket()
        if url is None:
            raise EngineError("no Podman service found: start one with `podman system service --time=0 "
                              "unix:///run/podman/podman.sock &`, or set CONTAINER_HOST")
        os.environ["DOCKER_HOST"] = url
    reset_client()


def base_url() -> str | None:
    """The engine's address (None: docker-py's default, the local Docker socket)."""
    return os.environ.get("DOCKER_HOST") or os.environ.get("CONTAINER_HOST") or None


def is_remote(url: str | None = None) -> bool:
    url = base_url() if url is None else url
    return bool(url) and url.split("://", 1)[0] in ("tcp", "ssh", "http", "https")


def address(client) -> str:
    """The engine's address (docker-py names every unix socket http+docker://localhost)."""
    adapter = getattr(client.api, "_custom_adapter", None)
    path = getattr(adapter, "socket_path", None)
    return f"unix://{path}" if path else str(client.api.base_url)


def reset_client() -> None:
    from harness import docker_util

    with docker_util._client_lock:
        docker_util._client = None
    with _info_lock:
        _info.clear()


@dataclass(frozen=True)
class EngineInfo:
    kind: str  # docker | podman
    version: str
    rootless: bool
    cgroup_version: str  # "1" | "2"
    controllers: tuple[str, ...] | None  # cgroup controllers it can use; None: all it reports
    storage: str  # where its images live (on the engine's machine)
    remote: bool
    ncpu: int
    mem_bytes: int
    flags: dict[str, bool]  # MemoryLimit, PidsLimit, CpuCfsQuota from /info

    def summary(self) -> dict[str, Any]:
        return {"engine": self.kind, "version": self.version, "rootless": self.rootless,
                "cgroup": f"v{self.cgroup_version}", "remote": self.remote, "storage": self.storage}


_info: dict[str, EngineInfo] = {}  # by engine address
_info_lock = threading.Lock()


def describe(client) -> EngineInfo:
    """What the engine behind `client` is (asked once per engine address)."""
    with _info_lock:
        if address(client) in _info:
            return _info[address(client)]
    info = client.info()
    components = [c.get("Name", "") for c in (client.version().get("Components") or [])]
    podman = any("podman" in n.lower() for n in components) or "BuildahVersion" in info
    rootless = bool(info.get("Rootless")) or "rootless" in " ".join(info.get("SecurityOptions") or [])
    controllers = None
    if podman:
        lib = client.api._result(client.api.get(client.api.base_url + "/v4.0.0/libpod/info"), True)
        controllers = tuple(lib.get("host", {}).get("cgroupControllers") or ())
        rootless = bool(lib.get("host", {}).get("security", {}).get("rootless", rootless))
    found = EngineInfo(
        kind="podman" if podman else "docker", version=str(info.get("ServerVersion", "")), rootless=rootless,
        cgroup_version=str(info.get("CgroupVersion") or "1"), controllers=controllers,
        storage=str(info.get("DockerRootDir", "")), remote=is_remote(address(client)),
        ncpu=int(info.get("NCPU") or os.cpu_count() or 1), mem_bytes=int(info.get("MemTotal") or 0),
        flags={k: bool(info.get(k, True)) for k in ("MemoryLimit", "PidsLimit", "CpuCfsQuota")})
    with _info_lock:
        _info[address(client)] = found
    return found


def unenforced(info: EngineInfo, *, memory: Any, cpus: Any, pids: Any) -> list[str]:
    """The limits (of those set) that `info`'s engine would not enforce, each with the reason."""
    asked = {"memory": memory, "cpus": cpus, "pids": pids}
    flag = {"memory": "MemoryLimit", "cpus": "CpuCfsQuota", "pids": "PidsLimit"}
    out = []
    for name, value in asked.items():
        if not value:
            continue
        where = f"{info.kind}{' (rootless' if info.rootless else ' (rootful'}, cgroup v{info.cgroup_version})"
        if info.rootless and info.cgroup_version == "1":  # rootless Docker ignores them too
            out.append(f"{where} cannot enforce the {name} limit ({value}): rootless limits need cgroup v2 "
                       "with the controller delegated; run the engine as root, or on cgroup v2")
        elif info.controllers is not None and CONTROLLERS[name] not in info.controllers:
            out.append(f"{where} cannot enforce the {name} limit ({value}): the {CONTROLLERS[name]} cgroup "
                       "controller is not delegated to it (systemd: Delegate=memory pids cpu)")
        elif not info.flags.get(flag[name], True):
            out.append(f"{where} cannot enforce the {name} limit ({value}): the kernel's cgroup lacks it")
    return out


def check_limits(client, limits) -> None:
    """Refuse (EngineError, one line) a sandbox whose limits the engine would not enforce."""
    missing = unenforced(describe(client), memory=limits.memory, cpus=limits.cpus, pids=limits.pids)
    if missing:
        raise EngineError(missing[0])
