"""Runs out to the formats other tools read: SWE-bench predictions and monkey_business JSON."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from monkeys_swe.errors import UserError
from monkeys_swe.store import Store


def monkey_business_records(store: Store) -> list[dict[str, Any]]:
    """One record per problem: question, samples in slot order, gt_answer, is_corrects (None: not judged)."""
    verdicts = {(pid, idx): v for pid, idx, v in store.verdicts() if not v.is_error}
    records = []
    for problem in store.problems():
        samples = store.samples(problem.id)
        records.append({
            "id": problem.id, "question": problem.question, "gt_answer": problem.answer,
            "samples": [s.text for s in samples],
            "is_corrects": [bool(verdicts[(problem.id, s.index)].correct) if (problem.id, s.index) in verdicts else None
                            for s in samples],
        })
    return records


def swebench_predictions(store: Store) -> list[dict[str, Any]]:
    """SWE-bench predictions, one per attempt that produced a patch (the harness reads any number per instance)."""
    config = store.get_meta("config") or {}
    model = str(config.get("model_name") or config.get("model") or config.get("backend") or "monkeys-swe")
    verdicts = {(pid, idx): v for pid, idx, v in store.verdicts()}
    out = []
    for s in store.samples():
        v = verdicts.get((s.problem_id, s.index))
        patch = (v.detail.get("patch") if v else None) or s.meta.get("patch")
        if patch:
            out.append({"instance_id": s.problem_id, "model_name_or_path": f"{model}#{s.index}", "model_patch": patch})
    return out


def export_run(run_dir: str | Path, fmt: str, out: str | Path) -> int:
    store = Store(run_dir, create=False)
    try:
        task = (store.get_meta("config") or {}).get("task")
        if fmt == "predictions" and task != "swebench":
            raise UserError(f"{run_dir} is a {task} run: SWE-bench predictions are patches, only swebench runs "
                            f"(bench swebench, solve) have them; --format monkey_business exports any run")
        rows = monkey_business_records(store) if fmt == "monkey_business" else swebench_predictions(store)
    finally:
        store.close()
    out = Path(out)
    if fmt == "monkey_business":
        out.write_text(json.dumps(rows, indent=1))
    else:
        out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return len(rows)
