"""How sure a selection number is, and how well a scorer separates right attempts from wrong ones.

- `bootstrap_interval`: the percentile interval of a mean over problems, resampling problems with
  replacement (`RESAMPLES` seeded resamples; a resample is a multinomial count per problem, so
  the means of every curve and every k come from one matrix product and several curves resampled
  with the same counts stay paired, as the oracle gap needs).
- `auc`: the Mann-Whitney statistic, P(score of a right attempt > score of a wrong one), ties 1/2;
  `auc_within`: the same over pairs from one problem only (a scorer's use: rank a problem's attempts).
- `expected_calibration_error`: |mean predicted - fraction right| over equal-width bins, weighted
  by the bins' sizes, of the scores read as probabilities (`as_probability`).
- `top_hit_rate`: over problems with at least one right attempt, how often the top-scored attempt
  is right (ties: the expected value of a uniform tie-break).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.stats import rankdata

RESAMPLES = 1000
LEVEL = 0.95


def bootstrap_weights(problems: int, *, resamples: int = RESAMPLES, seed: int = 0) -> np.ndarray:
    """(resamples, problems) counts: how often each problem is drawn in each resample."""
    rng = np.random.default_rng(seed)
    if problems == 0:
        return np.zeros((resamples, 0))
    return rng.multinomial(problems, np.full(problems, 1.0 / problems), size=resamples).astype(float)


def bootstrap_interval(rows: np.ndarray, weights: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of the mean over problems (rows) at each column: (low, high), each (columns,)."""
    rows = np.asarray(rows, dtype=float)
    if rows.ndim == 1:
        rows = rows[:, None]
    if rows.shape[0] == 0:
        return np.zeros(rows.shape[1]), np.zeros(rows.shape[1])
    means = weights @ rows / rows.shape[0]  # (resamples, columns)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail], axis=0)
    return low, high


def mann_whitney_u(scores: Sequence[float], labels: Sequence[bool]) -> tuple[float, int]:
    """(U: pairs (right, wrong) where the right one scores higher, ties counting 1/2; pairs)."""
    s, y = np.asarray(scores, dtype=float), np.asarray(labels, dtype=bool)
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return 0.0, 0
    ranks = rankdata(s)  # average ranks: a tie counts 1/2 either way
    return float(ranks[y].sum() - pos * (pos + 1) / 2), pos * neg


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve = U / (right x wrong); None without both classes."""
    u, pairs = mann_whitney_u(scores, labels)
    return u / pairs if pairs else None


def auc_within(groups: Sequence[tuple[Sequence[float], Sequence[bool]]]) -> tuple[float | None, int]:
    """AUC over pairs drawn from one group (problem) each: (sum of U / sum of pairs, pairs)."""
    u = pairs = 0
    for scores, labels in groups:
        gu, gp = mann_whitney_u(scores, labels)
        u, pairs = u + gu, pairs + gp
    return (u / pairs if pairs else None), int(pairs)


def as_probability(scores: Sequence[float], scorer: str = "") -> np.ndarray:
    """Scores as probabilities of being right: as they are when all lie in [0, 1]; an LLM judge's
    1-10 grade (scorer 'judge:...') as (grade - 1) / 9; anything else (a reward model's logit) through
    the logistic function, the Bradley-Terry reading of a reward."""
    s = np.asarray(scores, dtype=float)
    if s.size and s.min() >= 0 and s.max() <= 1:
        return s
    if scorer.startswith("judge:") and s.size and s.min() >= 0 and s.max() <= 10:
        return np.clip((s - 1) / 9, 0.0, 1.0)
    return 1.0 / (1.0 + np.exp(-s))


def expected_calibration_error(probs: Sequence[float], labels: Sequence[bool], bins: int = 10) -> float | None:
    """Sum over equal-width bins of (bin size / n) x |mean probability - fraction right| (1.0 in the last bin)."""
    p, y = np.asarray(probs, dtype=float), np.asarray(labels, dtype=float)
    if p.size == 0:
        return None
    which = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in np.unique(which):
        m = which == b
        total += m.sum() / p.size * abs(p[m].mean() - y[m].mean())
    return float(total)


def top_hit_rate(groups: Sequence[tuple[Sequence[float], Sequence[bool]]]) -> tuple[float | None, int]:
    """(how often the top-scored attempt is right, over groups with some right attempt; those groups)."""
    hits, count = 0.0, 0
    for scores, labels in groups:
        s, y = np.asarray(scores, dtype=float), np.asarray(labels, dtype=bool)
        if not y.any():
            continue
        top = s == s.max()
        hits += y[top].mean()
        count += 1
    return (hits / count if count else None), count
