"""Shared test helpers: where the real datasets are, and running the CLI as a user would."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


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
