"""One agent trajectory: the model proposes one shell command per step, its own sandbox runs it.

    result = run_trajectory(sampler, image, issue_text, limits=AgentLimits(step_limit=20), seed=7)
    result.diff  # `git diff` of the sandbox against the image's commit, test files left out

The model is any Sampler, asked for one completion of the conversation so far per step (a
one-slot SampleRequest whose seed is derived from the attempt's seed and the step number), so
llamacpp, openai, vllm and replay all work unchanged. The trajectory ends when the model
submits, or at the step, token, cost or wall-clock limit; every outcome still yields its diff.
"""
from __future__ import annotations

import threading
import time
import traceback
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Callable, Sequence

from harness.patch import PatchError, drop_files, is_test_path
from harness.sandbox import Limits, Sandbox
from monkeys_swe.agent import prompts
from monkeys_swe.trajectories import Step, Trajectory
from monkeys_swe.samplers.base import Sampler, sample_seed
from monkeys_swe.types import GenerationParams, Messages, Sample

EXEC_OUTPUT_BYTES = 1 << 20  # what the sandbox collects per command; the model sees far less


@dataclass(frozen=True)
class AgentLimits:
    step_limit: int = 30  # model replies, format errors included
    token_limit: int = 0  # prompt + completion tokens over all steps (what is billed); 0: none
    cost_limit: float = 0.0  # dollars at the prices below; 0: none
    usd_per_mtok_in: float = 0.0
    usd_per_mtok_out: float = 0.0
    wall_clock_s: float = 1800.0
    command_timeout_s: float = 60.0
    output_chars: int = 10_000  # of each command's output shown to the model (head + tail)
    sandbox: Limits = Limits(memory="2g", cpus=1.0, pids=512, timeout_s=60.0)


@dataclass
class TrajectoryResult:
    diff: str
    steps: list[Step]
    exit_status: str  # submitted, step_limit, token_limit, cost_limit, wall_clock, no_reply, model_error, sandbox_error
    messages: Messages
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_s: float = 0.0
    wall_s: float = 0.0
    error: str | None = None
    dropped_files: list[str] = field(default_factory=list)
    traceback: str | None = None  # of the model or sandbox error that ended it (kept in the store)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def initial_messages(problem_statement: str) -> Messages:
    return [{"role": "system", "content": prompts.SYSTEM},
            {"role": "user", "content": prompts.instance_message(problem_statement)}]


def next_reply(sampler: Sampler, messages: Messages, *, problem_id: str, index: int, seed: int,
               params: GenerationParams, question: str = "", gate=None) -> Sample | None:
    """One completion of this conversation (None when a replay source has no reply for it)."""
    with gate or nullcontext():
        return sampler.complete(messages, params, seed=seed, problem_id=problem_id, index=index, question=question)


def _limit_reached(limits: AgentLimits, steps: list[Step], started: float) -> str | None:
    tokens_in = sum(s.prompt_tokens for s in steps)
    tokens_out = sum(s.completion_tokens for s in steps)
    cost = (tokens_in * limits.usd_per_mtok_in + tokens_out * limits.usd_per_mtok_out) / 1e6
    if len(steps) >= limits.step_limit:
        return "step_limit"
    if limits.token_limit and tokens_in + tokens_out >= limits.token_limit:
        return "token_limit"
    if limits.cost_limit and cost >= limits.cost_limit:
        return "cost_limit"
    if time.monotonic() - started >= limits.wall_clock_s:
        return "wall_clock"
    return None


def _execute(sb: Sandbox, step: Step, limits: AgentLimits, timeout: float) -> None:
    """Run the step's command and fill in what the model will be told."""
    result = sb.exec(step.command, timeout=timeout, max_output_bytes=EXEC_OUTPUT_BYTES)
    step.output, step.exit_code, step.timed_out, step.exec_s = (
        result.output, result.exit_code, result.timed_out, result.duration_s)
    step.observation = prompts.observation(result.output, result.exit_code, limit=limits.output_chars,
                                           timed_out=result.timed_out, timeout=timeout,
                                           truncated_at_source=result.truncated)


