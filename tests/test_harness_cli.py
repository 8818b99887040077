"""`monkeys-swe verify` and `images` as a user runs them: subprocesses, real Docker, SIGINT."""
import json
import signal
import subprocess
import sys
import time

import docker
import pytest

from harness_fixture import GOLD_EDIT, OPS, make_fixture_instance, make_patch

pytestmark = pytest.mark.docker
CLI = [sys.executable, "-c", "from monkeys_swe.cli import main; main()"]


@pytest.fixture(scope="module")
def calc(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    inst, mirror = make_fixture_instance(tmp)
    data = tmp / "data.jsonl"
    data.write_text(inst.model_dump_json(exclude_none=True) + "\n")
    return inst, mirror, data, tmp


def containers_of(pid: int):
    # the low-level list: no per-container inspect that races with removal
    return docker.from_env().api.containers(all=True, filters={"label": f"monkeys-swe.owner-pid={pid}"})


def test_verify_predictions_writes_report(calc):
    inst, mirror, data, tmp = calc
    preds = tmp / "preds.jsonl"
    rows = [{"instance_id": inst.instance_id, "model_name_or_path": "m", "model_patch": p}
            for p in (inst.patch, "", inst.patch, "not a diff")]
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = tmp / "report.json"
    out = subprocess.run(CLI + ["verify", str(preds), "--data", str(data), "--repo-mirror", str(mirror),
                                "--report", str(report), "--timeout", "60"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    r = json.loads(report.read_text())
    assert r["resolved_ids"] == [inst.instance_id]
    entry = r["instances"][inst.instance_id]
    assert [a["status"] for a in entry["attempts"]] == ["resolved", "not_resolved", "resolved", "malformed"]
    assert entry["unique_patches"] == 3 and "resolved 1/1" in out.stdout
    # every verdict was streamed beside the report as it was decided (duplicates included)
    streamed = [json.loads(line) for line in report.with_suffix(".jsonl").read_text().splitlines()]
    assert sorted(row["index"] for row in streamed) == [0, 1, 2, 3]
    assert {row["index"]: row["status"] for row in streamed}[1] == "not_resolved"
    assert r["unjudged"] == {} and r["grading"] == "fail-fast"


def test_verify_exits_non_zero_when_instances_cannot_be_judged(calc, capsys):
    inst, mirror, data, tmp = calc
    broken = tmp / "broken.jsonl"  # same instance, a test command that collects nothing
    broken.write_text(inst.model_copy(update={"test_cmd": "pytest -rA tests/test_ops.py -k nothing"})
                      .model_dump_json(exclude_none=True) + "\n")
    with pytest.raises(SystemExit) as exit_:
        run_in_process("verify", "--data", str(broken), "--repo-mirror", str(mirror), "--gold", "--full-grading",
                       "--instance", inst.instance_id, "--report", str(tmp / "broken.json"))
    assert exit_.value.code == 3
    err = capsys.readouterr().err
    assert f"not judged: {inst.instance_id}: broken environment: the test command reported no test results" in err
    r = json.loads((tmp / "broken.json").read_text())
    assert r["instances"][inst.instance_id]["statuses"] == {"error": 1} and r["grading"] == "full"
    assert inst.instance_id in r["unjudged"]


def run_in_process(*args: str) -> None:
    """The click command itself, in this process (a subprocess pays seconds of imports)."""
    from monkeys_swe.cli import cli

    cli.main(list(args), standalone_mode=False)


def test_verify_gold_and_single_patch(calc, capsys):
    inst, mirror, data, tmp = calc
    base = ["verify", "--data", str(data), "--repo-mirror", str(mirror)]
    run_in_process(*base, "--gold", "--instance", inst.instance_id, "--report", str(tmp / "g.json"))
    assert json.loads((tmp / "g.json").read_text())["resolved_ids"] == [inst.instance_id]
    (tmp / "empty.diff").write_text("")
    run_in_process(*base, "--instance", inst.instance_id, "--patch", str(tmp / "empty.diff"),
                   "--report", str(tmp / "e.json"))
    assert json.loads((tmp / "e.json").read_text())["resolved_ids"] == []
    assert "resolved 0/1 instances" in capsys.readouterr().out


def test_bad_input_is_a_user_error(calc):
    from monkeys_swe.errors import UserError

    inst, mirror, data, tmp = calc
    with pytest.raises(UserError, match="nope__nope-1"):
        run_in_process("verify", "--data", str(data), "--gold", "--instance", "nope__nope-1")
    with pytest.raises(UserError, match="exactly one"):
        run_in_process("verify", "--data", str(data), "--gold", str(tmp / "preds.jsonl"))
    (tmp / "bad.jsonl").write_text('{"instance_id": "x"}\n')
    with pytest.raises(UserError, match="lacks model_patch"):
        run_in_process("verify", str(tmp / "bad.jsonl"), "--data", str(data))


def test_sigint_mid_verification_leaves_no_container(calc):
    inst, mirror, data, tmp = calc
    loop = OPS.replace(GOLD_EDIT[1], "    while True:\n        pass\n")
    hung = [make_patch(mirror, {GOLD_EDIT[0]: loop + f"\n# variant {i}\n"}) for i in range(4)]
    preds = tmp / "hung.jsonl"
    preds.write_text("".join(json.dumps({"instance_id": inst.instance_id, "model_patch": p}) + "\n" for p in hung))
    proc = subprocess.Popen(CLI + ["verify", str(preds), "--data", str(data), "--repo-mirror", str(mirror),
                                   "--timeout", "120", "--report", str(tmp / "hung.json")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while len(containers_of(proc.pid)) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert containers_of(proc.pid), "verification never started"
        time.sleep(1.5)  # tests are running now (the loops)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert containers_of(proc.pid) == []
    report = json.loads((tmp / "hung.json").read_text())  # written on interrupt, with what finished
    assert report["interrupted"] and report["total_instances"] == 1


def test_images_build_and_list(calc, capsys):
    run_in_process("images", "build")
    run_in_process("images", "list")
    out = capsys.readouterr().out
    assert "monkeys-swe/python:3.11" in out and "base" in out
