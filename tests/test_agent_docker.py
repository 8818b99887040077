"""Agent trajectories in real sandboxes on the fixture instance, driven by scripted replay replies."""
from __future__ import annotations

import json
import sqlite3
import threading
import time

import pytest

from harness.verify import Verifier
from monkeys_swe.agent import AgentLimits, AgentSampler, AgentTarget, TrajectoryStore, run_trajectory
from monkeys_swe.samplers.base import BaseSampler
from monkeys_swe.samplers.replay import ReplaySampler
from monkeys_swe.types import GenerationParams, SampleRequest
from conftest import cli
from harness_fixture import BUGGY, make_fixture_instance

pytestmark = pytest.mark.docker


def bash(thought: str, command: str) -> str:
    return f"THOUGHT: {thought}\n\n```bash\n{command}\n```"


FIX_SCRIPT = '''cat <<'EOF' > /tmp/fix.py
import pathlib
p = pathlib.Path("calc/ops.py")
p.write_text(p.read_text().replace("(len(values) + 1)", "len(values)"))
EOF
python3 /tmp/fix.py'''
GOLD_SCRIPT = [
    bash("See what is in the repository.", "ls"),
    bash("Read the module from the issue.", "cat calc/ops.py"),
    "I will run two commands.\n```bash\nls\n```\n```bash\npwd\n```",  # rejected: two blocks
    bash("Divide by len(values): edit with a heredoc'd script.", FIX_SCRIPT),
    bash("Add a test of my own (it must not reach the candidate).", "echo 'def test_x(): pass' > tests/test_mine.py"),
    bash("Check the change.", "git diff && python3 -c 'from calc.ops import mean; print(mean([1, 2, 3, 4]))'"),
    bash("Done.", "echo MONKEYS_SWE_SUBMIT"),
]
NEVER_SUBMITS = [bash("Edit with sed.", "sed -i 's|(len(values) + 1)|len(values)|' calc/ops.py")] + \
                [bash("Look again.", "ls calc") for _ in range(20)]


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    inst, mirror = make_fixture_instance(tmp_path_factory.mktemp("agent"))
    verifier = Verifier(inst, repo_mirror=mirror, pool_size=1)
    verifier.ensure_image()
    yield inst, verifier
    verifier.close()


def replay_source(tmp_path, inst, scripts):
    src = tmp_path / "scripted.json"
    src.write_text(json.dumps([{"id": inst.instance_id, "question": inst.problem_statement, "samples": scripts}]))
    return ReplaySampler(src)


class CountingSampler(BaseSampler):
    """A real sampler, watched: how many of its calls overlap (the model gate must bound this)."""

    def __init__(self, inner):
        self.inner, self.model_name, self.now, self.peak = inner, inner.model_name, 0, 0
        self.lock = threading.Lock()

    def generate(self, requests):
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        time.sleep(0.05)  # a model takes time: give overlapping calls the chance to happen
        try:
            yield from self.inner.generate(requests)
        finally:
            with self.lock:
                self.now -= 1

    def close(self):
        self.inner.close()


def run_attempts(sampler, run_dir, inst, image, n, limits, parallel=2, on_step=None, model_concurrency=None):
    agent = AgentSampler(sampler, run_dir, lambda pid: AgentTarget(image, inst.problem_statement),
                         limits=limits, parallel=parallel, on_step=on_step, model_concurrency=model_concurrency)
    request = SampleRequest(inst.instance_id, [], tuple(range(n)), tuple(100 + i for i in range(n)),
                            GenerationParams(), inst.problem_statement)
    try:
        return {s.index: s for s in agent.generate([request])}
    finally:
        agent.close()


