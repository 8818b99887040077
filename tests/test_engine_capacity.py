"""Engine choice, the limits an engine would not enforce, and the sandbox gate's ramp-up and back-off
(pure logic: the engines themselves are in test_harness_podman.py)."""
import threading
import time

import pytest

from harness import capacity, engine
from harness.disk import DiskError, parse_size


def info(**kw) -> engine.EngineInfo:
    base = dict(kind="podman", version="4.3.1", rootless=True, cgroup_version="2", controllers=("memory", "pids"),
                storage="/x", remote=False, ncpu=2, mem_bytes=8 << 30,
                flags={"MemoryLimit": True, "PidsLimit": True, "CpuCfsQuota": True})
    return engine.EngineInfo(**{**base, **kw})


def test_unenforced_limits_name_the_limit_and_why():
    v2 = engine.unenforced(info(), memory="1g", cpus=1.0, pids=64)
    assert len(v2) == 1 and "cpus limit (1.0)" in v2[0] and "cpu cgroup controller is not delegated" in v2[0]
    assert engine.unenforced(info(), memory="1g", cpus=0, pids=64) == []  # no CPU limit asked
    v1 = engine.unenforced(info(cgroup_version="1", controllers=()), memory="1g", cpus=1.0, pids=64)
    assert [m.split(" limit")[0].split()[-1] for m in v1] == ["memory", "cpus", "pids"]
    assert all("rootless" in m and "\n" not in m for m in v1)
    rootful = info(rootless=False, controllers=("cpu", "memory", "pids"), cgroup_version="1")
    assert engine.unenforced(rootful, memory="1g", cpus=1.0, pids=64) == []
    no_pids = info(kind="docker", rootless=False, controllers=None,
                   flags={"MemoryLimit": True, "PidsLimit": False, "CpuCfsQuota": True})
    assert ["pids" in m for m in engine.unenforced(no_pids, memory="1g", cpus=1.0, pids=64)] == [True]


def test_select_rejects_unknown_engines_and_finds_podman_by_env(monkeypatch):
    with pytest.raises(engine.EngineError, match="unknown engine 'lxc'"):
        engine.select("lxc")
    monkeypatch.setenv("CONTAINER_HOST", "tcp://10.0.0.5:8888")
    for key in ("DOCKER_HOST", engine.ENV):  # set then removed, so that undo() puts back what was there
        monkeypatch.setenv(key, "")
        monkeypatch.delenv(key)
    try:
        engine.select("podman")
        assert engine.base_url() == "tcp://10.0.0.5:8888" and engine.is_remote()
    finally:
        monkeypatch.undo()
        engine.reset_client()
    assert engine.is_remote("ssh://u@h") and not engine.is_remote("unix:///run/podman/podman.sock")


def test_sizes():
    assert parse_size("40g") == 40 << 30 and parse_size("512MiB") == 512 << 20 and parse_size(1000) == 1000
    with pytest.raises(DiskError, match="not a size"):
        parse_size("forty")


def test_gate_ramps_up_backs_off_and_caps(monkeypatch):
    monkeypatch.delenv("MONKEYS_SWE_MAX_SANDBOXES", raising=False)
    assert capacity.default_cap(2, 23 << 30) == 4 and capacity.default_cap(64, 8 << 30) == 8
    assert capacity.default_cap(1, 1 << 30) == 2
    gate = capacity.Gate("test", cap=4)
    assert gate.stats.window == 2
    assert gate.acquire() and gate.acquire() and not gate.acquire(wait=False)  # ramp: 2 at first
    gate.started(0.1)
    gate.started(0.1)
    assert gate.stats.window == 4  # quick starts widen it, up to the cap
    gate.started(0.1)
    assert gate.stats.window == 4
    gate.back_off("exec took 6.0s to create")
    assert gate.stats.window == 2 and gate.stats.backoffs == 1 and "window 4 -> 2" in gate.stats.events[0]
    gate.started(capacity.SLOW_START_S + 1)  # a slow start halves it again
    assert gate.stats.window == 1


def test_gate_waiters_come_before_spares():
    gate = capacity.Gate("test", cap=2)
    gate.stats.window = 1
    assert gate.acquire()
    got = []
    waiter = threading.Thread(target=lambda: got.append(gate.acquire()))
    waiter.start()
    time.sleep(0.2)
    assert gate.stats.waits == 1
    gate.stats.window = 2  # a slot is free, the waiter not yet woken: a spare may not take it
    assert not gate.acquire(wait=False)
    gate.release()
    waiter.join(5)
    assert got == [True] and gate.stats.live == 1 and gate.stats.peak == 1
