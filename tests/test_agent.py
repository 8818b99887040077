"""The agent's parts that need no Docker: reply parsing, output framing, limits, storage, replay."""
from __future__ import annotations

import json
import sqlite3

import pytest

from monkeys_swe.agent import prompts
from monkeys_swe.agent.loop import AgentLimits, _limit_reached, initial_messages
from monkeys_swe.trajectories import Step, TrajectoryStore
from monkeys_swe.samplers.replay import ReplaySampler
from monkeys_swe.types import GenerationParams, SampleRequest


def test_one_block_is_the_command_and_the_text_before_it_the_thought():
    thought, command = prompts.parse_reply("THOUGHT: look.\n```bash\nls -la\ncat x\n```\ntrailing")
    assert (thought, command) == ("THOUGHT: look.", "ls -la\ncat x")
    assert prompts.parse_reply("```sh\necho hi\n```")[1] == "echo hi"


@pytest.mark.parametrize("reply, found", [
    ("no block at all", "0 blocks"),
    ("```bash\nls\n```\n```bash\npwd\n```", "2 blocks"),
    ("```bash\n\n```", "an empty block"),
    ("```python\nprint(1)\n```", "0 blocks"),
])
def test_replies_without_exactly_one_command_are_rejected_with_a_message(reply, found):
    with pytest.raises(prompts.FormatError) as err:
        prompts.parse_reply(reply)
    assert found in str(err.value) and prompts.SUBMIT_MARKER in str(err.value)


def test_submit_by_command_or_by_the_marker_leading_the_output():
    assert prompts.is_submit("submit") and prompts.is_submit(f"echo {prompts.SUBMIT_MARKER}")
    assert prompts.is_submit("cd /testbed && echo X", f"{prompts.SUBMIT_MARKER}\n")
    assert not prompts.is_submit("ls", "a\nb\n") and not prompts.is_submit("echo submit")


def test_long_output_keeps_head_and_tail_with_a_marker():
    text = "".join(f"line {i}\n" for i in range(5000))
    obs = prompts.observation(text, 1, limit=1000)
    assert obs.startswith("<returncode>1</returncode>") and "line 0\n" in obs and "line 4999\n" in obs
    assert f"{len(text) - 1000} characters elided" in obs and len(obs) < 1300
    timed = prompts.observation("partial", 137, limit=1000, timed_out=True, timeout=5)
    assert "killed after 5 s" in timed and "partial" in timed


def test_limits_end_the_trajectory_in_order_of_steps_tokens_cost_time():
    steps = [Step(i, "command", "r", prompt_tokens=1000, completion_tokens=100) for i in range(3)]
    assert _limit_reached(AgentLimits(step_limit=3), steps, started=float("inf")) == "step_limit"
    assert _limit_reached(AgentLimits(token_limit=3300), steps, float("inf")) == "token_limit"
    assert _limit_reached(AgentLimits(token_limit=3301), steps, float("inf")) is None
    priced = AgentLimits(cost_limit=0.01, usd_per_mtok_in=3.0, usd_per_mtok_out=15.0)  # 0.009 + 0.0045
    assert _limit_reached(priced, steps, float("inf")) == "cost_limit"
    assert _limit_reached(AgentLimits(wall_clock_s=0.0), [], 0.0) == "wall_clock"


def test_store_writes_each_step_at_once_and_rebuilds_the_message_list(tmp_path):
    store = TrajectoryStore(tmp_path)
    head = initial_messages("mean is wrong")
    store.start("p", 3, 42, head)
    store.add_step("p", 3, Step(0, "command", "T\n```bash\nls\n```", "T", "ls", "a\n", 0, False, "<obs>", 1.5, 0.1, 10, 5, 7))
    # Another connection (another process) already sees the step: a crash now loses nothing of it.
    other = sqlite3.connect(tmp_path / "run.db")
    assert other.execute("SELECT step, command FROM steps").fetchall() == [(0, "ls")]
    store.add_step("p", 3, Step(1, "submit", "```bash\nsubmit\n```", command="submit"))
    loaded = store.load("p", 3)
    assert loaded.exit_status is None and loaded.seed == 42 and [s.kind for s in loaded.steps] == ["command", "submit"]
    assert [m["role"] for m in loaded.messages()] == ["system", "user", "assistant", "user", "assistant"]
    store.finish("p", 3, "submitted", "diff --git ...", {"wall_s": 2.0})
    done = store.load("p", 3)
    assert (done.exit_status, done.diff, done.detail) == ("submitted", "diff --git ...", {"wall_s": 2.0})
    assert store.replies() == {"p": {3: ["T\n```bash\nls\n```", "```bash\nsubmit\n```"]}}


def _request(messages, index=0):
    return SampleRequest("inst-1", messages, (index,), (11,), GenerationParams(), "the issue")


def test_replay_source_gives_the_ith_reply_of_attempt_j(tmp_path):
    src = tmp_path / "trajectories.json"
    src.write_text(json.dumps([{"id": "inst-1", "samples": [["a0", "a1"], ["b0"], "one-shot text"]}]))
    sampler = ReplaySampler(src)
    head = initial_messages("the issue")
    assert [s.text for s in sampler.generate([_request(head, 0)])] == ["a0"]
    after_one = head + [{"role": "assistant", "content": "a0"}, {"role": "user", "content": "obs"}]
    assert [s.text for s in sampler.generate([_request(after_one, 0)])] == ["a1"]
    assert [s.text for s in sampler.generate([_request(after_one, 1)])] == []  # attempt 1 has run out
    assert [s.text for s in sampler.generate([_request(head, 2)])] == ["one-shot text"]


def test_show_prints_a_one_shot_attempt_and_names_the_problems_when_the_index_is_ambiguous(tmp_path):
    from conftest import cli
    from monkeys_swe.store import Store
    from monkeys_swe.types import Problem, Sample, Verdict

    store = Store(tmp_path)
    store.add_problems([Problem("p1", "q1"), Problem("p2", "q2")])
    store.add_sample(Sample("p2", 0, "diff --git a/x.py b/x.py\n+fixed\n", 50, 20, 9, 1.0))
    store.add_verdict("p2", 0, Verdict(True, "resolved", "abc"))
    store.close()
    shown = cli("show", str(tmp_path), "p2:0", check=True)
    assert "p2" in shown.stdout and "resolved" in shown.stdout and "+fixed" in shown.stdout
    ambiguous = cli("show", str(tmp_path), "0")
    assert ambiguous.returncode == 2 and "PROBLEM_ID:0" in ambiguous.stderr and "p1, p2" in ambiguous.stderr
    missing = cli("show", str(tmp_path), "p1:3")
    assert missing.returncode == 2 and "no attempt 3 of problem p1" in missing.stderr
    assert cli("show", str(tmp_path / "nope"), "0").stderr.startswith("error: no run at")
