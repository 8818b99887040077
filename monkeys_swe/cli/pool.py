"""`monkeys-swe pool PREDICTIONS...`: several systems' SWE-bench predictions as one run, verified and reported."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table


@click.command("pool")
@click.argument("predictions", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--data", required=True, help="SWE-bench instances: local .jsonl/.jsonl.gz/.json, or a dataset name.")
@click.option("--repo-mirror", type=click.Path(file_okay=False), help="Directory of git mirrors (DIR/owner__name.git).")
@click.option("--instance", "instance_ids", multiple=True, help="Only these instances (repeatable).")
@click.option("--name", default=None, help="The pool's model name in reports (default: pool-SOURCE+SOURCE...).")
@click.option("--runs-dir", default="runs", show_default=True, help="Where the run directory goes.")
@click.option("--task-arg", "task_arg", multiple=True, metavar="KEY=VALUE",
              help="A swebench task setting (repeatable), e.g. regression=false or pool_size=1.")
@click.option("--select", "selects", multiple=True, metavar="NAME|SPEC|NAME=SPEC",
              help="Selection pipelines to report (see `report --select`).")
@click.option("--no-report", is_flag=True, help="Only verify; no report.")
def command(predictions: tuple[str, ...], data: str, repo_mirror: str | None, instance_ids: tuple[str, ...],
            name: str | None, runs_dir: str, task_arg: tuple[str, ...], selects: tuple[str, ...], no_report: bool) -> None:
    """Each file is one system; each attempt keeps its system's name. Resumes like any run."""
    from monkeys_swe.cli.options import parse_task_args
    from monkeys_swe.pools import pool_config, run_pool, source_table

    console = Console(width=None if sys.stdout.isatty() else 150)
    args = parse_task_args(task_arg)
    if repo_mirror:
        args["repo_mirror"] = repo_mirror
    config = pool_config(predictions, data=data, runs_dir=runs_dir, name=name, task_args=args,
                         instance_ids=list(instance_ids) or None)
    run_dir = run_pool(config)
    t = Table(title=f"Sources pooled in {run_dir}", title_justify="left")
    for col in ("source", "attempts", "judged", "errors", "resolved", "rate"):
        t.add_column(col, justify="left" if col == "source" else "right")
    for src, row in source_table(run_dir).items():
        rate = "-" if row["rate"] is None else f"{100 * row['rate']:.1f}%"
        t.add_row(src, str(row["attempts"]), str(row["judged"]), str(row["errors"]), str(row["resolved"]), rate)
    console.print(t)
    if not no_report:
        from monkeys_swe.reports import report_run

        report_run(Path(run_dir), console=console, select=list(selects))
