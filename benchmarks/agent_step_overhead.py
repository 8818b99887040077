"""Per-step overhead of an agent trajectory (model time excluded), against bare command execution.

    .venv/bin/python benchmarks/agent_step_overhead.py [--steps 40] [--command "cat calc/ops.py"]

On the fixture instance (tests/harness_fixture.py), all in the same warm Docker engine:
- floor: `Sandbox.exec(COMMAND)` repeated in one started sandbox (the harness's own exec path).
- docker CLI: `docker exec CID bash -lc COMMAND` per step, the way mini-swe-agent's Docker
  environment runs each action (a subprocess per command).
- agent: one AgentSampler trajectory of STEPS replayed replies, each running COMMAND, with
  every step parsed, executed, framed for the model and written to SQLite. A step's time is the
  interval between consecutive step callbacks minus the model's own time (replay: ~0).
Overhead per step = agent step minus that step's own exec (also shown against the floor); the per-trajectory fixed cost (sandbox start,
base commit lookup, final diff, removal) is reported apart.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from harness.sandbox import Sandbox  # noqa: E402
from harness.verify import Verifier  # noqa: E402
from harness_fixture import make_fixture_instance  # noqa: E402
from monkeys_swe.agent import AgentLimits, AgentSampler, AgentTarget  # noqa: E402
from monkeys_swe.samplers.replay import ReplaySampler  # noqa: E402
from monkeys_swe.types import GenerationParams, SampleRequest  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--command", default="cat calc/ops.py")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-agent-"))
    inst, mirror = make_fixture_instance(tmp)
    with Verifier(inst, repo_mirror=mirror, pool_size=1) as verifier:
        image = verifier.ensure_image()
    limits = AgentLimits(step_limit=args.steps + 1)

    with Sandbox(image, limits=limits.sandbox) as sb:
        floor = [sb.exec(args.command, timeout=60).duration_s for _ in range(args.steps)]
        cli = []
        for _ in range(args.steps):
            start = time.monotonic()
            subprocess.run(["docker", "exec", "-w", "/testbed", sb.container.id, "bash", "-lc", args.command],
                           capture_output=True, check=True)
            cli.append(time.monotonic() - start)

    reply = f"THOUGHT: look.\n```bash\n{args.command}\n```"
    src = tmp / "script.json"
    src.write_text(json.dumps([{"id": inst.instance_id, "samples": [[reply] * args.steps + ["```bash\nsubmit\n```"]]}]))
    marks: list[tuple[float, float, float]] = []  # (callback time, model s, exec s) per step
    agent = AgentSampler(ReplaySampler(src), tmp / "run", lambda pid: AgentTarget(image, inst.problem_statement),
                         limits=limits, on_step=lambda pid, i, step: marks.append((time.monotonic(), step.model_s, step.exec_s)))
    request = SampleRequest(inst.instance_id, [], (0,), (0,), GenerationParams(), inst.problem_statement)
    start = time.monotonic()
    (sample,) = list(agent.generate([request]))
    wall = time.monotonic() - start
    agent.close()
    assert sample.meta["exit_status"] == "submitted", sample.meta
    steps = [b - a - model for (a, *_), (b, model, _) in zip(marks, marks[1:args.steps])]  # command steps only
    in_step_exec = statistics.median(m[2] for m in marks[1:args.steps])
    per_step, per_floor, per_cli = statistics.median(steps), statistics.median(floor), statistics.median(cli)
    fixed = wall - (marks[args.steps][0] - marks[0][0]) - per_step  # outside the step loop

    print(f"command: {args.command!r}, {args.steps} steps, medians")
    print(f"floor (Sandbox.exec in a warm sandbox):     {per_floor * 1e3:7.1f} ms per command")
    print(f"docker CLI exec (mini-swe-agent's way):     {per_cli * 1e3:7.1f} ms per command")
    print(f"agent step (parse, exec, frame, SQLite):    {per_step * 1e3:7.1f} ms per step, model time excluded")
    print(f"  of which the step's own Sandbox.exec:     {in_step_exec * 1e3:7.1f} ms")
    print(f"agent overhead per step beyond its exec:    {(per_step - in_step_exec) * 1e3:7.1f} ms "
          f"(vs the floor's exec: {(per_step - per_floor) * 1e3:.1f} ms)")
    print(f"per-trajectory fixed cost (start, diff, rm): {fixed:.2f} s; trajectory wall {wall:.2f} s")
    print(f"ratio agent step / floor exec: {per_step / per_floor:.2f}x; docker CLI / agent step: {per_cli / per_step:.2f}x")


if __name__ == "__main__":
    main()
