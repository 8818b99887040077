"""Infrastructure settings: where things are, not what a verdict is.

Read from the environment once, when a run starts (`Settings.from_env()`), never at import
time. Nothing here may change a verdict; a setting that can (a proof's time limit, a program's
time slack, a base image) is a task setting instead: a constructor keyword argument, passed by
`RunConfig.task_args` (`--task-arg KEY=VALUE`) and hashed into the run's identity.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from monkeys_swe.errors import UserError



def refuse_moved(name: str, flag: str, env: Mapping[str, str] | None = None) -> None:
    """An environment variable that used to set a verdict-relevant value: refused, naming the flag to use."""
    if (os.environ if env is None else env).get(name):
        raise UserError(f"{name} is not read any more (it changes verdicts, so it is part of the run): "
                        f"pass {flag} instead")


@dataclass(frozen=True)
class Settings:
    lean_server: str | None = None  # Kimina Lean Server URL
    lean_api_key: str | None = None
    lean_project: str | None = None  # a Lean 4 project with Mathlib (checked with `lake env lean`)
    lean_image: str | None = None  # run lake in a sandbox from this image
    lean_lake: str = "lake"
    repo_mirror: str | None = None  # DIR/owner__name.git mirrors for SWE-bench repositories
    models_yaml: str | None = None  # another model table than the packaged one
    vllm_args: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        raw_vllm = env.get("MONKEYS_SWE_VLLM_ARGS")
        try:
            vllm_args = json.loads(raw_vllm) if raw_vllm else {}
        except json.JSONDecodeError:
            vllm_args = None
        if not isinstance(vllm_args, dict):
            raise UserError("MONKEYS_SWE_VLLM_ARGS must be a JSON object, e.g. '{\"tensor_parallel_size\": 2}'")
        return cls(
            lean_server=env.get("MONKEYS_SWE_LEAN_SERVER") or None,
            lean_api_key=env.get("MONKEYS_SWE_LEAN_API_KEY") or None,
            lean_project=env.get("MONKEYS_SWE_LEAN_PROJECT") or None,
            lean_image=env.get("MONKEYS_SWE_LEAN_IMAGE") or None,
            lean_lake=env.get("MONKEYS_SWE_LEAN_LAKE") or "lake",
            repo_mirror=env.get("MONKEYS_SWE_REPO_MIRROR") or None,
            models_yaml=env.get("MONKEYS_SWE_MODELS") or None,
            vllm_args=vllm_args,
        )
