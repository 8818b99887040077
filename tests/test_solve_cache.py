"""solve's regression runs (the existing tests near each change, `Verifier.run_tests`) use the
verdict cache: a second identical solve in another run directory on the same cache file makes no
Docker run at all, neither verdicts nor regression runs, and gets the same results. Which runs
happened is read from the logs each run leaves in its own log directory, not only from counters."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness_fixture import BUGGY, FIXED, INSTANCE_ID, make_fixture_instance
from monkeys_swe.solve.run import SolveRequest, solve

pytestmark = pytest.mark.docker


def sr(replace: str) -> str:
    return f"calc/ops.py\n<<<<<<< SEARCH\n{BUGGY}=======\n{replace}>>>>>>> REPLACE\n"


def test_second_identical_solve_runs_nothing(tmp_path):
    inst, mirror = make_fixture_instance(tmp_path)
    data = tmp_path / "instances.jsonl"
    data.write_text(inst.model_dump_json() + "\n")
    replay = tmp_path / "samples.json"
    replay.write_text(json.dumps([{"id": INSTANCE_ID, "question": "",
                                   "samples": [sr(FIXED), sr("    return sum(values) / (len(values) - 1)\n")]}]))
    cache = tmp_path / "verdicts.db"

    def run(name: str, cache_path: Path | None = cache):
        req = SolveRequest(instance_id=INSTANCE_ID, data=str(data), repo_mirror=str(mirror), samples=2,
                           verify_workers=1, timeout_s=120, verdict_cache=str(cache_path) if cache_path else None,
                           run={"backend": "replay", "replay_from": str(replay), "runs_dir": str(tmp_path / name)})
        result = solve(req)
        logs = list((result.run_dir / "logs").rglob("*.log"))
        regression = [p for p in logs if p.name.endswith("-tests.log")]
        return result.summary, logs, regression, result.run_dir

    first, logs1, reg1, dir1 = run("first")
    assert (first["docker_verifications"], first["cache_hits"]) == (2, 0)
    # the base commit once, then each applied candidate: real runs, each with its log
    assert (first["regression_runs"], first["regression_cache_hits"]) == (3, 0) and len(reg1) == 3
    second, logs2, reg2, dir2 = run("second")  # another run directory: nothing to resume, all from the cache
    assert dir2 != dir1
    assert (second["docker_verifications"], second["cache_hits"]) == (0, 2)
    assert (second["regression_runs"], second["regression_cache_hits"]) == (0, 3)
    assert logs2 == [] and reg2 == []  # no test command ran
    for key in ("statuses", "resolved", "pass_existing_tests", "selection"):
        assert second[key] == first[key], key
    assert first["pass_existing_tests"] == 2  # neither edit breaks test_add*
