"""Adaptive allocation (monkeys_swe.allocation): solved problems stop being sampled, their slots
go to the unsolved ones; `solve --stop-on-success` stops at the first resolved attempt. The
attempts are counted in the run's store."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from conftest import cli
from monkeys_swe.config import RunConfig
from monkeys_swe.runner import Runner
from monkeys_swe.store import Store


def sample_sets(path: Path, data_dir: Path) -> list[str]:
    """Three GSM8K problems: the first is solved by its 2nd attempt, the second never, the third at once."""
    rows = [json.loads(line) for line in (data_dir / "gsm8k/test.jsonl").open()][:3]
    golds = [row["answer"].split("####")[-1].strip() for row in rows]
    wrong = "#### 999999"
    plans = [[wrong, f"#### {golds[0]}"], [], [f"#### {golds[2]}"]]
    records = [{"question": row["question"], "samples": (plan + [wrong] * 12)[:12]} for row, plan in zip(rows, plans)]
    path.write_text(json.dumps(records))
    return ["gsm8k-0", "gsm8k-1", "gsm8k-2"]


def attempts(run_dir: Path) -> Counter:
    store = Store(run_dir, create=False)
    try:
        return Counter(s.problem_id for s in store.samples())
    finally:
        store.close()


@pytest.mark.parametrize("adaptive", [False, True])
def test_adaptive_stops_sampling_solved_problems(tmp_path, data_dir, adaptive):
    source = tmp_path / "samples.json"
    ids = sample_sets(source, data_dir)
    config = RunConfig(task="gsm8k", data=str(data_dir / "gsm8k/test.jsonl"), limit=3, samples=4,
                       backend="replay", replay_from=str(source), runs_dir=str(tmp_path / "runs"))
    runner = Runner(config, adaptive=adaptive)
    run_dir = runner.run()
    got = attempts(run_dir)
    if not adaptive:  # every problem gets its samples: what coverage curves need
        assert got == {pid: 4 for pid in ids}
        return
    # round 1: one slot each (the third is solved); round 2: the first is solved; then the
    # unsolved one gets every slot left of the 3 x 4 budget
    assert got == {ids[0]: 2, ids[1]: 9, ids[2]: 1} and sum(got.values()) == 12
    assert runner.stats.solved == {ids[0], ids[2]}
    again = Runner(config, adaptive=True)  # a rerun resumes: nothing left to spend
    again.run()
    assert attempts(run_dir) == got and again.stats.generated_this_session == 0


def test_bench_adaptive_flag(tmp_path, data_dir):
    source = tmp_path / "samples.json"
    ids = sample_sets(source, data_dir)
    cli("bench", "gsm8k", "--data", str(data_dir / "gsm8k/test.jsonl"), "--limit", "3", "--samples", "4",
        "--backend", "replay", "--replay-from", str(source), "--runs-dir", str(tmp_path / "runs"), "--adaptive",
        "--no-report", check=True)
    (db,) = list((tmp_path / "runs").rglob("run.db"))
    assert attempts(db.parent) == {ids[0]: 2, ids[1]: 9, ids[2]: 1}


@pytest.mark.docker
def test_solve_stop_on_success_stops_at_the_first_resolved_attempt(tmp_path):
    from harness_fixture import BUGGY, FIXED, INSTANCE_ID, make_fixture_instance

    inst, mirror = make_fixture_instance(tmp_path)
    data = tmp_path / "instances.jsonl"
    data.write_text(inst.model_dump_json() + "\n")

    def sr(replace: str) -> str:
        return f"calc/ops.py\n<<<<<<< SEARCH\n{BUGGY}=======\n{replace}>>>>>>> REPLACE\n"

    wrong = [sr("    return sum(values) / (len(values) - 1)\n"), sr("    return 0\n")]
    samples = [*wrong, sr(FIXED), *wrong, sr(FIXED)]
    replay = tmp_path / "samples.json"
    replay.write_text(json.dumps([{"id": INSTANCE_ID, "question": "", "samples": samples}]))
    cli("solve", INSTANCE_ID, "--data", str(data), "--repo-mirror", str(mirror), "--backend", "replay",
        "--replay-from", str(replay), "--samples", "6", "--verify-workers", "1", "--stop-on-success",
        "--no-regression", "--runs-dir", str(tmp_path / "runs"), check=True)
    [found] = list((tmp_path / "runs").glob("solve/*/*/solve.json"))
    summary = json.loads(found.read_text())
    # one attempt per round (one sandbox), and no round after the resolved third attempt
    assert summary["attempts"] == 3 and summary["statuses"] == {"not_resolved": 2, "resolved": 1}
    assert summary["resolved"] == 1
