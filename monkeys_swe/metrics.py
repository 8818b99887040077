"""Coverage and selection metrics over a run's verdicts.

pass@k is the unbiased estimator of Chen et al. (2021): 1 - C(n-c, k) / C(n, k), the chance that
a random k-subset of the n attempts holds at least one of the c correct ones. It is computed in
log space with gammaln, grouped by distinct (n, c), so 5000 problems x 10000 samples take
milliseconds instead of a Python loop over products.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln


def _pass_at_k_by_pair(n, c, k) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pass@k for each distinct (n, c) pair: (values[pair, k], inverse index of each problem, ks)."""
    n = np.asarray(n, dtype=np.int64)
    c = np.asarray(c, dtype=np.int64)
    ks = np.atleast_1d(np.asarray(k, dtype=np.int64))
    if np.any(ks < 1):
        raise ValueError("k must be >= 1")
    if np.any(c > n) or np.any(c < 0):
        raise ValueError("need 0 <= c <= n for every problem")
    # Distinct (n, c) pairs are few (at most n+1 per n), so work on those and scatter back.
    pairs, inverse = np.unique(np.stack([n, c], axis=1), axis=0, return_inverse=True)
    un, uc = pairs[:, 0:1].astype(float), pairs[:, 1:2].astype(float)
    kk = np.minimum(ks[None, :], pairs[:, 0:1]).astype(float)
    fail = un - uc  # attempts that are wrong
    with np.errstate(invalid="ignore"):
        # log C(n-c, k) - log C(n, k) = lgamma(n-c+1) - lgamma(n-c-k+1) - lgamma(n+1) + lgamma(n-k+1)
        log_ratio = gammaln(fail + 1) - gammaln(np.maximum(fail - kk, 0) + 1) - gammaln(un + 1) + gammaln(un - kk + 1)
    value = np.where(fail < kk, 1.0, 1.0 - np.exp(log_ratio))
    value = np.where(pairs[:, 1:2] == 0, 0.0, value)  # no correct attempt (or none at all): exactly 0
    return value, inverse.reshape(-1), ks


def pass_at_k(n: np.ndarray | list[int], c: np.ndarray | list[int], k: int | np.ndarray) -> np.ndarray:
    """Unbiased pass@k per problem. `n`, `c`: attempts and correct attempts per problem.

    With scalar k: an array over problems. With an array of ks: shape (problems, len(ks)).
    k larger than a problem's n is clipped to n (every attempt is drawn).
    """
    value, inverse, _ = _pass_at_k_by_pair(n, c, k)
    out = value[inverse]
    return out[:, 0] if np.ndim(k) == 0 else out


def coverage_curve(n: list[int], c: list[int], ks: list[int] | np.ndarray) -> np.ndarray:
    """Mean pass@k over problems for each k: the paper's coverage (never materializes problems x ks)."""
    if len(n) == 0:
        return np.zeros(len(ks))
    value, inverse, _ = _pass_at_k_by_pair(n, c, np.asarray(ks))
    weights = np.bincount(inverse, minlength=value.shape[0])
    return weights @ value / len(inverse)


def log_spaced_ks(n_max: int, points: int = 40) -> list[int]:
    """Integer ks from 1 to n_max, log-spaced, duplicates removed (as the paper plots them)."""
    if n_max < 1:
        return []
    return sorted({int(round(x)) for x in np.logspace(0, np.log10(n_max), points)} | {1, n_max})


def majority_vote_at_k(
    answers: list[str | None], correct: list[bool], ks: list[int], trials: int = 100, seed: int = 0
) -> np.ndarray:
    """Expected accuracy of majority vote over random k-subsets of one problem's attempts.

    Attempts without an answer don't vote. Ties are broken uniformly at random. Exact for k = n.
    """
    rng = np.random.default_rng(seed)
    n = len(answers)
    out = np.zeros(len(ks))
    if n == 0:
        return out
    # Which answers are correct: an answer is correct iff any attempt giving it was judged correct.
    right = {a for a, ok in zip(answers, correct) if ok and a is not None}
    codes = {a: i for i, a in enumerate(sorted({a for a in answers if a is not None}))}
    coded = np.array([codes.get(a, -1) for a in answers])
    right_codes = {codes[a] for a in right}
    for j, k in enumerate(ks):
        k = min(k, n)
        reps = 1 if k == n else trials
        wins = 0.0
        for _ in range(reps):
            subset = coded[rng.choice(n, size=k, replace=False)] if k < n else coded
            votes = Counter(int(x) for x in subset if x >= 0)
            if not votes:
                continue
            top = max(votes.values())
            leaders = [a for a, v in votes.items() if v == top]
            wins += sum(a in right_codes for a in leaders) / len(leaders)  # expected over tie-breaks
        out[j] = wins / reps
    return out


@dataclass
class ProblemSummary:
    id: str
    attempts: int
    correct: int
    top_answer: str | None
    top_answer_share: float
    reference: str | None


def summarize_problem(pid: str, answers: list[str | None], correct: list[bool], reference: str | None) -> ProblemSummary:
    votes = Counter(a for a in answers if a is not None)
    top, count = votes.most_common(1)[0] if votes else (None, 0)
    return ProblemSummary(pid, len(answers), sum(correct), top, count / max(len(answers), 1), reference)
