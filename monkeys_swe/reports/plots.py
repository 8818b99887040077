"""PNG plots (matplotlib, Agg: no display needed). Each takes run summaries, so one run and an
overlay of several runs are the same call."""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, Callable, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
from matplotlib.ticker import EngFormatter, FuncFormatter, LogLocator, MaxNLocator, NullFormatter, NullLocator  # noqa: E402

Summary = dict[str, Any]
_COLORS = plt.rcParams["axes.prop_cycle"].by_key()["color"]


def run_label(s: Summary, all_runs: Sequence[Summary]) -> str:
    """Short legend label: the given one (a sweep's cell name), else the model plus what differs."""
    if s.get("label"):
        return str(s["label"])
    label = str(s.get("model"))
    same_model = [r for r in all_runs if r.get("model") == s.get("model")]
    if len(same_model) > 1:
        for key, fmt in (("task", "{}"), ("temperature", "T={}"), ("samples", "N={}")):
            if len({r.get(key) for r in same_model}) > 1:
                label += " " + fmt.format(s.get(key))
    if len({r.get("task") for r in all_runs}) > 1 and s.get("task") not in label:
        label += f" [{s.get('task')}]"
    return label


def _finish(fig, ax, path: Path, title: str, xlabel: str, ylabel: str = "fraction of problems",
            xformat: Callable[[float], str] | None = None) -> Path:
    if not ax.has_data() or not any(len(line.get_xdata()) for line in ax.get_lines()):
        ax.set_xlim(1, 10)  # nothing measured (coverage unknown): an empty log axis
    ax.set_xscale("log")
    lo, hi = ax.get_xlim()
    span = hi / max(lo, 1e-300)
    if xformat is not None and span < 10:  # under a decade, log ticks would be 3.3x10^11, 3.4x10^11...
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.xaxis.set_minor_locator(NullLocator())
    elif span < 100:  # a short log axis: label plain numbers (1, 2, 5...), not 2x10^0
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=range(1, 10) if span < 12 else (1.0, 2.0, 5.0)))
        ax.xaxis.set_minor_formatter(NullFormatter())
    if xformat is not None:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: xformat(v)))
        ax.xaxis.set_minor_formatter(NullFormatter())
    elif lo >= 0.5 and hi < 1e6:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    # Below the axes: with several runs and methods a legend inside would hide the curves.
    handles, labels = ax.get_legend_handles_labels()
    ncol = 2 if len(labels) > 6 else 1
    labels = [textwrap.fill(t, 95 // ncol) for t in labels]
    ax.legend(handles, labels, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=ncol, frameon=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _unknown(ax, s: Summary, label: str) -> bool:
    """A run with no judged attempt: no curve, its legend entry says coverage is unknown."""
    if s.get("coverage_unknown"):
        ax.plot([], [], " ", label=f"{label}: coverage unknown, {s['coverage_unknown']}")
    return bool(s.get("coverage_unknown"))


def plot_coverage(summaries: Sequence[Summary], path: Path) -> Path:
    """Coverage (solid) and majority-vote accuracy (dotted) against k."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, s in enumerate(summaries):
        color, label = _COLORS[i % len(_COLORS)], run_label(s, summaries)
        if _unknown(ax, s, label):
            continue
        ax.plot(s["ks"], s["coverage"], "-o", ms=3, color=color, label=f"{label}: coverage")
        if s["selection"].get("majority vote"):
            ax.plot(s["ks"], s["selection"]["majority vote"], ":", color=color, label=f"{label}: majority vote")
    ax.set_ylim(-0.02, 1.02)
    return _finish(fig, ax, path, "Coverage and majority vote vs. samples", "samples per problem k (log)")


def plot_selection(summaries: Sequence[Summary], path: Path) -> Path:
    """Every selection method beside coverage (the ceiling any selection can reach)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    styles = ["--", ":", "-.", (0, (5, 1, 1, 1)), (0, (1, 2))]
    for i, s in enumerate(summaries):
        color, label = _COLORS[i % len(_COLORS)], run_label(s, summaries)
        if _unknown(ax, s, label):
            continue
        # wide and pale: a selector that reaches coverage (reproduction tests often do) stays visible on it
        ax.plot(s["ks"], s["coverage"], "-", color=color, lw=4, alpha=0.35, label=f"{label}: coverage")
        for j, (name, curve) in enumerate(sorted(s["selection"].items())):
            # one run: a colour per method (several SWE selectors share a style otherwise)
            c = _COLORS[(j + 1) % len(_COLORS)] if len(summaries) == 1 else color
            ax.plot(s["ks"], curve, linestyle=styles[j % len(styles)], color=c, label=f"{label}: {name}")
            band = ((s.get("bootstrap") or {}).get("selectors") or {}).get(name)
            if band and len(summaries) == 1:  # its 95% bootstrap interval over problems
                ax.fill_between(s["ks"], band["low"], band["high"], color=c, alpha=0.12, lw=0)
    ax.set_ylim(-0.02, 1.02)
    return _finish(fig, ax, path, "Selection methods vs. coverage", "samples per problem k (log)")


def plot_fit(summaries: Sequence[Summary], path: Path) -> Path:
    """Measured coverage (points), the fitted exponentiated power law, and its extrapolation (dashed)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, s in enumerate(summaries):
        color, label = _COLORS[i % len(_COLORS)], run_label(s, summaries)
        if _unknown(ax, s, label):
            continue
        ax.plot(s["ks"], s["coverage"], "o", ms=4, color=color, label=f"{label}: measured")
        fit = s.get("fit") or {}
        if fit.get("ok"):
            ax.plot(fit["ks"], fit["coverage"], "-", color=color,
                    label=f"{label}: fit a={fit['a']:.3g} b={fit['b']:.3g} (RMSE {fit['rmse']:.3f})")
            if fit.get("extrapolated_ks"):
                ax.plot(fit["extrapolated_ks"], fit["extrapolated_coverage"], "--", color=color,
                        label=f"{label}: extrapolated to k={fit['extrapolated_ks'][-1]}")
        else:  # say why in the legend, where the reader looks for this run's curve
            ax.plot([], [], " ", label=f"{label}: no fit: {fit.get('error', 'not computed')}")
    ax.set_ylim(-0.02, 1.02)
    return _finish(fig, ax, path, "Coverage fit: log(c) = a * k^b", "samples per problem k (log)")


def plot_compute(summaries: Sequence[Summary], path: Path, *, unit: str = "flops") -> Path | None:
    """Coverage against total inference compute (FLOPs or dollars): the paper's compute-matched view.

    The x value at k is the summary's `flops_at_k` / `dollars_at_k` (see reports.summary._cost:
    prompts once per problem, k samples' decoding). Runs without a known cost are left out;
    None when no run has one.
    """
    key = "flops_at_k" if unit == "flops" else "dollars_at_k"
    summaries = [s for s in summaries if not s.get("coverage_unknown")]
    if not any(s.get(key) for s in summaries):
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, s in enumerate(summaries):
        if s.get(key):
            ax.plot(s[key], s["coverage"], "-o", ms=3, color=_COLORS[i % len(_COLORS)], label=run_label(s, summaries))
    ax.set_ylim(-0.02, 1.02)
    xlabel = f"{'inference FLOPs' if unit == 'flops' else 'USD'} for all problems at k samples each (log)"
    fmt = EngFormatter(places=1) if unit == "flops" else (lambda v: f"${v:.2g}")
    return _finish(fig, ax, path, f"Coverage vs. {'compute' if unit == 'flops' else 'cost'}", xlabel, "coverage",
                   xformat=(lambda v: fmt(v)) if unit == "flops" else fmt)
