"""The coverage scaling law fit: recovers known parameters, refuses curves with nothing to fit."""
from __future__ import annotations

import numpy as np
import pytest

from monkeys_swe.fit import FitError, fit_coverage, fit_summary
from monkeys_swe.metrics import log_spaced_ks


@pytest.mark.parametrize("a,b", [(-2.0, -0.4), (-0.7, -0.9), (-4.0, -0.15)])
def test_recovers_known_parameters_without_noise(a, b):
    ks = np.arange(1, 10001)
    f = fit_coverage(ks, np.exp(a * ks ** b))
    assert f.a == pytest.approx(a, rel=1e-6) and f.b == pytest.approx(b, rel=1e-6)
    assert f.rmse < 1e-8 and f.points == len(log_spaced_ks(10000, 40))


@pytest.mark.parametrize("seed", range(3))
def test_recovers_known_parameters_with_noise(seed):
    """Noise of 0.005 in coverage (about what 100+ problems give): a within 5%, b within 10%."""
    a, b = -2.0, -0.4
    ks = np.array(log_spaced_ks(10000, 40))
    rng = np.random.default_rng(seed)
    noisy = np.clip(np.exp(a * ks ** b) + rng.normal(0, 0.005, len(ks)), 1e-6, 1)
    f = fit_coverage(ks, noisy)
    assert f.a == pytest.approx(a, rel=0.05) and f.b == pytest.approx(b, rel=0.10)
    assert 0.001 < f.rmse < 0.01 and f.max_abs_error < 0.03


@pytest.mark.parametrize("curve,words", [([0.0] * 8, "zero at every k"), ([1.0] * 8, "one at every k")])
def test_refuses_degenerate_curves(curve, words):
    with pytest.raises(FitError, match=words):
        fit_coverage(list(range(1, 9)), curve)
    summary = fit_summary(list(range(1, 9)), curve)  # what reports show instead of a fit
    assert summary["ok"] is False and words in summary["error"]


def test_refuses_too_few_points_and_bad_values():
    with pytest.raises(FitError, match="3 or more"):
        fit_coverage([1, 2], [0.2, 0.3])
    with pytest.raises(FitError, match=r"\[0, 1\]"):
        fit_coverage([1, 2, 3], [0.2, 1.3, 0.5])


def test_summary_flags_extrapolation_beyond_measured_k():
    ks = list(range(1, 101))
    s = fit_summary(ks, list(np.exp(-1.5 * np.array(ks, float) ** -0.5)), extrapolate_to=1000)
    assert s["ok"] and max(s["ks"]) == 100
    assert s["extrapolated_ks"][0] == 100 and s["extrapolated_ks"][-1] == 1000
    assert s["extrapolated_coverage"][-1] == pytest.approx(np.exp(-1.5 * 1000 ** -0.5), rel=1e-5)
