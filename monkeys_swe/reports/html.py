"""One self-contained HTML page: the plots inlined as base64 PNGs, the tables as HTML.

No scripts, no external requests: it opens from disk, from an email, or from a CI artifact.
"""
from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any, Sequence

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f3f3f3} td.l,th.l{text-align:left}
.plots{display:flex;flex-wrap:wrap;gap:1em} figure{margin:0} img{max-width:580px;border:1px solid #ddd}
.err{color:#a00} details{margin:0.5em 0}
"""


def _pct(x: Any) -> str:
    return "-" if x is None else f"{100 * float(x):.1f}%"


def _cov(s: dict[str, Any], key: str) -> str:
    return "unknown" if s.get("coverage_unknown") else _pct(s.get(key))


def _cell(value: Any, left: bool = False, cls: str = "") -> str:
    classes = " ".join(c for c in ("l" if left else "", cls) if c)
    return f"<td class='{classes}'>" + html.escape("-" if value is None else str(value)) + "</td>"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    head = "".join(f"<th class='{'l' if i < left else ''}'>{html.escape(h)}</th>" for i, h in enumerate(headers))
    return f"<table><tr>{head}</tr>" + "".join(f"<tr>{''.join(r)}</tr>" for r in rows) + "</table>"


def _runs_table(summaries: Sequence[dict[str, Any]]) -> str:
    rows = []
    for s in summaries:
        fit = s.get("fit") or {}
        fit_text = f"a={fit['a']:.3g}, b={fit['b']:.3g}, RMSE {fit['rmse']:.3f}" if fit.get("ok") else fit.get("error")
        rows.append([
            _cell(s.get("label") or s["run_id"], True), _cell(s["model"], True), _cell(s["task"], True), _cell(s["problems"]),
            _cell(s["attempts"]), _cell(s.get("errors", 0), cls="err" if s.get("errors") else ""),
            _cell(s["prompt_tokens"] + s["completion_tokens"]), _cell(_cov(s, "coverage_at_1")),
            _cell(f"{_cov(s, 'coverage_at_n')} (N={s['samples']})"), _cell(_cov(s, "majority_at_n")),
            _cell(fit_text, True, "" if fit.get("ok") else "err"),
        ])
    return _table(["run", "model", "task", "problems", "attempts", "errors", "tokens", "coverage@1", "coverage@N",
                   "majority@N", "fit log(c)=a*k^b"], rows, left=3)


def _problems(s: dict[str, Any]) -> str:
    rows = [[_cell(r["id"], True), _cell(r["attempts"]), _cell(r["correct"]), _cell(r.get("errors", 0)),
             _cell(r["top_answer"], True), _cell(r["reference"], True)] for r in s["per_problem"]]
    body = _table(["id", "attempts", "correct", "errors", "top answer", "reference"], rows)
    return f"<details><summary>Problems of {html.escape(s['run_id'])} ({len(rows)})</summary>{body}</details>"


def _selection(s: dict[str, Any]) -> str:
    """A SWE run's selectors at every k beside coverage (mean over its instances)."""
    names = [m for m, c in s["selection"].items() if len(c) == len(s["ks"])]
    rows = [[_cell(k), _cell(_pct(s["coverage"][i])), *(_cell(_pct(s["selection"][m][i])) for m in names)]
            for i, k in enumerate(s["ks"])]
    return (f"<h2>Selection of {html.escape(s.get('label') or s['run_id'])} by k ({s['problems']} instances)</h2>"
            + _table(["k", "pass@k", *names], rows, left=0))


def _rich(table) -> str:
    """A rich Table (the terminal report's) as an HTML table: one source for both."""
    if table is None:
        return ""
    headers = [str(c.header) for c in table.columns]
    rows = [[_cell(v, i == 0) for i, v in enumerate(r)] for r in zip(*(list(c.cells) for c in table.columns))]
    title = f"<h2>{html.escape(str(table.title))}</h2>" if table.title else ""
    return title + _table(headers, rows)


def _quality(s: dict[str, Any]) -> str:
    """Selected@k with bootstrap intervals and the oracle gap, and each scorer's AUC/ECE/top-1."""
    from monkeys_swe.reports.selection_quality import interval_table, scorer_table

    return _rich(interval_table(s)) + _rich(scorer_table(s))


def _cells(cells: Sequence[dict[str, Any]]) -> str:
    rows = [[_cell(c["name"], True), _cell(c["status"], True, "err" if c.get("error") else ""),
             _cell(c.get("error") or "", True)] for c in cells]
    return "<h2>Sweep cells</h2>" + _table(["cell", "status", "error"], rows, left=3)


def write_html(path: Path, title: str, summaries: Sequence[dict[str, Any]], images: dict[str, Path],
               extra: dict[str, Any] | None = None) -> Path:
    figures = []
    for name, img in images.items():
        if Path(img).suffix != ".png":
            continue
        data = base64.b64encode(Path(img).read_bytes()).decode()
        figures.append(f"<figure><img alt='{html.escape(name)}' src='data:image/png;base64,{data}'>"
                       f"<figcaption>{html.escape(name)}</figcaption></figure>")
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
        _runs_table(summaries),
        *(f"<p class='err'>warning: {html.escape(s.get('label') or s['run_id'])}: {html.escape(w)}</p>"
          for s in summaries for w in s.get("warnings") or []),
        "<p>Coverage is the unbiased pass@k averaged over problems; selection curves are the expected success "
        "of each selector's pick over k-subsets (every subset where there are at most 2000, else 100 random ones; "
        "a judge curve, marked est., from at most 20 per k). "
        "Dashed fit lines beyond the largest measured k are extrapolated.</p>",
        f"<div class='plots'>{''.join(figures)}</div>",
    ]
    for s in summaries:  # reproduction tests and judge decisions: what they cost, apart from patches
        from monkeys_swe.reports.terminal import cost_rows

        rows = [[_cell(k, True), _cell(v, True)] for k, v in cost_rows(s)]
        if rows:
            parts.append(f"<h2>Cost of {html.escape(s.get('label') or s['run_id'])}: patches, reproduction tests, "
                         f"judge</h2>" + _table(["", ""], rows, left=2))
    parts += [_selection(s) for s in summaries if s.get("task") == "swebench" and s.get("selection")]
    parts += [_quality(s) for s in summaries]
    if extra and extra.get("cells"):
        parts.append(_cells(extra["cells"]))
    parts += [_problems(s) for s in summaries]
    parts.append("</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
