"""Reports for runs: summary dict/JSON, rich tables, PNG plots, a self-contained HTML page.

`report_run` is what `bench` calls at the end of a run; `report_runs` overlays several runs
(`monkeys-swe report RUN...`, and each sweep).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from rich.console import Console

from monkeys_swe.errors import UserError
from monkeys_swe.reports.summary import load_run, summarize
from monkeys_swe.reports.terminal import print_run, runs_table, selection_table

__all__ = ["report_run", "report_runs", "summarize_run"]


def summarize_run(run_dir: str | Path, *, extrapolate_to: int | None = None, judge_curve: bool = False,
                  select: Any = None) -> dict[str, Any]:
    """The summary dict of one run, with its scaling-law fit (or the reason there is none);
    `judge_curve`: ask the run's model for the judge decisions its judge curve lacks (SWE runs)."""
    from monkeys_swe.fit import fit_summary

    from monkeys_swe.pipeline import named

    summary = summarize(load_run(run_dir), judge_curve=judge_curve, pipelines=named(select) if select else None)
    summary["fit"] = ({"ok": False, "error": f"coverage unknown: {summary['coverage_unknown']}"}
                      if summary.get("coverage_unknown") else
                      fit_summary(summary["ks"], summary["coverage"], extrapolate_to=extrapolate_to))
    return summary


def write_plots(summaries: Sequence[dict[str, Any]], out_dir: Path) -> dict[str, Path]:
    """Every plot that has data: coverage, selection, fit, and compute/cost-matched views."""
    from monkeys_swe.reports import plots

    files = {
        "coverage": plots.plot_coverage(summaries, out_dir / "coverage.png"),
        "selection": plots.plot_selection(summaries, out_dir / "selection.png"),
        "fit": plots.plot_fit(summaries, out_dir / "fit.png"),
        "compute": plots.plot_compute(summaries, out_dir / "compute.png", unit="flops"),
        "cost": plots.plot_compute(summaries, out_dir / "cost.png", unit="dollars"),
    }
    return {k: v for k, v in files.items() if v is not None}


def report_run(run_dir: str | Path, *, console: Console | None = None, out_dir: str | Path | None = None,
               html: bool = False, max_rows: int = 20, extrapolate_to: int | None = None,
               judge_curve: bool = False, select: Any = None) -> dict[str, Any]:
    """Summarize one run: print tables, write report/{coverage,...}.png and summary.json; return the dict.
    `select`: selection pipelines to add (pipeline.named: names, specs, 'NAME=SPEC', or a mapping)."""
    summary = summarize_run(run_dir, extrapolate_to=extrapolate_to, judge_curve=judge_curve, select=select)
    out = Path(out_dir) if out_dir is not None else Path(run_dir) / "report"
    files = write_plots([summary], out)
    if html:
        from monkeys_swe.reports.html import write_html

        files["html"] = write_html(out / "report.html", f"Run {summary['run_id']}", [summary], files)
        from monkeys_swe.reports.attempts_page import write_attempts_page

        files["attempts"] = write_attempts_page(run_dir, out / "attempts.html")  # every attempt, browsable
    files["summary"] = out / "summary.json"
    summary["files"] = {k: str(v) for k, v in files.items()}
    _write_json(files["summary"], summary)
    if console is not None:
        from monkeys_swe.reports.selection_quality import print_quality

        print_run(console, summary, max_rows)
        print_quality(console, summary)
    return summary


def report_runs(run_dirs: Sequence[str | Path], *, out_dir: str | Path, console: Console | None = None,
                html: bool = False, title: str = "Runs", extra: dict[str, Any] | None = None,
                extrapolate_to: int | None = None, labels: Sequence[str] | None = None,
                judge_curve: bool = False, compare: bool = False, select: Any = None) -> dict[str, Any]:
    """Several runs overlaid in one set of plots (each run also gets its own report).
    `compare`: also print their selectors side by side, with intervals and oracle gaps.

    `labels` name the runs in legends and tables (default: model plus what differs between runs).
    """
    if not run_dirs:
        raise UserError("no runs to report")
    summaries = [report_run(d, console=None, extrapolate_to=extrapolate_to, judge_curve=judge_curve, select=select)
                 for d in run_dirs]
    for s, label in zip(summaries, labels or []):
        s["label"] = label
    out = Path(out_dir)
    files = write_plots(summaries, out)
    if html:
        from monkeys_swe.reports.html import write_html

        files["html"] = write_html(out / "report.html", title, summaries, files, extra=extra)
    combined = {"title": title, "runs": summaries, **(extra or {}), "files": {k: str(v) for k, v in files.items()}}
    files["summary"] = out / "summary.json"
    combined["files"]["summary"] = str(files["summary"])
    _write_json(files["summary"], combined)
    if console is not None:
        console.print(runs_table(summaries, title=title))
        table = selection_table(summaries)
        if table is not None:
            console.print(table)
        if compare:
            from monkeys_swe.reports.selection_quality import compare_table

            table = compare_table(summaries)
            if table is not None:
                console.print(table)
        for s in summaries:
            for w in s.get("warnings") or []:
                console.print(f"[yellow]warning:[/] {s.get('label') or s['run_id']}: {w}")
        console.print("wrote: " + ", ".join(str(p) for p in files.values()))
    return combined


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    tmp.replace(path)  # readers never see half a file
