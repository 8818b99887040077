"""Shared test helpers: where the real datasets are, and running the CLI as a user would."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
SESSION = os.environ.setdefault("MONKEYS_SWE_SESSION", uuid.uuid4().hex[:12])


def cli(*args: str, cwd: Path | None = None, timeout: float = 600, check: bool = False) -> subprocess.CompletedProcess:
    """Run `monkeys-swe ARGS` in a subprocess; returns the completed process (text output)."""
    proc = subprocess.run(
        [sys.executable, "-m", "monkeys_swe", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"monkeys-swe {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def data_dir() -> Path:
    assert DATA.is_dir(), f"the shared datasets are expected at {DATA}"
    return DATA


@pytest.fixture(scope="session", autouse=True)
def no_container_left_behind():
    """After the whole suite (CLI subprocesses included), no container we labelled may remain."""
    import time

    import docker

    from harness.docker_util import LABEL

    client = docker.from_env()
    # Ours: labelled with this session's token (harness.lifecycle), which CLI subprocesses
    # inherit; another process's containers on the same daemon (a benchmark) are not counted.
    ours = {"label": f"{LABEL}.session={SESSION}"}
    before = {c["Id"] for c in client.api.containers(all=True, filters=ours)}
    yield
    from monkeys_swe.verifiers.programs import close_shared_pool

    close_shared_pool()  # the program runners live for the process; close them as exit would
    deadline = time.time() + 30  # pools remove used containers in the background
    while True:
        left = [c for c in client.api.containers(all=True, filters=ours) if c["Id"] not in before]
        if not left or time.time() > deadline:
            break
        time.sleep(1)
    assert not left, f"containers left behind: {[(c['Names'], c['Labels']) for c in left]}"
