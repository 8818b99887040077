"""`monkeys-swe bench TASK`: sample, verify and report in one resumable run."""
from __future__ import annotations

from typing import Any

import click
from rich.console import Console

from monkeys_swe.cli.options import build_config, run_options
from monkeys_swe.config import RunConfig


def run_and_report(config: RunConfig, *, report: bool = True, console: Console | None = None) -> dict[str, Any] | None:
    from monkeys_swe.progress import RunProgress
    from monkeys_swe.runner import Runner

    console = console or Console()
    run_dir = config.run_dir()
    runner = Runner(config)
    console.print(f"[bold cyan]{config.task}[/] x {config.samples} attempts, backend {config.backend} -> {run_dir}")
    with RunProgress() as progress:
        runner.on_update = progress.update
        runner.run()
    stats = runner.stats
    console.print(
        f"[green]done[/] {stats.attempts} attempts ({stats.generated_this_session} new), "
        f"{stats.verified} verified, {stats.correct} correct, {len(stats.solved)}/{stats.problems} problems solved"
    )
    if not report:
        return None
    from monkeys_swe.reports import report_run

    return report_run(run_dir, console=console)


@click.command()
@click.argument("task", required=False)
@run_options
@click.option("--no-report", is_flag=True, help="Skip the report at the end.")
def command(task: str | None, config_file: str | None, no_report: bool, **flags: Any) -> None:
    """Draw attempts for every problem of TASK, verify each, and report coverage.

    Rerunning the same command resumes the same run directory.
    """
    config = build_config(task, config_file, **flags)
    run_and_report(config, report=not no_report)
