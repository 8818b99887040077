"""`monkeys-swe runs`: the runs under a directory, with their task, model, progress and state."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from monkeys_swe.errors import UserError

STATE_STYLE = {"running": "cyan", "done": "green", "interrupted": "yellow", "empty": "dim", "unreadable": "red"}


@click.command("runs")
@click.option("--runs-dir", type=click.Path(path_type=Path), default=Path("runs"), show_default=True,
              help="Where the run directories are (a sweep's: SWEEP/runs).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per run, for scripts.")
def command(runs_dir: Path, as_json: bool) -> None:
    """List runs: task, model, samples, attempts, coverage, errors and state
    (running, done, interrupted; rerun an interrupted run's command to resume it)."""
    from monkeys_swe.runs_list import age, list_runs

    if not runs_dir.is_dir():
        raise UserError(f"--runs-dir {runs_dir}: no such directory")
    rows = list_runs(runs_dir)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row.as_dict()))
        return
    if not rows:
        click.echo(f"no runs in {runs_dir}")
        return
    table = Table(title=f"{len(rows)} runs in {runs_dir}")
    for col in ("run", "task", "model", "n", "attempts", "coverage", "errors", "state", "updated"):
        table.add_column(col, overflow="fold", justify="right" if col in ("n", "attempts", "coverage", "errors") else "left")
    for r in rows:
        cov = f"{r.solved}/{r.problems} ({r.coverage:.0%})" if r.coverage is not None else "-"
        errors = str(r.errors) + (f" +{r.failed_slots} unfilled" if r.failed_slots else "")
        state = f"[{STATE_STYLE.get(r.state, 'white')}]{r.state}[/]" + (f" ({r.note})" if r.note else "")
        table.add_row(r.run, r.task, r.model, str(r.samples), f"{r.attempts}/{r.target}", cov, errors, state,
                      age(r.updated))
    Console(width=None if sys.stdout.isatty() else 160).print(table)
