"""`monkeys-swe verify`: SWE-bench predictions (or one patch, or the gold patches) in Docker."""
from __future__ import annotations

import json
from pathlib import Path

import click

from monkeys_swe.cli.options import choice_flags, engine_options
from monkeys_swe.errors import UserError
from monkeys_swe.executors.options import executor_from, ray_options

from harness.instance import DEFAULT_DATASET as DEFAULT_DATA


@click.command(help="Verify SWE-bench predictions (any number per instance), one patch file "
                    "(--instance ID --patch FILE) or the instances' gold patches (--gold).")
@click.argument("predictions", required=False, type=click.Path(dir_okay=False))
@click.option("--data", default=DEFAULT_DATA, show_default=True,
              help="SWE-bench instances: local .jsonl/.jsonl.gz/.json, or a Hugging Face dataset name.")
@click.option("--instance", "instance_ids", multiple=True, help="Instance id (repeatable).")
@choice_flags
@click.option("--patch", "patch_file", type=click.Path(exists=True, dir_okay=False),
              help="A diff to verify against --instance.")
@click.option("--gold", is_flag=True, help="Verify each selected instance's own gold patch.")
@click.option("--repo-mirror", type=click.Path(file_okay=False),
              help="Directory of git mirrors: DIR/owner__name.git (or DIR/name.git, ...).")
@click.option("--pool-size", default=2, show_default=True, help="Concurrent sandboxes.")
@click.option("--timeout", default=1800.0, show_default=True, help="Seconds per attempt.")
@click.option("--memory", default="4g", show_default=True, help="Memory limit per sandbox.")
@click.option("--cpus", default=2.0, show_default=True, help="CPU limit per sandbox.")
@click.option("--base-image", help="Base image for builds (default: python:X-slim, else offline Debian).")
@click.option("--no-prebuilt", is_flag=True, help="Do not look for swebench/sweb.eval.* images.")
@click.option("--image-source", type=click.Choice(["auto", "swebench", "epoch", "local"]),
              help="Instance images: auto (the row's image, swebench/sweb.eval.*, Epoch AI's ghcr.io images, then a local build), swebench, epoch, or local (build here). Default: $MONKEYS_SWE_IMAGE_SOURCE, else auto.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), default="verify_report.json",
              show_default=True, help="Where to write the JSON report.")
@click.option("--log-dir", type=click.Path(file_okay=False), help="Test logs (default: next to the report).")
@click.option("--full-grading", is_flag=True,
              help="Run the full test command for every candidate (default: FAIL_TO_PASS tests first, "
                   "the full command only when they all pass; the verdicts are the same).")
@click.option("--no-cache", is_flag=True, help="Verify every candidate again: the verdict cache is neither read "
                                               "nor written.")
@click.option("--cache", "cache_path", type=click.Path(dir_okay=False),
              help="The verdict cache, reused across runs (SQLite; default ~/.cache/monkeys-swe/verdicts.db).")
