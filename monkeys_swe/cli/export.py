"""`monkeys-swe export RUN`: a run as SWE-bench predictions JSONL or monkey_business JSON."""
from __future__ import annotations

import click


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--format", "fmt", type=click.Choice(["predictions", "monkey_business"]), default="monkey_business", show_default=True)
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False), help="File to write.")
def command(run_dir: str, fmt: str, out: str) -> None:
    """Write RUN_DIR's attempts in a format other tools read (and `--backend replay` reads back)."""
    from monkeys_swe.export import export_run

    n = export_run(run_dir, fmt, out)
    click.echo(f"wrote {n} {'records' if fmt == 'monkey_business' else 'predictions'} to {out}")
