"""`monkeys-swe bench TASK`: sample, verify and report in one resumable run."""
from __future__ import annotations

from typing import Any

import click
from rich.console import Console

from monkeys_swe.cli.options import build_config, engine_options, run_options
from monkeys_swe.config import RunConfig
from monkeys_swe.errors import UserError
from monkeys_swe.executors.options import executor_from, pop_ray_flags, ray_options


def run_and_report(config: RunConfig, *, report: bool = True, console: Console | None = None,
                   executor: Any = None, adaptive: bool = False) -> dict[str, Any] | None:
    from monkeys_swe.progress import RunProgress
    from monkeys_swe.runner import Runner

    console = console or Console()
    run_dir = config.run_dir()
    runner = Runner(config, executor=executor, adaptive=adaptive)
    console.print(f"[bold cyan]{config.task}[/] x {config.samples} attempts, backend {config.backend} -> {run_dir}")
    with RunProgress(executor=executor) as progress:
        runner.on_update = progress.update
        runner.on_phase = progress.phase
        runner.run()
    stats = runner.stats
    from monkeys_swe.reports.terminal import status_line
    from monkeys_swe.store import Store

    store = Store(run_dir, create=False)
    try:
        statuses = store.statuses()
    finally:
        store.close()
    console.print(
        f"[green]done[/] {stats.attempts} attempts ({stats.generated_this_session} new), "
        f"{stats.verified} verified, {stats.correct} correct, {len(stats.solved)}/{stats.problems} problems solved"
        + (f", [yellow]{stats.errors} verifier errors[/]" if stats.errors else "")
        + (f", [yellow]{stats.failed_slots} slots failed to generate[/]" if stats.failed_slots else "")
    )
    console.print(f"statuses: {status_line(statuses) or 'none yet'}", highlight=False)
    _sandbox_summary(run_dir, console)
    if executor is not None and executor.describe():
        from monkeys_swe.progress import cluster_line

        console.print(f"cluster: {cluster_line(executor, stats)}")
    if not report:
        return None
    from monkeys_swe.reports import report_run

    return report_run(run_dir, console=console)


def _sandbox_summary(run_dir: Any, console: Console) -> None:
    """The engines' sandbox caps and what they did (harness.capacity), when this run used sandboxes:
    printed, logged, and kept in RUN/sandboxes.json."""
    import json
    import logging
    import sys

    if "harness.capacity" not in sys.modules:
        return
    from harness import capacity

    if capacity.stats():
        line = capacity.summary_line()
        console.print(f"sandboxes: {line}")
        logging.getLogger("harness.capacity").info("sandboxes: %s", line)
        (run_dir / "sandboxes.json").write_text(json.dumps(capacity.stats(), indent=2))


@click.command()
@click.argument("task", required=False)
@run_options
@click.option("--no-report", is_flag=True, help="Skip the report at the end.")
@click.option("--adaptive", is_flag=True,
              help="Stop sampling a problem once an attempt is verified correct and give its remaining "
                   "attempts to the unsolved ones (sampled in rounds; off by default: coverage curves need "
                   "every sample).")
@engine_options
@ray_options
@click.option("--repo-mirror", type=click.Path(file_okay=False),
              help="swebench: directory of git mirrors, DIR/owner__name.git (default $MONKEYS_SWE_REPO_MIRROR).")
@click.option("--base-image", help="swebench: base image for the environment builds (part of the run's identity).")
def command(task: str | None, config_file: str | None, no_report: bool, adaptive: bool, repo_mirror: str | None,
            base_image: str | None, **flags: Any) -> None:
    """Draw attempts for every problem of TASK, verify each, and report coverage.

    Rerunning the same command resumes the same run directory.
    """
    ray_flags = pop_ray_flags(flags)
    swe = {"repo_mirror": repo_mirror, "base_image": base_image}
    config = build_config(task, config_file, extra_task_args=swe, **flags)
    if any(swe.values()) and config.task != "swebench":
        raise UserError("--repo-mirror and --base-image are settings of the swebench task")
    executor = executor_from(ray_flags)  # local threads, or a Ray cluster with --ray
    try:
        run_and_report(config, report=not no_report, executor=executor, adaptive=adaptive)
    finally:
        executor.close()
