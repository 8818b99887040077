"""`monkeys-swe view RUN`: write the run's browsable page (every problem and attempt, filterable)."""
from __future__ import annotations

from pathlib import Path

import click

from monkeys_swe.errors import UserError


@click.command("view")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where the page goes (default: RUN/report/attempts.html).")
def command(run: Path, out: Path | None) -> None:
    """Write one self-contained HTML page of RUN: filter problems and attempts by status and id, and
    read each attempt's prompt, completion (or diff), extracted answer, verdict, log excerpt and
    agent trajectory. It opens from disk with no server; the view is in the URL's #hash."""
    from monkeys_swe.reports.attempts_page import write_attempts_page

    if not (run / "run.db").exists() and (Path("runs") / run / "run.db").exists():
        run = Path("runs") / run
    if not (run / "run.db").exists():
        raise UserError(f"no run at {run} (expected {run / 'run.db'})")
    page = write_attempts_page(run, out or run / "report" / "attempts.html")
    click.echo(f"attempts page: {page} (open it in a browser: {page.resolve().as_uri()})")
