"""Coverage and selection metrics over a run's verdicts.

pass@k is the unbiased estimator of Chen et al. (2021): 1 - C(n-c, k) / C(n, k), the chance that
a random k-subset of the n attempts holds at least one of the c correct ones. The ratio is the
product prod_{i=n-c+1..n} (1 - k/i) (equally prod_{i=n-k+1..n} (1 - c/i)), summed in log space
and turned back with expm1, so small values keep their relative precision (within 1e-12 of exact
arithmetic up to n = 10,000; the lgamma form lost up to 1e-7). Vectorized: for each distinct n,
one cumulative sum over i gives the value for every c (or every k) at once.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

_BLOCK = 128  # cumulative sums in blocks: rounding error grows with BLOCK + terms/BLOCK, not terms
_CHUNK = 1 << 22  # floats per working array (32 MiB)


def _blocked_cumsum(a: np.ndarray) -> np.ndarray:
    """Cumulative sum along the last axis; for same-sign terms the relative error stays within
    (BLOCK + m/BLOCK + 2) ulps (about 200 for m = 10,000) where np.cumsum's grows like m."""
    m = a.shape[-1]
    blocks = -(-m // _BLOCK)
    padded = np.zeros(a.shape[:-1] + (blocks * _BLOCK,))
    padded[..., :m] = a
    within = padded.reshape(a.shape[:-1] + (blocks, _BLOCK)).cumsum(axis=-1)
    offsets = within[..., -1].cumsum(axis=-1)
    within[..., 1:, :] += offsets[..., :-1, None]
    return within.reshape(padded.shape)[..., :m]


def _log_factors(n: int, x: np.ndarray, terms: int) -> np.ndarray:
    """log(1 - x/i) for i = n, n-1, ..., n-terms+1 (one row per x); 0 where x >= i (never read)."""
    i = (n - np.arange(terms, dtype=np.float64))[None, :]
    x = x.astype(np.float64)[:, None]
    ratio = x / i
    far = ratio > 0.5
    value = np.log1p(-np.minimum(ratio, 0.5))  # exact near 0 ...
    # ... near 1, (i - x) / i (an exact integer over i) keeps the precision
    np.log((i - x) / i, out=value, where=far & (x < i))
    value[x >= i] = 0.0
    return value


def _log_ratio(n: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """S[r, j] = sum_{t < cols[j]} log(1 - rows[r] / (n - t)): log C(n-c, k)/C(n, k) with
    (rows, cols) = (ks, cs) or, by symmetry, (cs, ks). cols >= 1."""
    terms = int(cols.max())
    out = np.empty((len(rows), len(cols)))
    step = max(1, _CHUNK // terms)
    for start in range(0, len(rows), step):
        sums = _blocked_cumsum(_log_factors(n, rows[start:start + step], terms))
        out[start:start + step] = sums[:, cols - 1]
    return out


def _pass_at_k_one_n(n: int, cs: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """pass@k for attempts `n`, rows `cs` (correct counts), columns `ks` (already clipped to n)."""
    value = np.zeros((len(cs), len(ks)))
    live = cs > 0
    if n == 0 or not live.any():
        return value
    c = cs[live]
    # The same table two ways; take the cheaper cumulative sum (len(ks) x max c or len(cs) x max k).
    if len(ks) * c.max() <= len(c) * ks.max():
        log_ratio = _log_ratio(n, ks, c).T
    else:
        log_ratio = _log_ratio(n, c, ks)
    certain = (n - c)[:, None] < ks[None, :]  # fewer wrong attempts than draws: a correct one is drawn
    value[live] = np.where(certain, 1.0, -np.expm1(log_ratio))
    return value


def _pass_at_k_by_pair(n, c, k) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pass@k for each distinct (n, c) pair: (values[pair, k], inverse index of each problem, ks)."""
    n = np.asarray(n, dtype=np.int64).reshape(-1)
    c = np.asarray(c, dtype=np.int64).reshape(-1)
    ks = np.atleast_1d(np.asarray(k, dtype=np.int64))
    if np.any(ks < 1):
        raise ValueError("k must be >= 1")
    if np.any(c > n) or np.any(c < 0):
        raise ValueError("need 0 <= c <= n for every problem")
    # Distinct (n, c) pairs are few (at most n+1 per n), so work on those and scatter back.
    pairs, inverse = np.unique(np.stack([n, c], axis=1), axis=0, return_inverse=True)
    value = np.zeros((len(pairs), len(ks)))
    starts = np.flatnonzero(np.diff(pairs[:, 0], prepend=-1))  # pairs come sorted by n, then c
    for start, end in zip(starts, [*starts[1:], len(pairs)]):
        each_n = int(pairs[start, 0])
        value[start:end] = _pass_at_k_one_n(each_n, pairs[start:end, 1], np.minimum(ks, each_n))
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
