"""`monkeys-swe sweep CONFIG.yaml`: run a grid of benchmark runs, resumably, and report them together."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console


@click.command("sweep")
@click.argument("config_file", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Sweep directory (default: the config's out_dir, else sweeps/<name>).")
@click.option("--no-html", is_flag=True, help="Skip the HTML page.")
def command(config_file: Path, out_dir: Path | None, no_html: bool) -> None:
    """Run every cell of CONFIG_FILE's grid (tasks x models x samples x temperatures).

    Rerunning the same command resumes: complete cells are skipped, a partial one continues.
    """
    from monkeys_swe.progress import RunProgress
    from monkeys_swe.reports import report_runs
    from monkeys_swe.reports.terminal import print_sweep
    from monkeys_swe.sweep import load_sweep, run_cell, write_state

    console = Console(width=None if sys.stdout.isatty() else 150)  # logs and CI: don't squeeze to 80
    sweep, root, cells = load_sweep(config_file, out_dir)
    console.print(f"sweep {config_file} -> {root} ({len(cells)} cells)")
    for i, cell in enumerate(cells, 1):
        console.print(f"[bold]cell {i}/{len(cells)}[/] {cell.name}")
        with RunProgress(console=Console(stderr=True)) as progress:
            run_cell(cell, on_update=progress.update)
        tail = f": {cell.error}" if cell.error else ""
        console.print(f"  {cell.status}{tail}")
        write_state(root, cells)
    ok = [c for c in cells if c.summary is not None]
    extra = {"cells": [{k: v for k, v in c.row().items() if k != "summary"} for c in cells]}
    print_sweep(console, [c.row() for c in cells], title=f"Sweep {sweep.name or config_file.stem}")
    if ok:
        report_runs([c.config.run_dir() for c in ok], out_dir=root / "report", console=console,
                    html=sweep.html and not no_html, title=f"Sweep {sweep.name or config_file.stem}", extra=extra,
                    extrapolate_to=sweep.extrapolate_to, labels=[c.name for c in ok])
    failed = [c for c in cells if c.status == "failed"]
    if failed:
        console.print(f"[red]{len(failed)} of {len(cells)} cells failed[/]; fix them and rerun to resume")
        raise SystemExit(1)
