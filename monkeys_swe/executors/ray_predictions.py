"""The `verify` command on Ray: every instance's predictions at once, deduplicated per
(instance, meaning: harness.normalize's key, the Verifier's own) before dispatch, verdicts streamed to the report as they arrive (the same
report, stream and callbacks as harness.batch.verify_predictions)."""
from __future__ import annotations

import dataclasses
import json
import time
from collections import defaultdict
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any, Callable


def collect(pool: Any, instances: dict, predictions: list[dict], options: dict[str, Any], registry: str | None, *,
            report: dict | None, stream_path: Any, on_verdict: Callable | None, on_instance: Callable | None,
            summarize: Callable, patch_hash: Callable[[str], str]) -> dict:
    from harness import normalize, specs
    from harness import patch as patches
    from harness.verify import PatchVerdict
    from monkeys_swe.executors.ray_verify import SetupError
    from monkeys_swe.executors.ray_work import instance_work

    by_instance: dict[str, list[dict]] = defaultdict(list)
    for p in predictions:
        by_instance[p["instance_id"]].append(p)
    report = report if report is not None else {}
    report.update({"resolved_ids": [], "instances": {}, "unjudged": {}, "interrupted": False,
                   "grading": "fail-fast" if options.get("fail_fast", True) else "full", "executor": "ray"})
    started = time.time()
    groups: dict[tuple[str, str], list[int]] = {}  # (instance, candidate key) -> indices within the instance
    specs_of: dict[str, Any] = {}

    def dropped(iid: str, patch: str) -> list[str]:  # a duplicate's own test-file edits (Verifier._share)
        try:
            return patches.drop_files(patch, lambda f: specs.is_protected(f, specs_of[iid]))[1]
        except patches.PatchError:
            return []

    futures: dict[Future, tuple[str, str]] = {}
    works: dict[str, tuple[str, Callable]] = {}
    stream = open(stream_path, "a", encoding="utf-8") if stream_path else None
    try:
        for iid, preds in by_instance.items():
            report["instances"][iid] = {"predictions": len(preds), "resolved": 0, "statuses": {},
                                        "attempts": [None] * len(preds)}
            name, factory = works[iid] = instance_work(instances[iid], options, registry)
            specs_of[iid] = specs.resolve(instances[iid])
            norm = normalize.for_instance(instances[iid], options.get("repo_mirror"), specs_of[iid])  # no Docker
            if on_instance:
                on_instance(iid, "verify")
            for index, pred in enumerate(preds):
                key = (iid, norm.key(pred["model_patch"]))
                if key in groups:  # the same code (test-file edits dropped): deduplicated before dispatch
                    groups[key].append(index)
                    continue
                groups[key] = [index]
                h = patch_hash(pred["model_patch"])

                def error(exc: BaseException, h: str = h) -> Any:
                    prefix = "image: " if isinstance(exc, SetupError) else ""
                    return PatchVerdict("error", patch_hash=h, error=f"{prefix}{type(exc).__name__}: {exc}")

                futures[pool.submit_call(name, factory, "verify", (pred["model_patch"], h), error)] = key
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                iid, h = futures[fut]
                first, *rest = groups[(iid, h)]
                verdict = fut.result()
                entry, preds = report["instances"][iid], by_instance[iid]
                for index in (first, *rest):
                    patch = preds[index]["model_patch"]
                    v = verdict if index == first else dataclasses.replace(
                        verdict, duplicate_of=first, patch_hash=patch_hash(patch), dropped_files=dropped(iid, patch))
                    row = {"index": index, "model_name_or_path": preds[index].get("model_name_or_path"), **v.to_dict()}
                    entry["attempts"][index] = row
                    if stream:
                        stream.write(json.dumps({"instance_id": iid, "index": index, **row}) + "\n")
                        stream.flush()
                    if on_verdict:
                        on_verdict(preds[index], v)
    except BaseException:  # Ctrl-C / SIGTERM: the report keeps what finished
        report["interrupted"] = True
        pool.shutdown(cancel_futures=True)
        raise
    finally:
        if stream:
            stream.close()
        for iid in by_instance:
            entry = report["instances"][iid]
            rows = [a for a in entry["attempts"] if a]
            if rows and all(a["status"] == "error" and (a.get("error") or "").startswith("image: ") for a in rows) \
                    and len(rows) == len(entry["attempts"]):
                entry["error"] = rows[0]["error"]  # the instance could not be set up on its node
                entry["statuses"] = {"error": len(rows)}
            summarize(iid, entry, report)
        report["total_instances"] = len(by_instance)
        report["resolved_instances"] = len(report["resolved_ids"])
        report["seconds"] = round(time.time() - started, 2)
    return report
