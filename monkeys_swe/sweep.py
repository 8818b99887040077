"""Sweeps: a grid of ordinary runs (tasks x models x sample counts x temperatures) and one report.

Each cell is a normal resumable run whose directory lives under the sweep's directory, so the
sweep resumes as a whole: a rerun skips complete cells without loading their model, resumes the
partial one, and starts the rest. A failing cell is recorded with its one-line error and the
others go on. At the end: a table per cell, every run's own report, and an overlay report of
all cells (coverage, selection, fit, compute- and cost-matched curves, HTML, JSON).
"""
from __future__ import annotations

import itertools
import json
import os
import re
from pathlib import Path
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from monkeys_swe.config import RunConfig, load_yaml, parse_config
from monkeys_swe.errors import UserError
from monkeys_swe.shared_samples import generation_key, share_samples
from monkeys_swe.store import DB_NAME, Store


class ModelSpec(BaseModel):
    """One model axis entry: a backend and what it needs."""

    model_config = ConfigDict(extra="forbid")
    backend: str | None = Field(None, description="default: base.backend, else llamacpp")
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    replay_from: str | None = None
    label: str | None = Field(None, description="short name in cell names and legends")

    def name(self) -> str:
        raw = self.label or (Path(self.model).stem if self.model else self.backend or "default")
        return re.sub(r"[^A-Za-z0-9._-]+", "-", raw)[:40]


