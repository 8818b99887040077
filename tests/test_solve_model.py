"""`solve` with the real embedded model (SmolLM2-135M on CPU) on the harness's fixture instance.

The tiny model rarely writes a correct edit: this checks the mechanics (prompt, sampling with
per-attempt seeds, localization, conversion, Docker verification, storage), not success.
"""
from __future__ import annotations

import json
import sqlite3

import pytest

from conftest import cli
from harness_fixture import INSTANCE_ID, make_fixture_instance

pytestmark = [pytest.mark.model, pytest.mark.docker]

STATUSES = {"resolved", "not_resolved", "apply_failed", "malformed", "timeout", "error"}


def test_solve_fixture_with_the_embedded_model(tmp_path):
    inst, mirror = make_fixture_instance(tmp_path)
    data = tmp_path / "instances.jsonl"
    data.write_text(inst.model_dump_json() + "\n")
    proc = cli("solve", INSTANCE_ID, "--data", str(data), "--repo-mirror", str(mirror), "--samples", "2",
               "--max-tokens", "150", "--localize", "--runs-dir", str(tmp_path / "runs"), timeout=900)
    [run_dir] = [p.parent for p in (tmp_path / "runs").glob("solve/*/*/run.db")]
    summary = json.loads((run_dir / "solve.json").read_text())
    assert proc.returncode == (0 if summary["resolved"] else 4), proc.stderr  # 4: nothing resolved
    db = sqlite3.connect(run_dir / "run.db")
    attempts = db.execute("SELECT idx, seed, completion_tokens, prompt_tokens FROM attempts ORDER BY idx").fetchall()
    assert [a[0] for a in attempts] == [0, 1] and attempts[0][1] != attempts[1][1]  # one seed per attempt
    assert all(0 < a[2] <= 150 for a in attempts) and attempts[0][3] > 50  # the prompt was counted
    verdicts = [(s, json.loads(d)) for s, d in db.execute("SELECT status, detail FROM verdicts ORDER BY idx")]
    assert len(verdicts) == 2 and {s for s, _ in verdicts} <= STATUSES
    for status, detail in verdicts:
        assert "patch" in detail
        assert (status == "malformed") == (detail["patch"] == "")
        if status == "malformed":
            assert detail["error"]
    [(data_json,)] = db.execute("SELECT data FROM problems").fetchall()
    problem = json.loads(data_json)
    assert "calc/ops.py" in problem["context_files"] and "def mean(values):" in problem["code"]
    assert problem["localization"]["completion_tokens"] > 0  # the model was asked which files to edit
    assert summary["attempts"] == 2 and summary["verified"] == 2
    assert summary["completion_tokens"] == sum(a[2] for a in attempts)
