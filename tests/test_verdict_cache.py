"""harness.verdict_cache: the SQLite table itself (the Docker round trips are in test_verdict_cache_docker.py)."""
from __future__ import annotations

import multiprocessing
import sqlite3

from harness import verdict_cache
from harness.sandbox import Limits
from harness.specs import resolve
from harness_fixture import make_fixture_instance


def fields(inst, **changes):
    base = dict(instance=inst, spec=resolve(inst), image_id="sha256:aaa", grading="fail-fast",
                fail_fast_cmd="pytest -rA tests/test_ops.py::test_mean", limits=Limits(timeout_s=60),
                candidate="s0123")
    return verdict_cache.verdict_fields(**{**base, **changes})


def test_every_input_of_a_verdict_is_in_its_key(tmp_path):
    inst, _ = make_fixture_instance(tmp_path)
    key = verdict_cache.verdict_key(fields(inst))
    assert key == verdict_cache.verdict_key(fields(inst))  # stable
    others = [fields(inst, image_id="sha256:bbb"), fields(inst, grading="full"), fields(inst, candidate="s9"),
              fields(inst, limits=Limits(timeout_s=61)), fields(inst, fail_fast_cmd="pytest -k x"),
              fields(inst.model_copy(update={"base_commit": "0" * 40})),
              fields(inst.model_copy(update={"FAIL_TO_PASS": ["tests/test_ops.py::test_mean"]})),
              fields(inst.model_copy(update={"test_patch": inst.test_patch + "\n"}))]
    assert len({verdict_cache.verdict_key(f) for f in others} | {key}) == len(others) + 1
    assert fields(inst)["harness"] == verdict_cache.harness_version() and len(verdict_cache.harness_version()) == 16


def test_judgements_are_kept_errors_and_timeouts_never(tmp_path):
    db = tmp_path / "v.db"
    log = tmp_path / "run.log"
    log.write_text("the decisive log\n")
    cache = verdict_cache.VerdictCache(db)
    assert cache.put("k1", {"instance_id": "i"}, {"status": "not_resolved", "log_path": str(log), "cached": False})
    for status in ("error", "timeout", "malformed"):
        assert not cache.put(f"k-{status}", {}, {"status": status})
    assert cache.get("k-error") is None and cache.get("nope") is None
    hit = cache.get("k1")
    assert hit["status"] == "not_resolved" and (cache.hits, cache.misses) == (1, 2)
    log.unlink()  # the run that made it is gone: the copy beside the database still opens
    assert open(hit["log_path"]).read() == "the decisive log\n"
    cache.close()
    again = verdict_cache.VerdictCache(db)  # persistent
    assert len(again) == 1 and again.get("k1")["status"] == "not_resolved"
    assert sqlite3.connect(db).execute("SELECT status FROM verdicts").fetchall() == [("not_resolved",)]


def _writer(path: str, n: int) -> None:
    cache = verdict_cache.VerdictCache(path)
    for i in range(50):
        cache.put(f"p{n}-{i}", {"instance_id": "i"}, {"status": "resolved"})


def test_processes_share_one_file(tmp_path):
    path = str(tmp_path / "shared.db")
    procs = [multiprocessing.get_context("spawn").Process(target=_writer, args=(path, n)) for n in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert len(verdict_cache.VerdictCache(path)) == 150
    assert verdict_cache.open_cache(None) is None and verdict_cache.open_cache(False) is None
