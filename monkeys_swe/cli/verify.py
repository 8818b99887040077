"""`monkeys-swe verify`: SWE-bench predictions (or one patch, or the gold patches) in Docker."""
from __future__ import annotations

import json
from pathlib import Path

import click

from monkeys_swe.errors import UserError

DEFAULT_DATA = "princeton-nlp/SWE-bench_Lite"


@click.command(help="Verify SWE-bench predictions (any number per instance), one patch file "
                    "(--instance ID --patch FILE) or the instances' gold patches (--gold).")
@click.argument("predictions", required=False, type=click.Path(dir_okay=False))
@click.option("--data", default=DEFAULT_DATA, show_default=True,
              help="SWE-bench instances: local .jsonl/.jsonl.gz/.json, or a Hugging Face dataset name.")
@click.option("--instance", "instance_ids", multiple=True, help="Instance id (repeatable).")
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
@click.option("--report", "report_path", type=click.Path(dir_okay=False), default="verify_report.json",
              show_default=True, help="Where to write the JSON report.")
@click.option("--log-dir", type=click.Path(file_okay=False), help="Test logs (default: next to the report).")
def command(predictions, data, instance_ids, patch_file, gold, repo_mirror, pool_size, timeout, memory,
            cpus, base_image, no_prebuilt, report_path, log_dir):
    from harness import batch
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
    try:
        preds = batch.read_predictions(predictions) if predictions else None
        wanted = list(instance_ids) or ([p["instance_id"] for p in preds] if preds else None)
        if gold and not wanted:
            raise UserError("--gold needs --instance ID (repeatable) to say which instances")
        instances = {i.instance_id: i for i in load_instances(data, ids=wanted)}
        if patch_file:
            preds = [{"instance_id": instance_ids[0], "model_name_or_path": Path(patch_file).name,
                      "model_patch": Path(patch_file).read_text(encoding="utf-8", errors="surrogateescape")}]
        elif gold:
            preds = batch.gold_predictions(instances.values())
        limits = Limits(memory=memory, cpus=cpus, pids=1024, timeout_s=timeout)
        report = batch.verify_predictions(
            instances, preds, repo_mirror=repo_mirror, pool_size=pool_size, limits=limits,
            log_dir=log_dir, base_image=base_image, use_prebuilt=not no_prebuilt,
            on_instance=lambda iid, phase: click.echo(f"{iid}: {'building/finding image' if phase == 'image' else 'verifying'}", err=True),
            on_verdict=lambda p, v: click.echo(f"  {p['instance_id']} [{p.get('model_name_or_path')}] "
                                               f"{v.status} ({v.duration_s:.1f}s)", err=True))
    except (DataError, RepoError) as exc:
        raise UserError(str(exc)) from exc
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(json.dumps(report, indent=2))
    _print_table(report)
    click.echo(f"report: {report_path}")


def _print_table(report: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"resolved {report['resolved_instances']}/{report['total_instances']} instances")
    table.add_column("instance", overflow="fold")
    for col in ("predictions", "unique", "resolved", "statuses", "seconds"):
        table.add_column(col)
    for iid, e in report["instances"].items():
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(e["statuses"].items())) or e.get("error", "")
        table.add_row(iid, str(e["predictions"]), str(e.get("unique_patches", "-")), str(e["resolved"]),
                      statuses, str(e.get("seconds", "-")))
    Console().print(table)
