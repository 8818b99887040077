"""Ctrl-C and SIGTERM on real runs: the embedded llama.cpp model while it decodes (this segfaulted:
the model was freed under the sampler thread), `solve`, and an image build with its step container.
Each checks the exit status (130/143), the resume line, the store, and the containers left (none)."""
from __future__ import annotations

import json
import signal
import time
import uuid

import pytest

from conftest import DATA
from harness_fixture import INSTALL, make_fixture_instance
from interrupting import (RESUME_LINE, attempts, crashed, existing, interrupt, launch, noted_steps, our_containers,
                          wait_for)


def _bench(tmp_path):
    return ["bench", "gsm8k", "--data", str(DATA / "gsm8k/test.jsonl"), "--limit", "1", "--samples", "2",
            "--max-tokens", "16", "--runs-dir", str(tmp_path / "runs"), "--no-report"]


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"])
def test_interrupting_the_llamacpp_model_while_it_decodes(tmp_path, sig, code):
    run = launch(_bench(tmp_path), tmp_path, "bench")
    assert wait_for(lambda: "sampling..." in run.stderr(), 300, run.proc), run.stderr()
    time.sleep(1.0)  # the sampler thread is inside llama.cpp now
    rc, secs = interrupt(run, sig)
    err = run.stderr()
    assert not crashed(rc) and rc == code, (rc, err)
    assert err.strip().endswith(RESUME_LINE) and secs < 60
    [db] = list((tmp_path / "runs").glob("*/run.db"))
    stored = attempts(db)
    assert len(stored) <= 2 and all(t is not None for t in stored.values())  # whole attempts only
    if sig != signal.SIGINT:
        return  # the resume is checked once (decoding the few-shot prompt again costs a minute on a busy CPU)
    again = launch(_bench(tmp_path), tmp_path, "rerun")  # the same command resumes and finishes
    assert again.proc.wait(timeout=900) == 0, again.stderr()
    after = attempts(db)
    assert len(after) == 2 and all(after[k] == t for k, t in stored.items())  # nothing lost, nothing changed


@pytest.mark.docker
def test_ctrl_c_while_solve_samples_leaves_no_container(tmp_path):
    inst, mirror = make_fixture_instance(tmp_path)
    data = tmp_path / "calc.jsonl"
    data.write_text(inst.model_dump_json(exclude_none=True) + "\n")
    run = launch(["solve", inst.instance_id, "--data", str(data), "--repo-mirror", str(mirror), "--samples", "2",
                  "--max-tokens", "32", "--runs-dir", str(tmp_path / "runs")], tmp_path, "solve")
    assert wait_for(lambda: "attempts 0/2" in run.stderr(), 600, run.proc), run.stderr()
    time.sleep(1.0)
    rc, _ = interrupt(run, signal.SIGINT)
    err = run.stderr()
    assert rc == 130 and err.strip().endswith(RESUME_LINE), (rc, err)
    assert our_containers(run.proc.pid) == []
    [db] = list((tmp_path / "runs").glob("solve/*/*/run.db"))
    assert len(attempts(db)) <= 2


@pytest.mark.docker
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
def test_an_interrupted_image_build_leaves_no_step_container(tmp_path, sig):
    inst, mirror = make_fixture_instance(tmp_path)
    slow = inst.model_copy(update={"instance_id": f"monkeys__calc-{uuid.uuid4().hex[:8]}",
                                   "install": [*INSTALL, "sleep 60"]})  # a new image, whose build takes a minute
    data = tmp_path / "slow.jsonl"
    data.write_text(slow.model_dump_json(exclude_none=True) + "\n")
    report = tmp_path / "report.json"
    run = launch(["verify", "--gold", "--instance", slow.instance_id, "--data", str(data), "--repo-mirror", str(mirror),
                  "--no-cache", "--report", str(report)], tmp_path, "verify")
    assert wait_for(lambda: bool(noted_steps(run.proc.pid)), 600, run.proc), run.stderr()
    steps = noted_steps(run.proc.pid)
    assert existing(steps)  # the step container runs (`sleep 60`)
    rc, secs = interrupt(run, sig)
    if sig == signal.SIGKILL:  # nobody was left to remove it: the next run on this host does (reap_orphans)
        from harness.docker_util import LABEL, get_client
        from harness.lifecycle import reap_orphans

        assert rc == -9 and existing(steps)
        reap_orphans(get_client(), LABEL, once=False)
        assert existing(steps) == []
        return
    err = run.stderr()
    assert rc == 143 and err.strip().endswith(RESUME_LINE), (rc, err)
    assert existing(steps) == [] and our_containers(run.proc.pid) == []  # at once, not a minute later
    entry = json.loads(report.read_text())["instances"][slow.instance_id]
    assert entry["attempts"] == [] and entry["not_finished"] == 1 and None not in entry["attempts"]
