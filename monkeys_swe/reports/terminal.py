"""Rich tables for the terminal: one run's summary, its problems, and a sweep's cells."""
from __future__ import annotations

from typing import Any, Sequence

from rich.console import Console
from rich.table import Table

Summary = dict[str, Any]


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _cov(s: Summary, key: str) -> str:
    """A coverage figure; "unknown" when the run has no judged attempt (not "-", not 0%)."""
    return "unknown" if s.get("coverage_unknown") else _pct(s.get(key))


def _num(x: float | None) -> str:
    if x is None:
        return "-"
    for unit, size in (("E", 1e18), ("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= size:
            return f"{x / size:.3g}{unit}"
    return f"{x:.3g}" if isinstance(x, float) else str(x)


def _short(text: Any, width: int = 24) -> str:
    s = "-" if text is None else " ".join(str(text).split())
    return s if len(s) <= width else s[: width - 1] + "…"


def runs_table(summaries: Sequence[Summary], title: str = "Runs") -> Table:
    t = Table(title=title, title_justify="left")
    for col in ("run", "model", "problems", "attempts", "errors", "tokens", "coverage@1", "coverage@N", "majority@N",
                "fit a, b (RMSE)"):
        t.add_column(col, justify="left" if col in ("run", "model") else "right", no_wrap=col == "run")
    notes = []
    for s in summaries:
        fit = s.get("fit") or {}
        fit_cell = f"{fit['a']:.3g}, {fit['b']:.3g} ({fit['rmse']:.3f})" if fit.get("ok") else "no fit*"
        if not fit.get("ok"):
            notes.append(f"* {s.get('label') or s['run_id']}: {fit.get('error', 'not computed')}")
        attempts = f"{s['attempts']}" + (f" ({s['verified']} judged)" if s["verified"] != s["attempts"] else "")
        t.add_row(
            s.get("label") or s["run_id"], _short(s["model"], 28), str(s["problems"]), attempts, str(s.get("errors", 0)),
            _num(s["prompt_tokens"] + s["completion_tokens"]), _cov(s, "coverage_at_1"),
            f"{_cov(s, 'coverage_at_n')} (N={s['samples']})", _cov(s, "majority_at_n"), fit_cell,
        )
    if notes:
        t.caption = "\n".join(notes)
        t.caption_justify = "left"
    return t


def problems_table(s: Summary, max_rows: int = 20) -> Table:
    rows = s["per_problem"]
    title = f"Problems of {s['run_id']}" + (f" (first {max_rows} of {len(rows)})" if len(rows) > max_rows else "")
    t = Table(title=title, title_justify="left")
    for col in ("id", "attempts", "correct", "errors", "top answer", "reference"):
        t.add_column(col, justify="right" if col in ("attempts", "correct", "errors") else "left")
    for r in rows[:max_rows]:
        share = f" ({100 * r['top_answer_share']:.0f}%)" if r["top_answer"] is not None else ""
        t.add_row(_short(r["id"], 32), str(r["attempts"]), str(r["correct"]), str(r.get("errors", 0)),
                  _short(r["top_answer"]) + share, _short(r["reference"]))
    return t


def status_line(statuses: dict[str, int]) -> str:
    """'correct 3, incorrect 9, no_answer 4': every status a run's attempts have, largest first."""
    return ", ".join(f"{k} {v}" for k, v in sorted(statuses.items(), key=lambda kv: (-kv[1], kv[0])))


def run_overview(s: Summary) -> Table:
    """One run as label/value rows: reads well at any terminal width."""
    t = Table(title=f"Run {s['run_id']}", title_justify="left", show_header=False, box=None, padding=(0, 2))
    t.add_column(style="bold")
    t.add_column()
    t.add_row("model", f"{s['model']} ({s['backend']}, temperature {s.get('temperature')})")
    judged = "" if s["verified"] == s["attempts"] else f", {s['verified']} judged"
    judged += f", {s['errors']} errors (not counted)" if s.get("errors") else ""
    t.add_row("attempts", f"{s['attempts']} on {s['problems']} problems{judged}; {s.get('solved', 0)} problems solved")
    if s.get("coverage_unknown") or s.get("unjudged_problems"):
        t.add_row("coverage", f"unknown: {s['coverage_unknown']}" if s.get("coverage_unknown") else
                  f"over {s['problems'] - s['unjudged_problems']} problems ({s['unjudged_problems']} without a judged attempt left out)")
    if s.get("statuses"):
        t.add_row("statuses", status_line(s["statuses"]))
    t.add_row("tokens", f"{_num(s['prompt_tokens'])} prompt, {_num(s['completion_tokens'])} completion")
    if s.get("flops") is not None or s.get("dollars") is not None:
        usd = "" if s.get("dollars") is None else f", ${s['dollars']:.4g}"
        t.add_row("compute", f"{_num(s.get('flops'))} FLOPs{usd}")
    for label, value in cost_rows(s):
        t.add_row(label, value)
    fit = s.get("fit") or {}
    t.add_row("fit", f"log(coverage) = {fit['a']:.3g} * k^{fit['b']:.3g} (RMSE {fit['rmse']:.3f})" if fit.get("ok")
              else f"none: {fit.get('error', 'not computed')}")
    return t


def cost_rows(s: Summary) -> list[tuple[str, str]]:
    """Patch generation and test generation/runs apart (runs with reproduction tests)."""
    rc, jc = s.get("repro_cost"), s.get("judge_curve")

    def line(c: dict) -> str:
        usd = "" if c.get("dollars") is None else f", ${c['dollars']:.4g}"
        return (f"{c['attempts']} attempts, {_num(c['prompt_tokens'])} prompt + {_num(c['completion_tokens'])} "
                f"completion tokens{usd}, sandboxes {c['sandbox_s']:.1f}s")

    rows = [("patch generation", line(rc["patches"])), ("test generation", line(rc["tests"]))] if rc else []
    if jc:  # solve/judge.py's stored decisions behind the judge curve
        rows.append(("judge decisions", f"{jc['decisions']} stored ({jc['calls']} asked this time), "
                                        f"{_num(jc['prompt_tokens'])} prompt + {_num(jc['completion_tokens'])} "
                                        f"completion tokens; curve from up to {jc['subsets_per_k']} subsets per k"))
    return rows


def selection_table(summaries: Sequence[Summary], title: str = "Selection at k (mean over problems)") -> Table | None:
    """Several runs (a sweep): coverage and each selector at k = 1, the middle k and N, one row per run
    and k, for SWE runs (their selectors are solve's); None when there is none."""
    swe = [s for s in summaries if s.get("task") == "swebench" and s.get("selection")]
    if not swe:
        return None
    methods = list(dict.fromkeys(m for s in swe for m in s["selection"]))
    t = Table(title=title, title_justify="left")
    for col in ("run", "k", "pass@k", *methods):
        t.add_column(col, justify="left" if col == "run" else "right")
    for s in swe:
        ks = s["ks"]
        for i in sorted({0, len(ks) // 2, len(ks) - 1}) if ks else []:
            t.add_row(s.get("label") or s["run_id"], str(ks[i]), _pct(s["coverage"][i]),
                      *(_pct(s["selection"][m][i]) if len(s["selection"].get(m, ())) == len(ks) else "-"
                        for m in methods))
    return t


def coverage_table(s: Summary, max_rows: int = 12) -> Table:
    """Coverage and each selection method at k (log-spaced k, thinned to max_rows)."""
    ks = s["ks"]
    rows = min(max_rows, len(ks))
    picks = sorted({round(i * (len(ks) - 1) / max(rows - 1, 1)) for i in range(rows)})
    t = Table(title="Coverage and selection by k", title_justify="left")
    t.add_column("k", justify="right")
    t.add_column("pass@k", justify="right", style="bold")
    methods = [m for m in s.get("selection", {}) if len(s["selection"][m]) == len(ks)]
    for m in methods:
        t.add_column(m.replace("_", " "), justify="right")
    for i in picks:
        t.add_row(str(ks[i]), _pct(s["coverage"][i]), *(_pct(s["selection"][m][i]) for m in methods))
    return t


def print_run(console: Console, s: Summary, max_rows: int = 20) -> None:
    console.print(run_overview(s))
    for w in s.get("warnings") or []:
        console.print(f"[yellow]warning:[/] {w}")
    if s.get("ks"):
        console.print(coverage_table(s))
    console.print(problems_table(s, max_rows))
    if s.get("files"):
        console.print("wrote: " + ", ".join(str(p) for p in s["files"].values()))


def print_sweep(console: Console, cells: Sequence[dict[str, Any]], title: str = "Sweep") -> None:
    """One row per cell: its grid values, status and headline numbers (or its error)."""
    t = Table(title=title, title_justify="left")
    for col in ("cell", "status", "attempts", "tokens", "coverage@1", "coverage@N", "majority@N", "FLOPs", "USD"):
        t.add_column(col, justify="left" if col in ("cell", "status") else "right", no_wrap=col == "cell")
    errors = []
    for c in cells:
        s = c.get("summary") or {}
        status = c["status"] if not c.get("error") else f"[red]{c['status']}[/red]"
        if c.get("error"):
            errors.append(f"[red]{c['name']}[/red]: {c['error']}")
        tokens = s.get("prompt_tokens", 0) + s.get("completion_tokens", 0) if s else None
        t.add_row(
            c["name"], status, str(s.get("attempts", "-")), _num(tokens), _cov(s, "coverage_at_1"),
            _cov(s, "coverage_at_n"), _cov(s, "majority_at_n"), _num(s.get("flops")),
            "-" if s.get("dollars") is None else f"{s['dollars']:.4g}",
        )
    console.print(t)
    for line in errors:
        console.print(line)