@engine_options
@ray_options
def command(predictions, data, instance_ids, ids, filter, slice, patch_file, gold, repo_mirror, pool_size, timeout, memory,
            cpus, base_image, no_prebuilt, image_source, report_path, log_dir, full_grading, **ray_flags):
    """Exit status 0 when every prediction was judged; 3 when an image could not be had or
    a verdict is `error` (one line per such instance on stderr). Each verdict is appended
    to REPORT's .jsonl as it is decided; on Ctrl-C/SIGTERM the report keeps what finished."""
    from harness import batch
    from harness.disk import DiskError
    from harness.engine import EngineError
    from harness.instance import DataError, load_instances
    from harness.repos import RepoError
    from harness.sandbox import Limits, install_signal_handlers

    modes = sum([predictions is not None, patch_file is not None, gold])
    if modes != 1:
        raise UserError("give exactly one of: a PREDICTIONS file, --patch FILE (with --instance), or --gold")
    if patch_file and len(instance_ids) != 1:
        raise UserError("--patch needs exactly one --instance ID")
    if pool_size < 1:
        raise UserError("--pool-size must be at least 1")
    install_signal_handlers()
    report_path = Path(report_path)
    log_dir = Path(log_dir) if log_dir else report_path.with_suffix("").parent / (report_path.stem + "_logs")
    report: dict = {}
    stream_path = report_path.with_suffix(".jsonl")
    no_cache, cache_path = ray_flags.pop("no_cache"), ray_flags.pop("cache_path")
    if no_cache and cache_path:
        raise UserError("give --cache PATH or --no-cache, not both")
    from harness.verdict_cache import default_path

    verdict_cache = None if no_cache else str(Path(cache_path or default_path()).expanduser())
    report["verdict_cache"] = verdict_cache
    executor = executor_from(ray_flags)  # local threads, or a Ray cluster with --ray
    try:
        preds = batch.read_predictions(predictions) if predictions else None
        wanted = list(instance_ids) or ([p["instance_id"] for p in preds] if preds else None)
        if ids is not None or filter is not None or slice is not None:
            wanted = _chosen(data, wanted, patch_file, ids=ids, filter=filter, slice=slice)
            preds = [p for p in preds if p["instance_id"] in set(wanted)] if preds else preds
        if gold and not wanted:
            raise UserError("--gold needs --instance ID (repeatable), --ids, --filter or --slice to say which instances")
        instances = {i.instance_id: i for i in load_instances(data, ids=wanted)}
        if patch_file:
            preds = [{"instance_id": instance_ids[0], "model_name_or_path": Path(patch_file).name,
                      "model_patch": Path(patch_file).read_text(encoding="utf-8", errors="surrogateescape")}]
        elif gold:
            preds = batch.gold_predictions(instances.values())
        limits = Limits(memory=memory, cpus=cpus, pids=1024, timeout_s=timeout)
        report_path.parent.mkdir(parents=True, exist_ok=True)
        executor.verify_predictions(
            instances, preds, repo_mirror=repo_mirror, pool_size=pool_size, limits=limits,
            fail_fast=not full_grading, stream_path=stream_path, report=report, verdict_cache=verdict_cache,
            log_dir=log_dir, base_image=base_image, use_prebuilt=False if no_prebuilt else (image_source or True),
            on_instance=lambda iid, phase: click.echo(f"{iid}: {'building/finding image' if phase == 'image' else 'verifying'}", err=True),
            on_verdict=lambda p, v: click.echo(verdict_line(p, v), err=True))
    except (DiskError, EngineError) as exc:
        raise UserError(str(exc)) from exc
    except (DataError, RepoError) as exc:
        from monkeys_swe.tasks.base import layout_of

        fits = layout_of(getattr(exc, "row", None) or {}) if isinstance(getattr(exc, "row", None), dict) else None
        raise UserError(str(exc) + (f"; it looks like {fits} data" if fits else "")) from exc
    finally:
        executor.close()
        if report.get("instances"):  # written on success and on interrupt alike
            report_path.write_text(json.dumps(report, indent=2))
            if report.get("interrupted"):
                click.echo(f"interrupted: report with the finished verdicts in {report_path}", err=True)
    _print_table(report)
    if report.get("sandboxes"):
        from harness.capacity import summary_line

        click.echo(f"sandboxes: {summary_line()}")
    click.echo(f"report: {report_path} (verdicts as they came: {stream_path})")
    for iid, reason in report["unjudged"].items():
        click.echo(f"not judged: {iid}: {reason}", err=True)
    if report["unjudged"]:
        raise SystemExit(3)


def _chosen(data: str, wanted: list[str] | None, patch_file: str | None, **choice) -> list[str]:
    """--ids/--filter/--slice among the predictions' (or --instance's) ids, else among all of DATA's."""
    from harness.instance import load_instances
    from monkeys_swe.choose import choose, parse_ids

    if patch_file:
        raise UserError("--ids, --filter and --slice choose among predictions or --gold instances, not with --patch")
    where = "the predictions" if wanted is not None else data
    if wanted is None:
        wanted = [i.instance_id for i in load_instances(data)]
    return choose(list(dict.fromkeys(wanted)), str, ids=parse_ids(choice["ids"]), filter=choice["filter"],
                  slice=choice["slice"], where=where)


def _print_table(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"resolved {report['resolved_instances']}/{report['total_instances']} instances")
    table.add_column("instance", overflow="fold")
    for col in ("predictions", "unique", "by meaning", "cached", "resolved", "statuses", "seconds"):
        table.add_column(col)
    for iid, e in report["instances"].items():
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(e["statuses"].items())) or e.get("error", "")
        subs = {(a["environment"].get("python"), a["environment"].get("python_wanted")) for a in e.get("attempts") or []
                if a and (a.get("environment") or {}).get("substituted")}
        statuses += "".join(f" [Python {used} for {wanted}]" for used, wanted in sorted(subs))
        table.add_row(iid, str(e["predictions"]), str(e.get("unique_patches", "-")),
                      str(e.get("unique_semantic", "-")), str(e.get("cache_hits", 0)), str(e["resolved"]),
                      statuses, str(e.get("seconds", "-")))
    Console().print(table)
    hits = sum(e.get("cache_hits", 0) for e in report["instances"].values())
    where = report.get("verdict_cache")
    Console().print(f"verdict cache: {hits} hits ({where})" if where else "verdict cache: off (--no-cache)",
                    highlight=False)


def verdict_line(pred: dict, v) -> str:
    """One verdict as it arrives, with what judged it when that is not the instance's own environment."""
    line = f"  {pred['instance_id']} [{pred.get('model_name_or_path')}] {v.status} ({v.duration_s:.1f}s)"
    if getattr(v, "cached", False):
        line += " cached"
    env = getattr(v, "environment", None) or {}
    if env.get("substituted"):
        line += (f"  [judged on Python {env.get('python')}, the instance wants {env.get('python_wanted')}: "
                 f"tests may skip or fail for that alone]")
    return line
