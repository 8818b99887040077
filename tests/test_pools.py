"""Candidate pools: three systems' predictions files on the fixture instance become one run (real
Docker verification), each attempt keeping its source's name; coverage, selectors with intervals
and a pipeline are reported over them without generating anything."""
from __future__ import annotations

import json

import pytest

from harness_fixture import BUGGY, FIXED, INSTANCE_ID, OPS, gold_source, make_fixture_instance, make_patch
from monkeys_swe.errors import UserError
from monkeys_swe.pools import pool_config, read_pool, run_pool, source_table
from monkeys_swe.reports import report_run
from monkeys_swe.store import Store
from tests.conftest import cli

pytestmark = pytest.mark.docker


def write_preds(path, system: str, patch: str) -> str:
    path.write_text(json.dumps({"instance_id": INSTANCE_ID, "model_name_or_path": system, "model_patch": patch}) + "\n")
    return str(path)


def test_read_pool_keeps_sources_and_refuses_bad_files(tmp_path):
    a = write_preds(tmp_path / "a.jsonl", "sys-a", "diff a")
    b = write_preds(tmp_path / "b.jsonl", "sys-b", "diff b")
    c = write_preds(tmp_path / "c.jsonl", "sys-a", "diff c")  # the same system name in another file
    pool, sources = read_pool([a, b, c])
    assert sources == ["sys-a", "sys-b", "sys-a (c)"]
    assert pool == {INSTANCE_ID: [("sys-a", "diff a"), ("sys-b", "diff b"), ("sys-a (c)", "diff c")]}
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"instance_id": "x"}) + "\n")
    with pytest.raises(UserError, match="lacks model_patch"):
        read_pool([bad])
    twice = tmp_path / "twice.jsonl"
    twice.write_text((json.dumps({"instance_id": "x", "model_patch": ""}) + "\n") * 2)
    with pytest.raises(UserError, match="predicted twice"):
        read_pool([twice])


def test_three_systems_pooled_verified_and_selected(tmp_path):
    inst, mirror = make_fixture_instance(tmp_path)
    data = tmp_path / "instances.jsonl"
    data.write_text(inst.model_dump_json() + "\n")
    wrong = make_patch(mirror, {"calc/ops.py": OPS.replace(BUGGY, "    return 0\n")})
    noisy = make_patch(mirror, {"calc/ops.py": gold_source().replace(FIXED, "    return sum( values )/len(values)\n")})
    files = [write_preds(tmp_path / "wrong.jsonl", "sys-wrong", wrong),
             write_preds(tmp_path / "gold.jsonl", "sys-gold", inst.patch),
             write_preds(tmp_path / "noisy.jsonl", "sys-noisy", noisy)]
    config = pool_config(files, data=str(data), runs_dir=tmp_path / "runs",
                         task_args={"repo_mirror": str(mirror), "pool_size": 1})
    run = run_pool(config)
    table = source_table(run)
    assert {s: (r["attempts"], r["resolved"]) for s, r in table.items()} == {
        "sys-wrong": (1, 0), "sys-gold": (1, 1), "sys-noisy": (1, 1)}
    store = Store(run, create=False)
    assert [s.meta["source"] for s in store.samples()] == ["sys-wrong", "sys-gold", "sys-noisy"]
    store.close()
    s = report_run(run, select={"filter-vote": "applies > existing-tests > vote > first"})
    assert s["coverage"][-1] == 1.0 and s["bootstrap"]["problems"] == 1
    # gold and noisy are one meaning: 2 votes against 1, whatever the order
    assert s["selection"]["select: filter-vote"][-1] == 1.0
    assert s["selection"]["existing tests + vote"][-1] == 1.0
    assert run_pool(config) == run  # a rerun verifies nothing again
    proc = cli("pool", *files, "--data", str(data), "--repo-mirror", str(mirror), "--runs-dir",
               str(tmp_path / "runs"), "--task-arg", "pool_size=1", "--select", "vote", check=True)
    assert "sys-gold" in proc.stdout and "Selected@k" in proc.stdout and "select: vote" in proc.stdout