class Grid(BaseModel):
    model_config = ConfigDict(extra="forbid")
    task: list[str] = Field(min_length=1)
    model: list[ModelSpec] = Field(default_factory=lambda: [ModelSpec()], min_length=1)
    samples: list[int] = Field(default_factory=lambda: [8], min_length=1)
    temperature: list[float] = Field(default_factory=lambda: [0.6], min_length=1)

    @field_validator("task", "samples", "temperature", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return v if isinstance(v, list) else [v]


class SweepConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = None
    out_dir: str | None = Field(None, description="default: sweeps/<name>")
    base: dict[str, Any] = Field(default_factory=dict, description="RunConfig fields every cell shares")
    grid: Grid
    html: bool = True
    extrapolate_to: int | None = Field(None, ge=1)
    select: list[str] | dict[str, str] = Field(
        default_factory=list, description="selection pipelines the report adds (monkeys_swe/pipeline.py): "
        "preset names or specs, or a mapping name -> spec")

    @field_validator("select")
    @classmethod
    def _pipelines_parse(cls, v: Any) -> Any:
        from monkeys_swe.pipeline import named

        named(v)  # a bad stage is refused when the sweep is read, not after its runs
        return v


class Cell(BaseModel):
    name: str
    label: str  # the model axis entry's name
    config: RunConfig
    status: str = "pending"  # pending, done, skipped (already complete), failed
    error: str | None = None
    shared: str | None = None  # "N attempts from RUN": taken from a sibling cell instead of drawn
    summary: dict[str, Any] | None = None

    def row(self) -> dict[str, Any]:
        c = self.config
        return {"name": self.name, "task": c.task, "model": self.label, "backend": c.backend,
                "samples": c.samples, "temperature": c.temperature, "run_dir": str(c.run_dir()),
                "status": self.status, "error": self.error, "shared": self.shared, "summary": self.summary}


def resolve_paths(sweep: SweepConfig, config_dir: Path) -> None:
    """Relative file paths in the YAML name files next to it, wherever the command runs: `data`,
    `ids: "@FILE"`, `replay_from`, and a `model` that is a file there (a GGUF); served model names stay."""
    def rel(value: str) -> str:
        p = Path(value).expanduser()
        return value if p.is_absolute() else os.path.normpath(config_dir.absolute() / p)

    if isinstance(sweep.base.get("data"), str):
        sweep.base["data"] = rel(sweep.base["data"])
    if isinstance(sweep.base.get("ids"), str) and sweep.base["ids"].startswith("@"):
        sweep.base["ids"] = "@" + rel(sweep.base["ids"][1:])
    for spec in sweep.grid.model:
        if spec.replay_from:
            spec.replay_from = rel(spec.replay_from)
        if spec.model and (config_dir / spec.model).is_file():
            spec.model = rel(spec.model)


def load_sweep(path: str | Path, out_dir: str | Path | None = None,
               choice: dict[str, Any] | None = None) -> tuple[SweepConfig, Path, list[Cell]]:
    """Validate the YAML and build every cell's RunConfig up front: a bad cell fails before any runs.

    `choice`: --ids/--filter/--slice from the command line, over the YAML's own (every cell)."""
    path = Path(path)
    sweep = parse_config(SweepConfig, load_yaml(path), str(path))
    resolve_paths(sweep, path.parent)
    sweep.base.update({k: v for k, v in (choice or {}).items() if v is not None})
    name = sweep.name or path.stem
    root = Path(out_dir or sweep.out_dir or Path("sweeps") / name)
    for key in ("task", "samples", "temperature", "runs_dir"):
        if key in sweep.base:
            raise UserError(f"{path}: base.{key}: set it in grid (or not at all: the sweep places runs itself)")
    cells = []
    g = sweep.grid
    for task, spec, n, temp in itertools.product(g.task, g.model, g.samples, g.temperature):
        cell_name = f"{task}-{spec.name()}-n{n}-t{temp:g}"
        fields = {**sweep.base, **spec.model_dump(exclude={"label"}, exclude_none=True),
                  "task": task, "samples": n, "temperature": temp, "runs_dir": str(root / "runs")}
        cells.append(Cell(name=cell_name, label=spec.name(), config=parse_config(RunConfig, fields, f"{path}: cell {cell_name}")))
    names = [c.name for c in cells]
    if len(set(names)) != len(names):
        raise UserError(f"{path}: two grid entries give the same cell name; give models distinct labels")
    return sweep, root, cells


def is_complete(config: RunConfig) -> bool:
    """Every slot filled and judged: rerunning would only load the model to do nothing."""
    if not (config.run_dir() / DB_NAME).exists():
        return False
    store = Store(config.run_dir(), create=False)
    try:
        counts = store.counts()
        return counts["problems"] > 0 and counts["attempts"] == counts["verified"] == counts["problems"] * config.samples
    finally:
        store.close()


def run_cell(cell: Cell, on_update: Callable | None = None, executor: Any = None,
             siblings: list[Cell] | None = None) -> None:
    """Run (or resume) one cell; its failure is recorded on the cell, never raised (Ctrl-C still stops).

    `siblings`: cells that draw the same samples (generation_key); what they hold is copied first."""
    from monkeys_swe.reports import summarize_run
    from monkeys_swe.runner import Runner

    try:
        if is_complete(cell.config):
            cell.status = "skipped (complete)"
        else:
            cell.shared = share_samples(cell.config, [c.config for c in siblings or []])
            if cell.shared and is_complete(cell.config):
                cell.status = "done"  # every slot came from a sibling: no model to load
            else:
                Runner(cell.config, on_update=on_update, executor=executor).run()
                cell.status = "done"
        cell.summary = summarize_run(cell.config.run_dir())
    except UserError as exc:
        cell.status, cell.error = "failed", str(exc)
    except Exception as exc:  # a backend or task bug in one cell must not cost the other cells
        cell.status, cell.error = "failed", f"{type(exc).__name__}: {exc}"


def sample_groups(cells: list[Cell]) -> list[list[Cell]]:
    """Cells that draw the same attempts (equal but for `samples`), each group in grid order."""
    groups: dict[str, list[Cell]] = {}
    for cell in cells:
        groups.setdefault(generation_key(cell.config), []).append(cell)
    return list(groups.values())


def run_group(group: list[Cell], executor: Any = None) -> None:
    """One group's pending cells one after another: each copies what the earlier ones drew."""
    for cell in group:
        if cell.status == "pending":
            run_cell(cell, executor=executor, siblings=group)


def write_state(root: Path, cells: list[Cell]) -> Path:
    """sweep.json: each cell's status, error and run directory, for scripts (rewritten after each cell)."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "sweep.json"
    rows = [{k: v for k, v in c.row().items() if k != "summary"} for c in cells]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"cells": rows}, indent=2))
    tmp.replace(path)
    return path
