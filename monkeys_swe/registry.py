"""Lazy registries: a name maps to "module:attribute", imported only when asked for.

A new task or sampler backend is one module plus one line here.
"""
from __future__ import annotations

import importlib
from typing import Any

from monkeys_swe.errors import UserError

TASKS: dict[str, str] = {
    "gsm8k": "monkeys_swe.tasks.gsm8k:GSM8KTask",
    "math": "monkeys_swe.tasks.math:MathTask",
    "codecontests": "monkeys_swe.tasks.codecontests:CodeContestsTask",
    "humaneval": "monkeys_swe.tasks.codecontests:HumanEvalTask",
    "minif2f": "monkeys_swe.tasks.minif2f:MiniF2FTask",
    "minif2f-math": "monkeys_swe.tasks.minif2f:MiniF2FMathTask",
    "swebench": "monkeys_swe.tasks.swebench.task:SWEBenchTask",
}

SAMPLERS: dict[str, str] = {
    "llamacpp": "monkeys_swe.samplers.llamacpp:LlamaCppSampler",
    "openai": "monkeys_swe.samplers.openai:OpenAISampler",
    "replay": "monkeys_swe.samplers.replay:ReplaySampler",
    "vllm": "monkeys_swe.samplers.vllm:VLLMSampler",
}


def _load(kind: str, table: dict[str, str], name: str) -> Any:
    if name not in table:
        raise UserError(f"unknown {kind} '{name}': choose one of {', '.join(sorted(table))}")
    module_name, attr = table[name].split(":")
    return getattr(importlib.import_module(module_name), attr)


def task_class(name: str) -> Any:
    return _load("task", TASKS, name)


def sampler_class(name: str) -> Any:
    return _load("backend", SAMPLERS, name)


def task_settings(name: str) -> set[str]:
    """The settings (constructor keyword arguments) a task takes."""
    import inspect

    params = inspect.signature(task_class(name).__init__).parameters.values()
    return {p.name for p in params if p.name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


def make_task(config: Any) -> Any:
    """The task a RunConfig names, built with its `task_args`; an unknown setting is a one-line error."""
    cls = task_class(config.task)
    args = dict(config.task_args or {})
    unknown = sorted(set(args) - task_settings(config.task))
    if unknown:
        known = ", ".join(sorted(task_settings(config.task))) or "none"
        raise UserError(f"task {config.task} has no setting {', '.join(unknown)} (its settings: {known})")
    return cls(**args)
