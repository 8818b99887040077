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

from harness import capacity, disk, engine
from harness.docker_util import get_client
from harness.instance import DataError, SWEInstance
from harness.sandbox import Limits
from harness.records import RecordsError, read_json_records
from harness.verdict_cache import open_cache
from harness.verify import DEFAULT_LIMITS, PatchVerdict, Verifier

REQUIRED = ("instance_id", "model_patch")


def read_predictions(path: str | Path) -> list[dict]:
    """SWE-bench predictions: JSONL rows or a JSON list, each with instance_id and model_patch."""
    path = Path(path)
    try:
        rows = read_json_records(path)
    except RecordsError as exc:
        raise DataError(f"predictions file: {exc}") from exc
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
                       use_prebuilt: bool | str = True, fail_fast: bool = True,
                       cache_dir: str | Path | None = None, stream_path: str | Path | None = None,
                       verdict_cache=None,
                       report: dict | None = None,
                       on_verdict: Callable[[dict, PatchVerdict], None] | None = None,
                       on_instance: Callable[[str, str], None] | None = None) -> dict:
    """Verify every prediction; returns the report (filled in place into `report` when given,
    so a caller still holds what finished if this is interrupted: then `interrupted` is set).
    Each verdict is appended to `stream_path` (JSONL) as soon as it is decided. Callbacks
    stream progress: `on_instance(instance_id, phase)` and `on_verdict(prediction, verdict)`.
    `report["unjudged"]` lists the instances with an image failure or an `error` verdict.
    `verdict_cache` (a path, True for the default file, or a VerdictCache) reuses verdicts
    across runs; `cache_hits` counts the attempts it answered."""
    unknown = sorted({p["instance_id"] for p in predictions} - set(instances))
    if unknown:
        raise DataError(f"predictions name instances missing from the data: {', '.join(unknown[:5])}")
    by_instance: dict[str, list[dict]] = defaultdict(list)
    for p in predictions:
        by_instance[p["instance_id"]].append(p)
    report = report if report is not None else {}
    report.update({"resolved_ids": [], "instances": {}, "unjudged": {}, "interrupted": False,
                   "grading": "fail-fast" if fail_fast else "full"})
    engine.check_limits(get_client(), limits)  # one line naming a limit the engine would not enforce
    disk.preflight(instances[iid] for iid in by_instance)  # refuses a run that cannot fit, before building
    verdict_cache = open_cache(verdict_cache)
    report["verdict_cache"] = str(verdict_cache.path) if verdict_cache is not None else None  # empty is still on
    started = time.time()
    stream = open(stream_path, "a", encoding="utf-8") if stream_path else None
    try:
        for iid, preds in by_instance.items():
            entry = {"predictions": len(preds), "resolved": 0, "statuses": {}, "attempts": [None] * len(preds)}
            report["instances"][iid] = entry
            try:
                _verify_instance(instances[iid], preds, entry, stream, on_verdict, on_instance,
                                 dict(repo_mirror=repo_mirror, pool_size=pool_size, limits=limits,
                                      log_dir=log_dir, base_image=base_image, use_prebuilt=use_prebuilt,
                                      fail_fast=fail_fast, cache_dir=cache_dir, verdict_cache=verdict_cache))
            finally:
                _summarize(iid, entry, report)
    except BaseException:  # Ctrl-C / SIGTERM: the report keeps what finished
        report["interrupted"] = True
        raise
    finally:
        if stream:
            stream.close()
        report["total_instances"] = len(by_instance)
        report["resolved_instances"] = len(report["resolved_ids"])
        report["cache_hits"] = sum(e.get("cache_hits", 0) for e in report["instances"].values())
        report["seconds"] = round(time.time() - started, 2)
        report["sandboxes"] = capacity.stats()  # each engine's cap, the window it settled on, its back-offs
    return report


def _verify_instance(inst: SWEInstance, preds: list[dict], entry: dict, stream, on_verdict, on_instance,
                     options: dict) -> None:
    start = time.monotonic()
    with Verifier(inst, **options) as verifier:
        if on_instance:
            on_instance(inst.instance_id, "image")
        try:
            entry["image"] = verifier.ensure_image()
        except Exception as exc:  # one broken instance must not sink the whole file
            entry["error"] = f"image: {exc}"
            entry["statuses"] = {"error": len(preds)}
            return
        entry["image_s"] = round(time.monotonic() - start, 2)
        if on_instance:
            on_instance(inst.instance_id, "verify")
        for index, verdict in verifier.verify_many(p["model_patch"] for p in preds):
            pred = preds[index]
            row = {"index": index, "model_name_or_path": pred.get("model_name_or_path"), **verdict.to_dict()}
            entry["attempts"][index] = row
            if stream:
                stream.write(json.dumps({"instance_id": inst.instance_id, "index": index, **row}) + "\n")
                stream.flush()
            if on_verdict:
                on_verdict(pred, verdict)
        if verifier._health is not None:
            entry["environment"] = verifier._health.to_dict()
    entry["seconds"] = round(time.monotonic() - start, 2)


def _summarize(iid: str, entry: dict, report: dict) -> None:
    attempts = [a for a in entry["attempts"] if a]
    if len(attempts) < len(entry["attempts"]):  # interrupted: list what finished (each row has its index)
        entry["not_finished"] = len(entry["attempts"]) - len(attempts)
        entry["attempts"] = attempts
    if attempts or "error" not in entry:
        entry["statuses"] = dict(Counter(a["status"] for a in attempts))
    entry["resolved"] = entry["statuses"].get("resolved", 0)
    entry["unique_patches"] = len({a["patch_hash"] for a in attempts})  # textual (harness.patch.normalize)
    entry["unique_semantic"] = len({a.get("semantic_key") or a["patch_hash"] for a in attempts})  # by meaning
    entry["cache_hits"] = sum(bool(a.get("cached")) for a in attempts)
    if entry["resolved"]:
        report["resolved_ids"].append(iid)
    env = entry.get("environment") or {}
    errors = [a for a in attempts if a["status"] == "error"]
    if "error" in entry:
        report["unjudged"][iid] = entry["error"].splitlines()[0][:400]
    elif env and not env.get("healthy", True):
        cause = "the instance's test lists cannot judge" if env.get("fault") == "instance" else \
            "broken environment"
        report["unjudged"][iid] = f"{cause}: {env.get('reason')} (log {env.get('log_path')})"[:600]
    elif errors:
        report["unjudged"][iid] = f"{len(errors)} of {entry['predictions']} verdicts are error: " \
                                  f"{(errors[0].get('error') or '').splitlines()[0][:300] if errors[0].get('error') else ''}"
