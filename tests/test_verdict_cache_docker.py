"""Never verify twice, in real Docker on the fixture instance: dedupe by meaning, and the verdict
cache across `verify` runs (hits, --no-cache, a changed image). Which candidates really ran is
read from the test logs each run leaves (`<hash>-fail-fast.log` / `<hash>-full.log`), not from
the counters under test."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import patch as patches
from harness.verify import Verifier
from harness_fixture import BUGGY, FIXED, OPS, TESTS, gold_source, make_fixture_instance, make_patch

pytestmark = pytest.mark.docker
PATH = "calc/ops.py"
NOISY = gold_source().replace(FIXED, "    # the count, not count + 1\n    return sum( values )/len(values)  # fixed\n\n\n")


@pytest.fixture(scope="module")
def calc(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("vcache")
    inst, mirror = make_fixture_instance(tmp)
    cands = {"gold": inst.patch, "noisy": make_patch(mirror, {PATH: NOISY}),
             "wrong1": make_patch(mirror, {PATH: OPS.replace(BUGGY, "    return sum(values) / (len(values) - 1)\n")}),
             "wrong2": make_patch(mirror, {PATH: OPS.replace(BUGGY, "    return 0\n")}),
             "empty": "", "tests-only": make_patch(mirror, {"tests/test_ops.py": TESTS + "\n# more later\n"})}
    return inst, mirror, cands, tmp


def ran(log_dir: Path, patch: str) -> bool:
    """Did this candidate's own test run happen (a fail-fast, stop-first or full log under its hash)?"""
    h = patches.patch_hash(patch)
    return any(any(log_dir.rglob(f"{h}-{stage}.log")) for stage in ("fail-fast", "stop-first", "full"))


def test_same_code_is_verified_once_and_test_only_edits_share_the_empty_verdict(calc):
    inst, mirror, cands, tmp = calc
    logs = tmp / "logs-dedupe"
    names = list(cands)
    with Verifier(inst, repo_mirror=mirror, pool_size=2, log_dir=logs) as v:
        got = {names[i]: verdict for i, verdict in v.verify_many(cands.values())}
    assert {n: got[n].status for n in names} == {"gold": "resolved", "noisy": "resolved", "wrong1": "not_resolved",
                                                 "wrong2": "not_resolved", "empty": "not_resolved",
                                                 "tests-only": "not_resolved"}
    assert got["noisy"].duplicate_of == names.index("gold") and got["tests-only"].duplicate_of == names.index("empty")
    assert got["wrong1"].duplicate_of is None and got["wrong2"].duplicate_of is None  # different code: twice
    assert [n for n in names if ran(logs, cands[n])] == ["gold", "wrong1", "wrong2", "empty"]
    # the shared copies keep their own identity
    assert got["noisy"].patch_hash == patches.patch_hash(cands["noisy"]) != got["gold"].patch_hash
    assert got["tests-only"].dropped_files == ["tests/test_ops.py"] and got["empty"].dropped_files == []
    assert got["noisy"].semantic_key == got["gold"].semantic_key != got["wrong1"].semantic_key


def run_verify(*args: str) -> None:
    from monkeys_swe.cli import cli

    cli.main(["verify", *args], standalone_mode=False)


def test_verify_reuses_verdicts_across_runs(calc, capsys):
    inst, mirror, cands, tmp = calc
    data, preds, cache = tmp / "data.jsonl", tmp / "preds.jsonl", tmp / "verdicts.db"
    cands = {n: cands[n] for n in ("gold", "noisy", "empty", "tests-only")}  # two unique by meaning
    data.write_text(inst.model_dump_json(exclude_none=True) + "\n")
    preds.write_text("".join(json.dumps({"instance_id": inst.instance_id, "model_name_or_path": n,
                                         "model_patch": p}) + "\n" for n, p in cands.items()))

    def verify(run: str, *extra: str, data_file: Path = data) -> tuple[dict, Path]:
        logs = tmp / f"logs-{run}"
        run_verify(str(preds), "--data", str(data_file), "--repo-mirror", str(mirror), "--timeout", "120",
                   "--full-grading",  # one test run per candidate (fail-fast is exercised above)
                   "--report", str(tmp / f"{run}.json"), "--log-dir", str(logs), *extra)
        report = json.loads((tmp / f"{run}.json").read_text())
        return report["instances"][inst.instance_id], logs

    first, logs1 = verify("first", "--cache", str(cache))
    statuses = [a["status"] for a in first["attempts"]]
    assert first["cache_hits"] == 0 and sum(ran(logs1, p) for p in cands.values()) == 2
    assert (first["unique_patches"], first["unique_semantic"]) == (4, 2)

    second, logs2 = verify("second", "--cache", str(cache))  # same predictions: no test run at all
    assert second["cache_hits"] == len(cands) and not any(ran(logs2, p) for p in cands.values())
    assert [a["status"] for a in second["attempts"]] == statuses and all(a["cached"] for a in second["attempts"])
    assert Path(second["attempts"][0]["log_path"]).is_file()  # the decisive log, kept beside the cache
    assert f"verdict cache: {len(cands)} hits ({cache})" in capsys.readouterr().out

    third, logs3 = verify("third", "--no-cache")  # bypassed: all of them again
    assert third["cache_hits"] == 0 and sum(ran(logs3, p) for p in cands.values()) == 2
    assert [a["status"] for a in third["attempts"]] == statuses

    # another image (one more install step: a new image id) is another environment
    other = tmp / "data-other-image.jsonl"
    other.write_text(inst.model_copy(update={"install": [*inst.install, "true"]}).model_dump_json(exclude_none=True) + "\n")
    fourth, logs4 = verify("fourth", "--cache", str(cache), data_file=other)
    assert fourth["image"] != first["image"]
    assert fourth["cache_hits"] == 0 and sum(ran(logs4, p) for p in cands.values()) == 2
    assert [a["status"] for a in fourth["attempts"]] == statuses


def test_another_run_of_the_task_reuses_verdicts(calc):
    """A second bench/sweep cell (another seed: another run directory) on the same cache file."""
    from harness_fixture import INSTANCE_ID
    from monkeys_swe.config import RunConfig
    from monkeys_swe.runner import Runner
    from monkeys_swe.tasks.swebench import SWEBenchTask

    inst, mirror, _, tmp = calc

    def sr(replace: str) -> str:
        return f"calc/ops.py\n<<<<<<< SEARCH\n{BUGGY}=======\n{replace}>>>>>>> REPLACE\n"

    replay = tmp / "task-samples.json"
    replay.write_text(json.dumps([{"id": INSTANCE_ID, "samples": [sr(FIXED), sr("    return 0\n")]}]))
    counts = []
    for seed in (0, 1):
        config = RunConfig(task="swebench", samples=2, backend="replay", replay_from=str(replay),
                           runs_dir=str(tmp / "task-runs"), seed=seed)
        task = SWEBenchTask([inst], repo_mirror=mirror, regression=False, pool_size=1,
                            verdict_cache=tmp / "task-verdicts.db")
        Runner(config, task=task, problems=task.load(None, None)).run()
        counts.append((task.docker_verifications, task.cache_hits))
    assert counts == [(2, 0), (0, 2)]
