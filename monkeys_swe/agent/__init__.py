"""Agentic attempts: each attempt is an independent multi-step agent trajectory in its own sandbox."""
from monkeys_swe.agent.attempts import AgentSampler, AgentTarget, swebench_targets
from monkeys_swe.agent.loop import AgentLimits, TrajectoryResult, run_trajectory
from monkeys_swe.trajectories import Step, Trajectory, TrajectoryStore

__all__ = ["AgentLimits", "AgentSampler", "AgentTarget", "Step", "Trajectory", "TrajectoryResult",
           "TrajectoryStore", "run_trajectory", "swebench_targets"]
