"""pass@k and majority vote against brute force over every k-subset, on small random cases."""
from __future__ import annotations

import itertools
import random
from collections import Counter

import numpy as np
import pytest

from monkeys_swe.metrics import coverage_curve, log_spaced_ks, majority_vote_at_k, pass_at_k


def brute_pass_at_k(n: int, c: int, k: int) -> float:
    """Fraction of k-subsets of n attempts (c of them correct) that hold a correct one."""
    attempts = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), min(k, n)))
    return sum(any(attempts[i] for i in s) for s in subsets) / len(subsets)


def brute_majority(answers: list[str | None], correct: list[bool], k: int) -> float:
    """Exact expected majority-vote accuracy over all k-subsets, ties split evenly."""
    right = {a for a, ok in zip(answers, correct) if ok and a is not None}
    total, subsets = 0.0, list(itertools.combinations(range(len(answers)), k))
    for s in subsets:
        votes = Counter(answers[i] for i in s if answers[i] is not None)
        if votes:
            top = max(votes.values())
            leaders = [a for a, v in votes.items() if v == top]
            total += sum(a in right for a in leaders) / len(leaders)
    return total / len(subsets)


def test_pass_at_k_equals_enumeration_on_random_cases():
    rng = random.Random(0)
    for _ in range(60):
        n = rng.randint(1, 11)
        c = rng.randint(0, n)
        ks = list(range(1, n + 3))  # including k > n (clipped to n: every attempt drawn)
        got = pass_at_k([n], [c], np.array(ks))[0]
        want = [brute_pass_at_k(n, c, k) for k in ks]
        np.testing.assert_allclose(got, want, atol=1e-12, err_msg=f"n={n} c={c}")


def test_pass_at_k_vectorized_over_problems_matches_per_problem():
    rng = np.random.default_rng(1)
    n = rng.integers(1, 40, size=200)
    c = np.array([rng.integers(0, x + 1) for x in n])
    ks = log_spaced_ks(40)
    table = pass_at_k(n, c, np.array(ks))
    for i in rng.choice(len(n), size=10, replace=False):
        np.testing.assert_allclose(table[i], [pass_at_k([n[i]], [c[i]], k)[0] for k in ks], atol=1e-12)
    np.testing.assert_allclose(coverage_curve(list(n), list(c), ks), table.mean(axis=0))


def test_pass_at_k_rejects_impossible_counts():
    with pytest.raises(ValueError):
        pass_at_k([3], [4], 1)
    with pytest.raises(ValueError):
        pass_at_k([3], [1], 0)


@pytest.mark.parametrize("seed", range(6))
def test_majority_vote_matches_enumeration_on_tiny_cases(seed):
    rng = random.Random(seed)
    n = rng.randint(3, 7)
    pool = ["1", "2", "3", None]
    answers = [rng.choice(pool) for _ in range(n)]
    correct = [a == "1" for a in answers]
    ks = list(range(1, n + 1))
    got = majority_vote_at_k(answers, correct, ks, trials=4000, seed=seed)
    want = [brute_majority(answers, correct, k) for k in ks]
    # 4000 trials of a [0,1] variable: standard error <= 0.008; exact at k = n.
    np.testing.assert_allclose(got, want, atol=0.04, err_msg=f"answers={answers}")
    assert got[-1] == pytest.approx(want[-1], abs=1e-12)


def test_log_spaced_ks_are_unique_and_span_the_range():
    ks = log_spaced_ks(10000, 40)
    assert ks[0] == 1 and ks[-1] == 10000 and ks == sorted(set(ks)) and len(ks) <= 41
    assert log_spaced_ks(5) == [1, 2, 3, 4, 5]