def test_scripted_trajectories_in_parallel_yield_the_gold_fix_and_a_stored_partial_diff(fixture, tmp_path):
    inst, verifier = fixture
    run_dir = tmp_path / "run"
    persisted = []  # rows visible to another connection when each step's callback fires
    second_started, overlapped = threading.Event(), []

    def on_step(pid, index, step):
        if index == 1:
            second_started.set()
        elif step.step == 0:  # attempt 0 holds here until attempt 1 has run a step: only parallel runs pass
            overlapped.append(second_started.wait(timeout=120))
        with sqlite3.connect(run_dir / "run.db") as con:
            persisted.append(con.execute("SELECT COUNT(*) FROM steps WHERE idx=?", (index,)).fetchone()[0] == step.step + 1)

    model = CountingSampler(replay_source(tmp_path, inst, [GOLD_SCRIPT, NEVER_SUBMITS]))
    samples = run_attempts(model, run_dir, inst, verifier.image, 2, AgentLimits(step_limit=8), on_step=on_step,
                           model_concurrency=1)
    assert overlapped == [True]  # the two trajectories ran at the same time, in their own sandboxes...
    assert model.peak == 1  # ...while the model answered one call at a time
    gold, partial = samples[0], samples[1]
    assert gold.meta["exit_status"] == "submitted" and gold.meta["steps"] == 7
    assert gold.text == inst.patch  # the test file it wrote was left out...
    assert gold.meta["dropped_files"] == ["tests/test_mine.py"]
    assert verifier.verify(gold.text).resolved  # ...and the diff resolves the issue
    assert partial.meta["exit_status"] == "step_limit" and partial.meta["steps"] == 8
    assert "+    return sum(values) / len(values)" in partial.text
    assert all(persisted) and len(persisted) == 15

    store = TrajectoryStore(run_dir)
    traj = store.load(inst.instance_id, 0)
    kinds = [s.kind for s in traj.steps]
    assert kinds == ["command", "command", "format_error", "command", "command", "command", "submit"]
    assert traj.steps[1].exit_code == 0 and BUGGY.strip() in traj.steps[1].output
    assert "2.5" in traj.steps[5].output and "exactly ONE" in traj.steps[2].observation
    assert traj.seed == 100 and len({s.seed for s in traj.steps}) == 7  # a seed per step
    assert store.load(inst.instance_id, 1).diff == partial.text  # the partial diff is stored
    store.close()

    shown = cli("show", str(run_dir), "0")
    assert shown.returncode == 0, shown.stderr
    for text in ("submitted", "format error", "cat calc/ops.py", "exit 0", "step 6", "len(values)"):
        assert text in shown.stdout
    messages = json.loads(cli("show", str(run_dir), "0", "--messages", check=True).stdout)
    assert [m["role"] for m in messages][:4] == ["system", "user", "assistant", "user"] and len(messages) == 15
    bad = cli("show", str(run_dir), "seven")
    assert bad.returncode == 2 and bad.stderr.startswith("error: ATTEMPT must be")

    # The run's own database replays the same trajectories into a second run.
    again = run_attempts(ReplaySampler(run_dir), tmp_path / "rerun", inst, verifier.image, 1, AgentLimits(step_limit=8))
    assert again[0].text == inst.patch and again[0].meta["exit_status"] == "submitted"


def test_a_hanging_command_is_cut_and_the_network_is_unreachable(fixture, tmp_path):
    inst, verifier = fixture
    script = [bash("Wait.", "sleep 1000"), bash("Reach out.", "python3 -c \"import socket; "
              "socket.create_connection(('1.1.1.1', 80), timeout=5)\""), bash("Resolve a name.", "getent hosts pypi.org || echo no-dns"),
              bash("Done.", "submit")]
    result = run_trajectory(replay_source(tmp_path, inst, [script]), verifier.image, inst.problem_statement,
                            problem_id=inst.instance_id, limits=AgentLimits(command_timeout_s=2))
    hang, net, dns, submit = result.steps
    # Cut at 2 s (not 1000): generous bound for a loaded machine; the flag is the real check.
    assert hang.timed_out and 1.9 < hang.exec_s < 60 and "killed after 2 s" in hang.observation
    assert net.exit_code != 0 and "Network is unreachable" in net.output
    assert "no-dns" in dns.output
    assert result.exit_status == "submitted" and result.diff == ""


def test_a_trajectory_cut_short_by_a_crash_resumes_from_its_stored_steps(fixture, tmp_path):
    inst, verifier = fixture
    run_dir = tmp_path / "run"
    sampler = replay_source(tmp_path, inst, [NEVER_SUBMITS[:2] + [bash("Done.", "submit")]])

    def crash_after_first_step(pid, index, step):
        raise KeyboardInterrupt  # the process dies after step 0 (the sed edit) was stored

    with pytest.raises(KeyboardInterrupt):
        run_attempts(sampler, run_dir, inst, verifier.image, 1, AgentLimits(), on_step=crash_after_first_step)
    assert [s.step for s in TrajectoryStore(run_dir).load(inst.instance_id, 0).steps] == [0]
    resumed = run_attempts(sampler, run_dir, inst, verifier.image, 1, AgentLimits())[0]
    # The stored sed was re-executed in the fresh sandbox, then the model went on from step 1.
    assert resumed.meta["exit_status"] == "submitted" and resumed.meta["steps"] == 3
    assert "+    return sum(values) / len(values)" in resumed.text


