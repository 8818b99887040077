"""Verify a SWE-bench predictions file (any number of predictions per instance).

Instances run one after another (each needs its image); within an instance the
candidates run on the Verifier's bounded pool, deduplicated. The report keeps
SWE-bench's top-level shape (`resolved_ids`) plus per-instance, per-prediction details.
"""
from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Callable, Iterable

from harness.instance import DataError, SWEInstance
from harness.sandbox import Limits
from harness.verify import DEFAULT_LIMITS, Verdict, Verifier

REQUIRED = ("instance_id", "model_patch")


def read_predictions(path: str | Path) -> list[dict]:
    """SWE-bench predictions: JSONL rows or a JSON list, each with instance_id and model_patch."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot read predictions file {path}: {exc.strerror}") from exc
    try:
        rows = json.loads(text) if text.lstrip().startswith("[") else \
            [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not JSON/JSONL ({exc.msg} at line {exc.lineno})") from exc
    for n, row in enumerate(rows, 1):
        missing = [k for k in REQUIRED if not isinstance(row, dict) or k not in row]
        if missing:
            raise DataError(f"{path}: prediction {n} lacks {', '.join(missing)}")
        row["model_patch"] = row["model_patch"] or ""
    return rows


def gold_predictions(instances: Iterable[SWEInstance]) -> list[dict]:
    return [{"instance_id": i.instance_id, "model_name_or_path": "gold", "model_patch": i.patch}
            for i in instances]


def verify_predictions(instances: dict[str, SWEInstance], predictions: list[dict], *,
                       repo_mirror: str | None = None, pool_size: int = 2, limits: Limits = DEFAULT_LIMITS,
                       log_dir: str | Path | None = None, base_image: str | None = None,
                       use_prebuilt: bool = True,
                       on_verdict: Callable[[dict, Verdict], None] | None = None,
                       on_instance: Callable[[str, str], None] | None = None) -> dict:
    """Verify every prediction; returns the report. Callbacks stream progress:
    `on_instance(instance_id, phase)` and `on_verdict(prediction, verdict)`."""
    unknown = sorted({p["instance_id"] for p in predictions} - set(instances))
    if unknown:
        raise DataError(f"predictions name instances missing from the data: {', '.join(unknown[:5])}")
    by_instance: dict[str, list[dict]] = defaultdict(list)
    for p in predictions:
        by_instance[p["instance_id"]].append(p)
    report: dict = {"resolved_ids": [], "instances": {}, "started": time.time()}
    for iid, preds in by_instance.items():
        entry = {"predictions": len(preds), "resolved": 0, "statuses": {}, "attempts": [None] * len(preds)}
        report["instances"][iid] = entry
        start = time.monotonic()
        with Verifier(instances[iid], repo_mirror=repo_mirror, pool_size=pool_size, limits=limits,
                      log_dir=log_dir, base_image=base_image, use_prebuilt=use_prebuilt) as verifier:
            if on_instance:
                on_instance(iid, "image")
            try:
                entry["image"] = verifier.ensure_image()
            except Exception as exc:  # one broken instance must not sink the whole file
                entry["error"] = f"image: {exc}"
                entry["statuses"] = {"error": len(preds)}
                continue
            entry["image_s"] = round(time.monotonic() - start, 2)
            if on_instance:
                on_instance(iid, "verify")
            for index, verdict in verifier.verify_many(p["model_patch"] for p in preds):
                pred = preds[index]
                entry["attempts"][index] = {"model_name_or_path": pred.get("model_name_or_path"),
                                            **verdict.to_dict()}
                if on_verdict:
                    on_verdict(pred, verdict)
        statuses = Counter(a["status"] for a in entry["attempts"] if a)
        entry["statuses"] = dict(statuses)
        entry["resolved"] = statuses.get("resolved", 0)
        entry["unique_patches"] = len({a["patch_hash"] for a in entry["attempts"] if a})
        entry["seconds"] = round(time.monotonic() - start, 2)
        if entry["resolved"]:
            report["resolved_ids"].append(iid)
    report["total_instances"] = len(by_instance)
    report["resolved_instances"] = len(report["resolved_ids"])
    report["seconds"] = round(time.time() - report.pop("started"), 2)
    return report
