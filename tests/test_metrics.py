"""pass@k against exact arithmetic (fractions) and, with majority vote, against brute force over every k-subset."""
from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from fractions import Fraction

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


def exact_pass_at_k(n: int, c: int, k: int) -> Fraction:
    k = min(k, n)
    return 1 - Fraction(math.comb(n - c, k), math.comb(n, k))


def _cases(seed: int, count: int) -> list[tuple[int, int, int]]:
    rng = random.Random(seed)
    cases = [(10000, 1, 1), (10000, 1, 9999), (10000, 9999, 1), (10000, 5000, 5000), (10000, 2, 3),
             (9999, 1, 10000), (10000, 10000, 1), (10000, 0, 7), (1, 1, 1), (2, 1, 1)]
    for _ in range(count):
        n = rng.choice([rng.randint(1, 100), rng.randint(1, 10000), 10000])
        c = rng.choice([rng.randint(0, min(n, 5)), rng.randint(0, n), n - rng.randint(0, min(n, 5))])
        k = rng.choice([rng.randint(1, 10), rng.randint(1, n), int(10 ** rng.uniform(0, 4))])
        cases.append((n, c, k))
    return cases


def test_pass_at_k_within_1e_12_of_exact_fractions():
    # The case: the lgamma form gave 1.0000000103e-4 for n=10000, c=1, k=1.
    assert abs(pass_at_k([10000], [1], 1)[0] - 1e-4) <= 1e-16
    cases = _cases(0, 300)
    worst = 0.0
    for n, c, k in cases:  # one problem at a time
        exact = exact_pass_at_k(n, c, k)
        got = float(pass_at_k([n], [c], k)[0])
        if exact == 0:
            assert got == 0.0, (n, c, k)
            continue
        worst = max(worst, abs(Fraction(got) - exact) / exact)
    assert worst <= 1e-12, worst
    # All problems at once (the vectorized path that reports use), every case's k for every problem.
    ns, cs, ks = (np.array(x) for x in zip(*cases[:60]))
    table = pass_at_k(ns, cs, ks)
    for i, (n, c) in enumerate(zip(ns, cs)):
        for j, k in enumerate(ks):
            exact = exact_pass_at_k(int(n), int(c), int(k))
            assert abs(Fraction(float(table[i, j])) - exact) <= 1e-12 * exact, (n, c, k)


def test_coverage_curve_matches_exact_mean():
    cases = _cases(1, 40)
    ns, cs = [n for n, _, _ in cases], [c for _, c, _ in cases]
    ks = [1, 2, 10, 100, 1000, 10000]
    want = [float(sum(exact_pass_at_k(n, c, k) for n, c in zip(ns, cs)) / len(ns)) for k in ks]
    np.testing.assert_allclose(coverage_curve(ns, cs, ks), want, rtol=1e-12, atol=0)


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
