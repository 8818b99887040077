"""PNG plots (matplotlib, Agg: no display needed). Each takes run summaries, so one run and an
overlay of several runs are the same call."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

Summary = dict[str, Any]
_COLORS = plt.rcParams["axes.prop_cycle"].by_key()["color"]


def run_label(s: Summary, all_runs: Sequence[Summary]) -> str:
    """Short legend label: the model, plus what differs between runs of the same model."""
    label = str(s.get("model"))
    same_model = [r for r in all_runs if r.get("model") == s.get("model")]
    if len(same_model) > 1:
        for key, fmt in (("task", "{}"), ("temperature", "T={}"), ("samples", "N={}")):
            if len({r.get(key) for r in same_model}) > 1:
                label += " " + fmt.format(s.get(key))
    if len({r.get("task") for r in all_runs}) > 1 and s.get("task") not in label:
        label += f" [{s.get('task')}]"
    return label


def _finish(fig, ax, path: Path, title: str, xlabel: str, ylabel: str = "fraction of problems") -> Path:
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_coverage(summaries: Sequence[Summary], path: Path) -> Path:
    """Coverage (solid) and majority-vote accuracy (dotted) against k."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, s in enumerate(summaries):
        color, label = _COLORS[i % len(_COLORS)], run_label(s, summaries)
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
        ax.plot(s["ks"], s["coverage"], "-", color=color, lw=2, label=f"{label}: coverage")
        for j, (name, curve) in enumerate(sorted(s["selection"].items())):
            ax.plot(s["ks"], curve, linestyle=styles[j % len(styles)], color=color, label=f"{label}: {name}")
    ax.set_ylim(-0.02, 1.02)
    return _finish(fig, ax, path, "Selection methods vs. coverage", "samples per problem k (log)")


def plot_fit(summaries: Sequence[Summary], path: Path) -> Path:
    """Measured coverage (points), the fitted exponentiated power law, and its extrapolation (dashed)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    notes = []
    for i, s in enumerate(summaries):
        color, label = _COLORS[i % len(_COLORS)], run_label(s, summaries)
        ax.plot(s["ks"], s["coverage"], "o", ms=4, color=color, label=f"{label}: measured")
        fit = s.get("fit") or {}
        if fit.get("ok"):
            ax.plot(fit["ks"], fit["coverage"], "-", color=color,
                    label=f"{label}: fit a={fit['a']:.3g} b={fit['b']:.3g} (RMSE {fit['rmse']:.3f})")
            if fit.get("extrapolated_ks"):
                ax.plot(fit["extrapolated_ks"], fit["extrapolated_coverage"], "--", color=color,
                        label=f"{label}: extrapolated to k={fit['extrapolated_ks'][-1]}")
        else:
            notes.append(f"{label}: no fit ({fit.get('error', 'not computed')})")
    if notes:
        ax.text(0.02, 0.98, "\n".join(notes), transform=ax.transAxes, va="top", fontsize=7, color="darkred", wrap=True)
    ax.set_ylim(-0.02, 1.02)
    return _finish(fig, ax, path, "Coverage fit: log(c) = a * k^b", "samples per problem k (log)")


def plot_compute(summaries: Sequence[Summary], path: Path, *, unit: str = "flops") -> Path | None:
    """Coverage against total inference compute (FLOPs or dollars): the paper's compute-matched view.

    The cost of the curve's point at k is the run's measured total scaled by k/N (attempts are
    independent draws, so k of N per problem cost k/N of the whole on average). Runs without a
    known cost are left out; None when no run has one.
    """
    key = "flops" if unit == "flops" else "dollars"
    usable = [s for s in summaries if s.get(key)]
    if not usable:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, s in enumerate(summaries):
        if not s.get(key):
            continue
        n = max(s["samples"], 1)
        x = [s[key] * k / n for k in s["ks"]]
        ax.plot(x, s["coverage"], "-o", ms=3, color=_COLORS[i % len(_COLORS)], label=run_label(s, summaries))
    ax.set_ylim(-0.02, 1.02)
    xlabel = "total inference FLOPs (log)" if key == "flops" else "total cost in USD (log)"
    return _finish(fig, ax, path, f"Coverage vs. {'compute' if key == 'flops' else 'cost'}", xlabel, "coverage")