def _act(sb: Sandbox, step: Step, limits: AgentLimits, started: float) -> str | None:
    """Carry out a parsed reply; returns the exit status when the trajectory ends here."""
    if prompts.is_submit(step.command):
        step.kind = "submit"
        return "submitted"
    remaining = limits.wall_clock_s - (time.monotonic() - started)
    _execute(sb, step, limits, max(1.0, min(limits.command_timeout_s, remaining)))
    if prompts.is_submit(step.command, step.output):  # e.g. `cd /testbed && echo MONKEYS_SWE_SUBMIT`
        step.kind, step.observation = "submit", None
        return "submitted"
    return None


def _redo(sb: Sandbox, prior: Sequence[Step], limits: AgentLimits) -> None:
    """Rebuild a cut-short trajectory's files by re-running its commands (their replies are reused)."""
    for old in prior:
        if old.kind == "command" and old.command is not None:
            sb.exec(old.command, timeout=limits.command_timeout_s, max_output_bytes=EXEC_OUTPUT_BYTES)


def run_trajectory(sampler: Sampler, image: str, problem_statement: str, *,
                   limits: AgentLimits = AgentLimits(), seed: int = 0, problem_id: str = "issue",
                   index: int = 0, params: GenerationParams = GenerationParams(max_tokens=1024),
                   on_step: Callable[[Step], None] = lambda step: None,
                   exclude: Callable[[str], bool] = is_test_path, prior: Sequence[Step] = (),
                   gate: threading.Semaphore | None = None) -> TrajectoryResult:
    """Run one attempt to its end. `prior`: the stored steps of a cut-short run of this attempt."""
    started = time.monotonic()
    steps: list[Step] = list(prior)
    messages = initial_messages(problem_statement) + Trajectory("", 0, None, [], steps).messages()
    status = "submitted" if steps and steps[-1].kind == "submit" else None
    error = tb = None
    with Sandbox(image, limits=limits.sandbox) as sb:
        head = sb.exec("git rev-parse HEAD", timeout=30)
        base = head.output.strip() if head.exit_code == 0 else "HEAD"  # the agent may commit later
        _redo(sb, prior, limits)
        while status is None and (status := _limit_reached(limits, steps, started)) is None:
            step_seed = sample_seed(seed, "agent-step", len(steps))
            try:
                sample = next_reply(sampler, messages, problem_id=problem_id, index=index, seed=step_seed,
                                    params=params, question=problem_statement, gate=gate)
            except Exception as exc:  # e.g. the conversation outgrew the model's context
                status, error, tb = "model_error", f"{type(exc).__name__}: {exc}", traceback.format_exc()
                break
            if sample is None:
                status = "no_reply"  # a replay source that has no more replies for this attempt
                break
            step = Step(len(steps), "command", sample.text, model_s=sample.latency_s, seed=step_seed,
                        prompt_tokens=sample.prompt_tokens, completion_tokens=sample.completion_tokens)
            messages.append({"role": "assistant", "content": sample.text})
            try:
                step.thought, step.command = prompts.parse_reply(sample.text)
                status = _act(sb, step, limits, started)
            except prompts.FormatError as exc:
                step.kind, step.observation = "format_error", str(exc)
            except Exception as exc:  # the container died under us: keep what exists
                status, error, tb = "sandbox_error", f"{type(exc).__name__}: {exc}", traceback.format_exc()
            if step.observation is not None:
                messages.append({"role": "user", "content": step.observation})
            steps.append(step)
            on_step(step)
        try:
            diff = sb.diff(base)
        except Exception as exc:
            diff, error = "", error or f"diff failed: {type(exc).__name__}: {exc}"
    try:
        kept, dropped = drop_files(diff, exclude) if diff.strip() else ("", [])
    except PatchError:  # unidiff cannot read it: the verifier will call it malformed
        kept, dropped = diff, []
    return TrajectoryResult(kept, steps, status, messages, sum(s.prompt_tokens for s in steps),
                            sum(s.completion_tokens for s in steps), sum(s.model_s for s in steps),
                            time.monotonic() - started, error, dropped, tb)
