"""`monkeys-swe report RUN [RUN...]`: tables, plots, JSON (and HTML) for runs; several are overlaid."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from monkeys_swe.errors import UserError


@click.command("report")
@click.argument("runs", nargs=-1, type=click.Path(path_type=Path))
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Where plots and summary.json go (default: RUN/report for one run, ./report for several).")
@click.option("--html", is_flag=True, help="Also write a self-contained report.html and, for one run, attempts.html (every attempt, browsable).")
@click.option("--import", "imports", multiple=True, type=click.Path(path_type=Path),
              help="A monkey_business-style JSON file or directory to turn into a run first (repeatable).")
@click.option("--task", default=None, help="Task of the imported samples (verifies them when they lack is_corrects).")
@click.option("--runs-dir", default="runs", show_default=True, help="Where imported runs are written.")
@click.option("--rows", default=20, show_default=True, help="Problems shown per run in the terminal.")
@click.option("--judge", type=click.Choice(["llamacpp", "openai", "hf-rm", "vllm-rm", "vllm-rm-server"]), default=None,
              help="Score unscored attempts first with an LLM judge or a reward model (hf-rm: transformers; vllm-rm: "
                   "vLLM's pooling runner; vllm-rm-server: a vLLM server's /classify). Adds best-of-N and RM-weighted "
                   "vote curves and the scorer's AUC/ECE.")
@click.option("--judge-model", default=None,
              help="Judge model: a GGUF path (llamacpp), a served name (openai), a reward model directory (*-rm).")
@click.option("--judge-base-url", default=None, help="Server of the openai judge or of vllm-rm-server.")
@click.option("--judge-curve", is_flag=True,
              help="SWE runs: estimate `solve --judge`'s selection curve, asking the run's own model for the "
                   "judge decisions not stored yet (up to 20 subsets per k; stored, so a rerun asks nothing).")
@click.option("--compare", is_flag=True,
              help="Several runs: their selectors side by side at k = N, with bootstrap intervals and oracle gaps.")
@click.option("--select", "selects", multiple=True, metavar="NAME|SPEC|NAME=SPEC",
              help="A selection pipeline to add as a curve (repeatable): a preset (vote, tests, majority) or stages "
                   "joined by '>', e.g. 'applies > existing-tests > rm:rm:tiny@3 > judge:judge:smollm2 > first'.")
def command(runs: tuple[Path, ...], out_dir: Path | None, html: bool, imports: tuple[Path, ...], task: str | None,
            runs_dir: str, rows: int, judge: str | None, judge_model: str | None, judge_base_url: str | None,
            judge_curve: bool, compare: bool, selects: tuple[str, ...]) -> None:
    """Report coverage (pass@k), selection accuracy and the scaling fit of RUNS."""
    console = Console(width=None if sys.stdout.isatty() else 150)  # logs and CI: don't squeeze to 80
    run_dirs = list(runs)
    if imports:
        if not task:
            raise UserError("--import needs --task (e.g. --task math) to know how to verify the samples")
        from monkeys_swe.published import import_sample_sets

        for source in imports:
            run_dir = import_sample_sets(source, task=task, runs_dir=runs_dir)
            console.print(f"imported {source} -> {run_dir}")
            run_dirs.append(run_dir)
    if not run_dirs:
        raise UserError("name at least one run directory (or --import FILE)")
    for d in run_dirs:
        _check_run(Path(d))
    if judge:
        from monkeys_swe.judges import make_scorer, score_run

        scorer = make_scorer(judge, model=judge_model, base_url=judge_base_url)
        for d in run_dirs:
            with console.status(f"scoring {d} with {scorer.name}") as status:
                done = score_run(d, scorer, lambda i, n: status.update(f"scoring {d} with {scorer.name}: {i}/{n}"))
            console.print(f"{scorer.name}: scored {done} new attempts of {d}")
    if compare and len(run_dirs) < 2:
        raise UserError("--compare needs at least two runs to put side by side")
    if len(run_dirs) == 1:
        from monkeys_swe.reports import report_run

        report_run(run_dirs[0], console=console, out_dir=out_dir, html=html, max_rows=rows, judge_curve=judge_curve,
                   select=list(selects))
    else:
        from monkeys_swe.reports import report_runs

        report_runs(run_dirs, out_dir=out_dir or Path("report"), console=console, html=html,
                    title=f"{len(run_dirs)} runs", judge_curve=judge_curve, compare=compare,
                    select=list(selects))


def _check_run(run_dir: Path) -> None:
    """A run with problems to report on (read-only: a run being written is fine)."""
    from monkeys_swe.store import Store

    if not (run_dir / "run.db").exists():
        raise UserError(f"no run at {run_dir} (expected {run_dir / 'run.db'})")
    store = Store(run_dir, create=False)
    try:
        problems = store.counts()["problems"]
    except Exception as exc:  # a database of another program: tables missing
        raise UserError(f"{run_dir / 'run.db'} is not a monkeys-swe run ({exc})") from None
    finally:
        store.close()
    if not problems:
        raise UserError(f"{run_dir} holds no problems (a start that failed before loading its data): nothing to report")
