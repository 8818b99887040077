"""Selection with its uncertainty: bootstrap intervals and AUC against exact computations, and the
report's intervals, oracle gaps and scorer quality on a real store."""
from __future__ import annotations

import itertools
import json
import random
from collections import Counter
from math import factorial

import numpy as np
import pytest
from rich.console import Console

from monkeys_swe import uncertainty as u
from monkeys_swe.reports import report_run
from monkeys_swe.store import Store
from monkeys_swe.types import Problem, Sample, Verdict
from tests.conftest import cli
from tests.test_report import make_run


def brute_u(scores, labels):
    """Mann-Whitney by counting pairs: right above wrong 1, tie 1/2."""
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    return sum(1.0 if p > q else 0.5 if p == q else 0.0 for p in pos for q in neg), len(pos) * len(neg)


@pytest.mark.parametrize("seed", range(6))
def test_auc_is_the_mann_whitney_pair_count(seed):
    rng = random.Random(seed)
    n = rng.randint(2, 12)
    scores = [rng.choice([0.1, 0.5, 0.5, 2.0, 3.0, -1.0]) for _ in range(n)]  # ties on purpose
    labels = [rng.random() < 0.5 for _ in range(n)]
    count, pairs = brute_u(scores, labels)
    got = u.auc(scores, labels)
    if pairs == 0:
        assert got is None
    else:
        assert got == pytest.approx(count / pairs, abs=1e-12)
    # Within problems: only pairs inside one group count.
    groups = [(scores[: n // 2], labels[: n // 2]), (scores[n // 2:], labels[n // 2:])]
    c1, p1 = brute_u(*groups[0])
    c2, p2 = brute_u(*groups[1])
    within, pairs_within = u.auc_within(groups)
    assert pairs_within == p1 + p2
    assert within == (None if p1 + p2 == 0 else pytest.approx((c1 + c2) / (p1 + p2), abs=1e-12))


def test_auc_extremes():
    assert u.auc([3, 2, 1, 0], [True, True, False, False]) == 1.0
    assert u.auc([0, 1, 2, 3], [True, True, False, False]) == 0.0
    assert u.auc([1, 1, 1, 1], [True, False, True, False]) == 0.5


def _enumerated(values):
    """Every equally likely resample of len(values) problems: (count vectors, their means)."""
    n = len(values)
    draws = list(itertools.product(range(n), repeat=n))
    weights = np.array([np.bincount(d, minlength=n) for d in draws], dtype=float)
    means = np.array([np.mean([values[i] for i in d]) for d in draws])
    return weights, means


def test_bootstrap_interval_is_the_exact_percentile_over_every_resample():
    values = np.array([0.0, 0.0, 0.25, 1.0, 1.0])  # 5^5 = 3125 resamples, all enumerable
    weights, means = _enumerated(values)
    low, high = u.bootstrap_interval(values, weights, level=0.9)
    want = np.percentile(means, [5, 95])
    assert (low[0], high[0]) == pytest.approx(tuple(want), abs=1e-12)


def test_seeded_resamples_follow_the_exact_bootstrap_distribution():
    values = np.array([0.0, 1.0, 1.0, 1.0])
    # Exact: the mean is (#draws of a 1)/4, #draws ~ Binomial(4, 3/4).
    exact = {j / 4: factorial(4) / (factorial(j) * factorial(4 - j)) * 0.75 ** j * 0.25 ** (4 - j) for j in range(5)}
    w = u.bootstrap_weights(4, resamples=20000, seed=7)
    assert (w.sum(axis=1) == 4).all()
    got = Counter(np.round(w @ values / 4, 6))
    for mean, p in exact.items():
        assert got[round(mean, 6)] / 20000 == pytest.approx(p, abs=0.012)
    # Percentiles at levels away from the atoms' cumulative probabilities land on the exact atoms:
    # P(mean <= 0.5) = 0.262, P(mean <= 0.75) = 0.684 -> the 10% point is 0.5, the 90% point 1.0.
    low, high = u.bootstrap_interval(values, w, level=0.8)
    assert (low[0], high[0]) == (0.5, 1.0)
    assert (u.bootstrap_weights(4, seed=7) == u.bootstrap_weights(4, seed=7)).all()  # seeded


def test_ece_and_top_hit_by_hand():
    # Bin [0.2, 0.3): p 0.2, 0.2 with 0 of 2 right -> |0.2 - 0| ; bin [0.9, 1]: 0.9, 1.0 with 2 right -> |0.95 - 1|
    assert u.expected_calibration_error([0.2, 0.2, 0.9, 1.0], [False, False, True, True]) == pytest.approx(
        0.5 * 0.2 + 0.5 * 0.05)
    assert u.expected_calibration_error([], []) is None
    groups = [([3, 3, 1], [True, False, False]),  # a tie at the top: half right
              ([5, 1], [False, True]),  # the top is wrong
              ([2, 2], [False, False])]  # no right attempt: not counted
    assert u.top_hit_rate(groups) == (pytest.approx(0.25), 2)
    assert u.as_probability([1, 10, 5.5], "judge:x").tolist() == pytest.approx([0, 1, 0.5])
    assert u.as_probability([-2.0, 0.0, 0.5], "rm:x").tolist() == pytest.approx(
        [1 / (1 + np.exp(2)), 0.5, 1 / (1 + np.exp(-0.5))])  # a logit, through the logistic function


def _scored_run(tmp_path):
    run = make_run(tmp_path / "run", {
        "a": [("7", True), ("3", False), ("3", False), ("3", False)],
        "b": [("7", True), ("7", True), ("1", False), (None, False)],
        "c": [("2", False), ("2", False), (None, False), ("5", False)],
    })
    store = Store(run, create=False)
    # An error verdict: left out of every n, scorers included (its score is never read).
    store.add_sample(Sample("a", 4, "#### 9", 0, 1, 4, 0.1))
    store.add_verdict("a", 4, Verdict(False, "error", None, {"error": "verifier down"}))
    scores = {("a", 0): 0.9, ("a", 1): 0.2, ("a", 2): 0.2, ("a", 3): 0.4, ("a", 4): 5.0,
              ("b", 0): 0.3, ("b", 1): 0.8, ("b", 2): 0.6, ("b", 3): 0.1,
              ("c", 0): 0.5, ("c", 1): 0.5, ("c", 2): 0.1, ("c", 3): 0.7}
    for (pid, i), s in scores.items():
        store.add_score(pid, i, "rm:toy", s)
    store.close()
    return run, scores


def test_report_gives_intervals_gaps_and_scorer_quality(tmp_path):
    run, scores = _scored_run(tmp_path)
    console = Console(record=True, width=200)
    s = report_run(run, console=console)
    boot = s["bootstrap"]
    assert boot["resamples"] == u.RESAMPLES and boot["problems"] == 3 and boot["level"] == 0.95
    cov = boot["coverage"]
    for j in range(len(s["ks"])):
        assert cov["low"][j] - 1e-12 <= s["coverage"][j] <= cov["high"][j] + 1e-12
    assert set(boot["selectors"]) == {"majority vote", "best-of-N (rm:toy)", "RM-weighted vote (rm:toy)"}
    for name, b in boot["selectors"].items():
        np.testing.assert_allclose(b["gap"], np.array(s["coverage"]) - np.array(s["selection"][name]), atol=1e-12)
        assert all(lo <= hi for lo, hi in zip(b["low"], b["high"]))
    # best-of-N at k = N picks a0 (right), b1 (right), c3 (wrong): 2/3; coverage 2/3: gap 0.
    assert s["selection"]["best-of-N (rm:toy)"][-1] == pytest.approx(2 / 3)
    assert boot["selectors"]["best-of-N (rm:toy)"]["gap"][-1] == pytest.approx(0.0)
    q = s["scorers"]["rm:toy"]
    kept = [k for k in scores if k != ("a", 4)]
    right = {("a", 0), ("b", 0), ("b", 1)}
    count, pairs = brute_u([scores[k] for k in kept], [k in right for k in kept])
    assert q["attempts"] == 12 and q["right"] == 3 and q["auc"] == pytest.approx(count / pairs)
    # within: a: 0.9 beats 3 wrong (3 of 3); b: 0.3 beats 0.1 only, 0.8 beats both (3 of 4) -> 6/7
    assert q["auc_within"] == pytest.approx(6 / 7) and q["within_pairs"] == 7
    assert q["top1_hit"] == 1.0 and q["top1_problems"] == 2
    out = console.export_text()
    assert "bootstrap interval" in out and "oracle gap" in out and "AUC" in out
    assert f"{q['auc']:.3f}" in out
    assert json.loads((run / "report" / "summary.json").read_text())["scorers"]["rm:toy"]["auc"] == q["auc"]
    page = report_run(run, console=Console(record=True), html=True) and (run / "report" / "report.html").read_text()
    assert "bootstrap interval" in page and "oracle gap" in page and f"{q['auc']:.3f}" in page  # the HTML too


def test_cli_compare_puts_runs_side_by_side(tmp_path):
    a = make_run(tmp_path / "a", {p: [("7", i % 3 == 0) for i in range(6)] for p in "xyz"}, model="model-a")
    b = make_run(tmp_path / "b", {p: [(str(i % 2), i % 2 == 0) for i in range(6)] for p in "xyz"}, model="model-b")
    proc = cli("report", str(a), str(b), "--compare", "--out", str(tmp_path / "both"), check=True)
    assert "Selectors side by side" in proc.stdout and "majority vote" in proc.stdout
    assert "coverage (oracle)" in proc.stdout
    proc = cli("report", str(a), "--compare")
    assert proc.returncode == 2 and "--compare needs at least two runs" in proc.stderr