def test_agent_attempts_flow_through_the_run_loop_verification_dedupe_and_selection(fixture, tmp_path):
    from monkeys_swe.agent import swebench_targets
    from monkeys_swe.config import RunConfig
    from monkeys_swe.runner import Runner
    from monkeys_swe.solve.select import select_patch
    from monkeys_swe.store import Store
    from monkeys_swe.tasks.swebench import SWEBenchTask

    inst, verifier = fixture
    wrong = [bash("Guess.", "sed -i 's|(len(values) + 1)|(len(values) - 1)|' calc/ops.py"), bash("Done.", "submit")]
    idle = [bash("Look.", "ls"), bash("Done.", "submit")]
    src = tmp_path / "scripted.json"
    src.write_text(json.dumps([{"id": inst.instance_id, "samples": [GOLD_SCRIPT, NEVER_SUBMITS, wrong, idle]}]))
    config = RunConfig(task="swebench", samples=4, backend="replay", replay_from=str(src), runs_dir=str(tmp_path))
    task = SWEBenchTask([inst], repo_mirror=verifier.repo_mirror, regression=False, pool_size=1)
    problems = task.load(None, None)
    task.load = lambda data, limit: problems
    agent = AgentSampler(ReplaySampler(src), config.run_dir(), swebench_targets(task, problems),
                         limits=AgentLimits(step_limit=8), parallel=2)
    try:
        Runner(config, task=task, sampler=agent).run()
    finally:
        task.close()
        agent.close()
    store = Store(config.run_dir(), create=False)
    verdicts = {i: v for _, i, v in store.verdicts()}
    counts = store.counts()
    store.close()
    assert {i: v.status for i, v in verdicts.items()} == {0: "resolved", 1: "resolved", 2: "not_resolved", 3: "malformed"}
    assert verdicts[0].answer == verdicts[1].answer  # the same fix by two routes: one patch hash
    assert task.docker_verifications == 2  # ...verified once; the empty diff never reached Docker
    assert counts["attempts"] == 4 and counts["prompt_tokens"] == 0  # replay: no tokens billed
    chosen = select_patch(sorted(verdicts.items()))
    assert chosen.patch_hash == verdicts[0].answer and chosen.votes == 2


def test_solve_mode_agent_from_the_cli(tmp_path):
    """`monkeys-swe solve --mode agent`: scripted trajectories become verified, selected attempts."""
    inst, mirror = make_fixture_instance(tmp_path)
    data = tmp_path / "instances.jsonl"
    data.write_text(inst.model_dump_json() + "\n")
    src = tmp_path / "scripted.json"
    src.write_text(json.dumps([{"id": inst.instance_id, "samples": [GOLD_SCRIPT, NEVER_SUBMITS[:3]]}]))
    args = ("solve", inst.instance_id, "--data", str(data), "--repo-mirror", str(mirror), "--mode", "agent",
            "--agent-steps", "8", "--backend", "replay", "--replay-from", str(src), "--samples", "2",
            "--runs-dir", str(tmp_path / "runs"))
    proc = cli(*args, check=True)
    [found] = list((tmp_path / "runs").glob("solve/*/*/solve.json"))
    summary = json.loads(found.read_text())
    assert summary["mode"] == "agent" and summary["attempts"] == 2
    assert summary["statuses"] == {"resolved": 2}  # the never-submitting trajectory's sed fix counts too
    assert summary["unique_patches"] == 1 and summary["docker_verifications"] == 1
    assert "+    return sum(values) / len(values)" in (found.parent / "chosen.patch").read_text()
    shown = cli("show", str(found.parent), "0", check=True).stdout
    assert "MONKEYS_SWE_SUBMIT" in shown and "submitted" in shown
    assert proc.returncode == 0
