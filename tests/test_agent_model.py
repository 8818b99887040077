"""The real embedded model (SmolLM2-135M) drives a short trajectory end to end: mechanics only."""
from __future__ import annotations

import pytest

from harness.verify import Verifier
from monkeys_swe.agent import AgentLimits, AgentSampler, AgentTarget, TrajectoryStore
from monkeys_swe.samplers.llamacpp import LlamaCppSampler
from monkeys_swe.types import GenerationParams, SampleRequest
from harness_fixture import make_fixture_instance

pytestmark = [pytest.mark.model, pytest.mark.docker]


def test_smollm2_runs_a_three_step_trajectory_in_a_sandbox(tmp_path):
    inst, mirror = make_fixture_instance(tmp_path)
    with Verifier(inst, repo_mirror=mirror, pool_size=1) as verifier:
        image = verifier.ensure_image()
    model = LlamaCppSampler()
    agent = AgentSampler(model, tmp_path / "run", lambda pid: AgentTarget(image, inst.problem_statement),
                         limits=AgentLimits(step_limit=3, command_timeout_s=10), parallel=1)
    request = SampleRequest(inst.instance_id, [], (0,), (1234,), GenerationParams(temperature=0.7, max_tokens=48),
                            inst.problem_statement)
    try:
        (sample,) = list(agent.generate([request]))
    finally:
        agent.close()
        model.close()
    traj = TrajectoryStore(tmp_path / "run").load(inst.instance_id, 0)
    assert sample.meta["exit_status"] in ("step_limit", "submitted") and sample.meta["error"] is None
    assert 1 <= len(traj.steps) <= 3 and traj.exit_status == sample.meta["exit_status"]
    for step in traj.steps:
        assert step.reply and step.completion_tokens > 0 and step.model_s > 0
        assert step.kind in ("command", "format_error", "submit")
        if step.kind == "command":  # whatever the model wrote really ran in the sandbox
            assert step.exit_code is not None and step.observation.startswith("<returncode>")
    # Each step re-sends the whole conversation: prompts grow, and the tokens add up in the sample.
    prompts = [s.prompt_tokens for s in traj.steps]
    assert prompts == sorted(prompts) and prompts[0] > 300
    assert sample.prompt_tokens == sum(prompts)
    assert sample.completion_tokens == sum(s.completion_tokens for s in traj.steps)
