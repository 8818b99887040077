"""Selection measured with its uncertainty: intervals, the oracle gap, and how good each scorer is.

For a run: every selector's selected@k beside coverage@k, each with a percentile bootstrap
interval over problems (uncertainty.RESAMPLES seeded resamples, 95%), and the oracle gap
coverage@k - selected@k with its own interval (the same resamples for both curves: paired).
For every scorer stored in the run: AUC over all scored attempts, AUC within problems, expected
calibration error and the top-1 hit rate, all against the oracle verdicts (errors never count:
load_run leaves them out). The judge curve (an estimate from few subsets) has no interval.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from rich.table import Table

from monkeys_swe import uncertainty as u
from monkeys_swe.metrics import pass_at_k

if TYPE_CHECKING:
    from monkeys_swe.reports.summary import RunData

Summary = dict[str, Any]


def coverage_rows(data: "RunData", ks: Sequence[int]) -> np.ndarray:
    """pass@k per problem: shape (problems, len(ks))."""
    if not data.problems or not ks:
        return np.zeros((len(data.problems), len(ks)))
    return pass_at_k([len(p.answers) for p in data.problems], [sum(p.correct) for p in data.problems], np.asarray(ks))


def intervals(data: "RunData", ks: Sequence[int], matrices: dict[str, np.ndarray], *,
              resamples: int = u.RESAMPLES, seed: int = 0, level: float = u.LEVEL) -> dict[str, Any]:
    """The bootstrap block of the summary: coverage's interval and, per selector, its interval and gap."""
    cov = coverage_rows(data, ks)
    weights = u.bootstrap_weights(cov.shape[0], resamples=resamples, seed=seed)
    low, high = u.bootstrap_interval(cov, weights, level) if len(ks) else (np.zeros(0), np.zeros(0))
    out: dict[str, Any] = {"resamples": resamples, "seed": seed, "level": level, "over": "problems",
                           "problems": int(cov.shape[0]), "coverage": {"low": _floats(low), "high": _floats(high)},
                           "selectors": {}}
    for name, rows in matrices.items():
        if rows.shape != cov.shape:
            continue
        lo, hi = u.bootstrap_interval(rows, weights, level)
        gap = cov - rows
        glo, ghi = u.bootstrap_interval(gap, weights, level)
        out["selectors"][name] = {"low": _floats(lo), "high": _floats(hi), "gap": _floats(gap.mean(axis=0)),
                                  "gap_low": _floats(glo), "gap_high": _floats(ghi)}
    return out


def scorer_quality(data: "RunData") -> dict[str, dict[str, Any]]:
    """Scorer name -> AUC (all attempts, and within problems), ECE, top-1 hit rate, and their counts."""
    out = {}
    for name, table in sorted(data.scores.items()):
        groups = []
        for p in data.problems:
            pairs = [(table[(p.problem.id, i)], ok) for i, ok in zip(p.indices, p.correct) if (p.problem.id, i) in table]
            if pairs:
                groups.append(([s for s, _ in pairs], [ok for _, ok in pairs]))
        scores = [s for g in groups for s in g[0]]
        labels = [y for g in groups for y in g[1]]
        within, pairs = u.auc_within(groups)
        hit, hit_n = u.top_hit_rate(groups)
        ece = u.expected_calibration_error(u.as_probability(scores, name), labels)
        out[name] = {"attempts": len(scores), "right": int(sum(labels)), "auc": u.auc(scores, labels),
                     "auc_within": within, "within_pairs": pairs, "ece": ece, "top1_hit": hit,
                     "top1_problems": hit_n}
    return out


def _floats(a) -> list[float]:
    return [float(x) for x in a]


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _with_interval(x: float, lo: float, hi: float) -> str:
    return f"{100 * x:.1f} [{100 * lo:.1f}, {100 * hi:.1f}]"


def shown_ks(ks: Sequence[int], most: int = 4) -> list[int]:
    """Indices of the ks a table shows: the first, the last and evenly spaced ones between."""
    if not ks:
        return []
    return sorted({int(round(x)) for x in np.linspace(0, len(ks) - 1, min(most, len(ks)))})


def interval_table(s: Summary) -> Table | None:
    """selected@k [interval] per selector, coverage@k [interval] on top, the oracle gap at the largest k."""
    boot = s.get("bootstrap") or {}
    ks, cols = s.get("ks") or [], shown_ks(s.get("ks") or [])
    if not boot or not cols:
        return None
    t = Table(title=f"Selected@k, % [{int(100 * boot['level'])}% bootstrap interval, {boot['resamples']} resamples "
                    f"over {boot['problems']} problems]", title_justify="left")
    t.add_column("selector")
    for j in cols:
        t.add_column(f"k={ks[j]}", justify="right")
    t.add_column(f"oracle gap at k={ks[cols[-1]]}", justify="right")
    cov = boot["coverage"]
    t.add_row("coverage (oracle)", *(_with_interval(s["coverage"][j], cov["low"][j], cov["high"][j]) for j in cols), "")
    for name, b in boot["selectors"].items():
        curve, last = s["selection"][name], cols[-1]
        t.add_row(name, *(_with_interval(curve[j], b["low"][j], b["high"][j]) for j in cols),
                  _with_interval(b["gap"][last], b["gap_low"][last], b["gap_high"][last]))
    return t


def scorer_table(s: Summary) -> Table | None:
    scorers = s.get("scorers") or {}
    if not scorers:
        return None
    t = Table(title="Scorers against the oracle verdicts", title_justify="left")
    for col in ("scorer", "attempts", "right", "AUC", "AUC within problems", "ECE", "top-1 right | some right"):
        t.add_column(col, justify="left" if col == "scorer" else "right")
    for name, q in scorers.items():
        t.add_row(name, str(q["attempts"]), str(q["right"]), _num(q["auc"]), _num(q["auc_within"]), _num(q["ece"]),
                  f"{_pct(q['top1_hit'])} of {q['top1_problems']}")
    return t


def compare_table(summaries: Sequence[Summary]) -> Table | None:
    """Several runs' selectors side by side at each run's largest k: selected [interval] and the gap."""
    runs = [s for s in summaries if s.get("ks")]
    if not runs:
        return None
    t = Table(title="Selectors side by side at k = N, % [95% bootstrap interval] (oracle gap)", title_justify="left")
    t.add_column("selector")
    for s in runs:
        t.add_column(f"{s.get('label') or s['run_id']} (N={s['ks'][-1]})", justify="right")
    names = list(dict.fromkeys(["coverage (oracle)", *(m for s in runs for m in s.get("selection", {}))]))
    for name in names:
        cells = []
        for s in runs:
            boot = s.get("bootstrap") or {}
            if name == "coverage (oracle)":
                c = boot.get("coverage")
                cells.append(_with_interval(s["coverage"][-1], c["low"][-1], c["high"][-1]) if c else _pct(s["coverage"][-1]))
                continue
            curve = s.get("selection", {}).get(name)
            b = (boot.get("selectors") or {}).get(name)
            if not curve:
                cells.append("-")
            elif b:
                cells.append(f"{_with_interval(curve[-1], b['low'][-1], b['high'][-1])} ({100 * b['gap'][-1]:.1f})")
            else:
                cells.append(_pct(curve[-1]))
        t.add_row(name, *cells)
    return t


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def print_quality(console, s: Summary) -> None:
    for table in (interval_table(s), scorer_table(s)):
        if table is not None:
            console.print(table)
