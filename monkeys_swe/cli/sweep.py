"""`monkeys-swe sweep CONFIG.yaml`: run a grid of benchmark runs, resumably, and report them together."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from monkeys_swe.cli.options import choice_flags
from monkeys_swe.executors.options import executor_from, ray_options


def run_concurrently(console: Console, root: Path, cells: list, executor) -> None:
    """Every group of cells that draw the same samples at once, each its own run (own store, written
    by this driver); within a group one cell after the other, so each shares what the last drew."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    from monkeys_swe.sweep import run_group, sample_groups, write_state

    groups = sample_groups(cells)
    with ThreadPoolExecutor(len(groups), thread_name_prefix="cell") as pool:
        running = {pool.submit(run_group, group, executor): group for group in groups}
        for fut in as_completed(running):
            for cell in running[fut]:
                console.print(f"cell {cell.name}: {cell_line(cell)}")
            write_state(root, cells)


def cell_line(cell) -> str:
    return cell.status + (f" ({cell.shared} shared)" if cell.shared else "") + (f": {cell.error}" if cell.error else "")


@click.command("sweep")
@click.argument("config_file", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Sweep directory (default: the config's out_dir, else sweeps/<name>).")
@click.option("--no-html", is_flag=True, help="Skip the HTML page.")
@choice_flags
@ray_options
def command(config_file: Path, out_dir: Path | None, no_html: bool, ids: str | None, filter: str | None,
            slice: str | None, **ray_flags) -> None:
    """Run every cell of CONFIG_FILE's grid (tasks x models x samples x temperatures).

    Rerunning the same command resumes: complete cells are skipped, a partial one continues.
    Relative paths in CONFIG_FILE (data, replay_from, a model file, ids: "@FILE") are read next to it.
    Cells that differ only in their sample count share attempts: a later one copies what an earlier
    one drew (with its verdicts) and draws only the rest.
    """
    from monkeys_swe.progress import RunProgress
    from monkeys_swe.reports import report_runs
    from monkeys_swe.reports.terminal import print_sweep
    from monkeys_swe.sweep import load_sweep, run_cell, sample_groups, write_state

    console = Console(width=None if sys.stdout.isatty() else 150)  # logs and CI: don't squeeze to 80
    sweep, root, cells = load_sweep(config_file, out_dir, {"ids": ids, "filter": filter, "slice": slice})
    console.print(f"sweep {config_file} -> {root} ({len(cells)} cells)")
    executor = executor_from(ray_flags)
    try:
        if ray_flags.get("ray"):  # on a cluster the cells run concurrently, sharing its nodes
            run_concurrently(console, root, cells, executor)
        groups = sample_groups(cells)
        for i, cell in enumerate(cells, 1):
            if cell.status != "pending":
                continue
            console.print(f"[bold]cell {i}/{len(cells)}[/] {cell.name}")
            siblings = next(g for g in groups if any(c is cell for c in g))
            with RunProgress(console=Console(stderr=True), executor=executor) as progress:
                run_cell(cell, on_update=progress.update, executor=executor, siblings=siblings)
            console.print(f"  {cell_line(cell)}")
            write_state(root, cells)
    finally:
        executor.close()
    ok = [c for c in cells if c.summary is not None]
    extra = {"cells": [{k: v for k, v in c.row().items() if k != "summary"} for c in cells]}
    print_sweep(console, [c.row() for c in cells], title=f"Sweep {sweep.name or config_file.stem}")
    if ok:
        report_runs([c.config.run_dir() for c in ok], out_dir=root / "report", console=console,
                    html=sweep.html and not no_html, title=f"Sweep {sweep.name or config_file.stem}", extra=extra,
                    extrapolate_to=sweep.extrapolate_to, labels=[c.name for c in ok], select=sweep.select)
    failed = [c for c in cells if c.status == "failed"]
    if failed:
        console.print(f"[red]{len(failed)} of {len(cells)} cells failed[/]; fix them and rerun to resume")
        raise SystemExit(1)
