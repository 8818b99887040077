"""Candidate pools from elsewhere: several systems' SWE-bench predictions as one run.

Each predictions file (JSONL or a JSON list of {instance_id, model_name_or_path, model_patch}, one
file per system) adds one attempt per instance it predicts: the attempts of an instance are its
patches from every file, in the order the files are given, and each attempt keeps its source's
name (`model_name_or_path`, else the file's stem) in its meta (`source`). The pool is written as a
monkey_business-style sample set and run through the ordinary Runner with the replay backend, so
the run is verified, resumed, reported and selected over like any other: coverage, every
selector and every scorer's quality over real candidates from several systems, nothing generated.
A tie-break by the attempt seen first (`solve`'s selectors, the `first` stage) then favours the
file given first; a pipeline ending in `random` does not.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from harness.batch import read_predictions
from harness.instance import DataError
from monkeys_swe.config import RunConfig
from monkeys_swe.errors import UserError
from monkeys_swe.store import Store


def read_pool(files: Sequence[str | Path]) -> tuple[dict[str, list[tuple[str, str]]], list[str]]:
    """(instance id -> [(source, patch)] in the files' order, sources in order). A source named by
    two files gets the file stem appended, so every attempt's source stays distinct."""
    if len(files) < 1:
        raise UserError("name at least one predictions file")
    pool: dict[str, list[tuple[str, str]]] = {}
    sources: list[str] = []
    for f in files:
        try:
            rows = read_predictions(f)
        except DataError as exc:
            raise UserError(str(exc)) from None
        names = {str(r.get("model_name_or_path") or Path(f).stem) for r in rows} or {Path(f).stem}
        name = names.pop() if len(names) == 1 else Path(f).stem
        if name in sources:
            name = f"{name} ({Path(f).stem})"
        if name in sources:
            raise UserError(f"{f}: source {name!r} is given twice; name each system's file differently")
        sources.append(name)
        seen: set[str] = set()
        for r in rows:
            iid = str(r["instance_id"])
            if iid in seen:
                raise UserError(f"{f}: instance {iid} is predicted twice; one prediction per instance and file")
            seen.add(iid)
            pool.setdefault(iid, []).append((name, r["model_patch"] or ""))
    return pool, sources


def pool_config(files: Sequence[str | Path], *, data: str | None, runs_dir: str | Path, name: str | None = None,
                task_args: dict[str, Any] | None = None, instance_ids: Sequence[str] | None = None) -> RunConfig:
    """The run's config, after writing the pool's sample set (runs_dir/pools/NAME.json)."""
    pool, sources = read_pool(files)
    if instance_ids:
        unknown = sorted(set(instance_ids) - set(pool))
        if unknown:
            raise UserError(f"no prediction file predicts {', '.join(unknown)}")
        pool = {i: pool[i] for i in instance_ids}
    name = name or "pool-" + "+".join(sources)
    records = [{"id": iid, "question": "", "samples": [p for _, p in cands], "sources": [s for s, _ in cands]}
               for iid, cands in sorted(pool.items())]
    out = Path(runs_dir) / "pools" / f"{_safe(name)}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(records, indent=1)
    if not out.exists() or out.read_text() != text:
        out.write_text(text)
    args = {**(task_args or {}), "instance_ids": sorted(pool)}
    return RunConfig(task="swebench", data=data, backend="replay", replay_from=str(out.resolve()), model=name,
                     samples=max(len(c) for c in pool.values()), runs_dir=str(runs_dir), temperature=0,
                     task_args=args)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.+" else "_" for c in name)[:120]


def run_pool(config: RunConfig, task=None, executor=None) -> Path:
    """Verify the pool (or resume verifying it); returns the run directory."""
    from monkeys_swe.runner import Runner

    return Runner(config, task=task, executor=executor).run()


def source_table(run_dir: str | Path) -> dict[str, dict[str, Any]]:
    """Source -> attempts, judged (errors left out), resolved, and its resolve rate over judged attempts."""
    store = Store(run_dir, create=False)
    try:
        source = {(s.problem_id, s.index): str(s.meta.get("source") or "?") for s in store.samples()}
        counts: dict[str, Counter] = {}
        for (pid, i), name in source.items():
            counts.setdefault(name, Counter())["attempts"] += 1
        for pid, i, v in store.verdicts():
            c = counts.setdefault(source.get((pid, i), "?"), Counter())
            if v.is_error:
                c["errors"] += 1
                continue
            c["judged"] += 1
            c["resolved"] += bool(v.correct)
    finally:
        store.close()
    return {name: {"attempts": c["attempts"], "judged": c["judged"], "errors": c["errors"], "resolved": c["resolved"],
                   "rate": c["resolved"] / c["judged"] if c["judged"] else None} for name, c in counts.items()}
