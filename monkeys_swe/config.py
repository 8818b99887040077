"""Typed run configuration. A run directory is named after the config, so rerunning the same
command finds the same directory and resumes it."""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from monkeys_swe.errors import UserError
from monkeys_swe.types import GenerationParams

# Fields that don't change what a run computes; they may differ between a run and its resume.
_NOT_IDENTITY = {"concurrency", "verify_workers", "runs_dir", "api_key", "progress", "retry_errors", "max_failed_requests"}

# Fields that choose problems (monkeys_swe.choose): part of the identity only when set.
_CHOICE = ("ids", "filter", "slice")


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: str
    data: str | None = Field(None, description="local data file; default: the task's Hugging Face dataset")
    task_args: dict[str, Any] = Field(default_factory=dict, description="the task's settings (its constructor's "
                                      "keyword arguments); all but its cosmetic ones are part of the run's identity")
    ids: list[str] | None = Field(None, description="only these problem ids (sorted, deduplicated)")
    filter: str | None = Field(None, description="only problem ids this regex finds (re.search)")
    slice: str | None = Field(None, description="python-style start:stop[:step] of the chosen problems")
    limit: int | None = Field(None, ge=1)
    samples: int = Field(8, ge=1, le=100_000, description="attempts per problem (the paper goes to 10,000)")
    backend: str = "llamacpp"
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    replay_from: str | None = None
    temperature: float = Field(0.6, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_tokens: int = Field(512, ge=1)
    seed: int = 0
    concurrency: int = Field(8, ge=1)
    verify_workers: int | None = Field(None, ge=1)
    runs_dir: str = "runs"
    retry_errors: bool = Field(True, description="re-verify attempts whose verdict is an error")
    max_failed_requests: int = Field(8, ge=0, description="sampler requests that may fail (after retries) before the run stops")

    @field_validator("task", "backend")
    @classmethod
    def _registered(cls, name: str, info) -> str:
        from monkeys_swe.registry import SAMPLERS, TASKS

        table = TASKS if info.field_name == "task" else SAMPLERS
        if name not in table:
            raise UserError(f"unknown {info.field_name} '{name}': choose one of {', '.join(sorted(table))}")
        return name

    @field_validator("ids", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        from monkeys_swe.choose import parse_ids

        return parse_ids(value)

    @field_validator("filter", "slice")
    @classmethod
    def _choice(cls, value: str | None, info) -> str | None:
        from monkeys_swe.choose import compile_filter, parse_slice

        if value is not None:
            (compile_filter if info.field_name == "filter" else parse_slice)(value)
        return value

    def identity(self) -> dict[str, Any]:
        """What the run computes: its directory is named after it, and a resume must match it."""
        from monkeys_swe.registry import task_class

        out = {k: v for k, v in self.model_dump().items() if k not in _NOT_IDENTITY}
        for key in _CHOICE:  # which problems: identity when given (runs without keep their names)
            if out[key] is None:
                del out[key]
        cls = task_class(self.task)
        cosmetic = cls.cosmetic_args if self.task_args else ()
        args = {k: v for k, v in self.task_args.items() if k not in cosmetic}
        if args:
            out["task_args"] = args
        else:
            del out["task_args"]  # runs without settings keep the names they always had
        settings = self._task_settings(cls)
        if settings:  # what the task's verdicts depend on, defaults (even from the environment) included
            out["task_settings"] = settings
        return out

    def _task_settings(self, cls: Any) -> dict[str, Any]:
        from monkeys_swe.registry import make_task
        from monkeys_swe.tasks.base import Task

        if getattr(cls, "settings", Task.settings) is Task.settings:
            return {}  # the task declares none: no need to build it
        settings = make_task(self).settings()  # building a task starts nothing (pools, images: prepare())
        return json.loads(json.dumps(settings, sort_keys=True, default=str))

    def run_id(self) -> str:
        digest = hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()[:8]
        model = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(self.model or self.backend).name)[:40]
        return f"{self.task}-{model}-n{self.samples}-{digest}"

    def run_dir(self) -> Path:
        return Path(self.runs_dir) / self.run_id()

    def params(self, stop: tuple[str, ...] = ()) -> GenerationParams:
        return GenerationParams(self.temperature, self.top_p, self.max_tokens, stop)


def parse_config(cls: type[BaseModel], data: dict[str, Any], where: str) -> Any:
    """Validate a config dict; on error, one line that names the field to fix."""
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        raise UserError(f"{where}: {loc}: {err['msg']}") from None


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise UserError(f"{path}: not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping at the top level")
    return data
