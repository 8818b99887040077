"""Every bad input of tests/bad_inputs.py, through the CLI as a user types it: one line on stderr
naming what to fix, a non-zero exit, never "unexpected" (a user mistake is not a bug), and no run
directory left behind by a start that failed. No model is loaded: each input is refused first."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bad_inputs import CASES
from conftest import DATA


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> tuple[Path, dict[str, tuple[int, str]]]:
    """Run in a subprocess (bad_inputs.run_all forks one child per case from a process that imported the CLI)."""
    d = tmp_path_factory.mktemp("bad")
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name("bad_inputs.py")), str(d), str(DATA)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return d, json.loads(proc.stdout.strip().splitlines()[-1])


def test_at_least_fifty_cases():
    assert len(CASES) >= 50 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_one_line_and_non_zero_exit(outcomes, case):
    cid, _, want = case
    code, stderr = outcomes[1][cid]
    lines = stderr.strip().splitlines()
    assert code != 0 and len(lines) == 1, stderr
    assert lines[0].startswith("error: ") and "unexpected" not in lines[0] and "Traceback" not in stderr
    assert want.lower() in lines[0].lower(), lines[0]


def test_failed_starts_leave_no_run_directory(outcomes):
    d = outcomes[0]
    left = sorted(str(p) for p in (d / "runs").rglob("*")) if (d / "runs").exists() else []
    assert left == []
