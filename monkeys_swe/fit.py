"""The paper's scaling law for coverage: log(c) = a * k**b (an exponentiated power law).

Fitted with scipy's curve_fit on log coverage at log-spaced k (the paper uses 40 log-spaced
points with duplicates removed, so small k doesn't dominate), and judged in coverage space:
RMSE and max absolute error of exp(a * k**b) against the measured points. Curves that carry no
information about the law (all zero: log is -inf; all one: log is 0, any b fits) are refused
with a FitError, which reports show as the reason there is no fit.
"""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from monkeys_swe.errors import UserError
from monkeys_swe.metrics import log_spaced_ks

MIN_POINTS = 3  # two parameters: with two points any curve fits exactly, and says nothing


class FitError(UserError):
    """Why a coverage curve can't be fitted (shown in reports instead of a fit)."""


@dataclass
class CoverageFit:
    a: float
    b: float
    rmse: float  # in coverage space, over the fitted points
    max_abs_error: float
    points: int
    k_max: int  # the largest measured k; predictions beyond it are extrapolations

    def predict(self, ks: Sequence[float] | np.ndarray) -> np.ndarray:
        return np.exp(self.a * np.asarray(ks, dtype=float) ** self.b)


def _law(k: np.ndarray, a: float, b: float) -> np.ndarray:
    return a * k ** b


def fit_coverage(ks: Sequence[int], coverage: Sequence[float], *, points: int = 40) -> CoverageFit:
    """Fit log(c) = a * k**b to a measured coverage curve (ks ascending, coverage in [0, 1])."""
    k = np.asarray(ks, dtype=float)
    c = np.asarray(coverage, dtype=float)
    if k.shape != c.shape or k.ndim != 1:
        raise FitError("ks and coverage must be 1-D and of the same length")
    if np.any((c < 0) | (c > 1)) or np.any(~np.isfinite(c)):
        raise FitError("coverage values must lie in [0, 1]")
    if len(k) and k.max() > 0:  # thin to log-spaced ks, as the paper does
        keep = set(log_spaced_ks(int(k.max()), points))
        mask = np.array([int(x) in keep for x in k])
        k, c = k[mask], c[mask]
    if len(k) < MIN_POINTS:
        raise FitError(f"need coverage at {MIN_POINTS} or more values of k to fit (have {len(k)}): draw more samples")
    if np.all(c == 0):
        raise FitError("coverage is zero at every k: no problem was ever solved, nothing to fit")
    if np.all(c == 1):
        raise FitError("coverage is one at every k: every problem was solved at k=1, nothing to fit")
    use = c > 0  # log(0) is -inf; a pass@k curve is either 0 everywhere or > 0 everywhere
    k, y = k[use], np.log(c[use])
    a0 = min(y[0], -1e-6)
    b0 = float(np.log(max(y[-1], a0 * 1e-6) / a0) / np.log(k[-1])) if k[-1] > 1 and y[-1] < 0 else -0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        try:
            (a, b), _ = curve_fit(_law, k, y, p0=(a0, b0), bounds=([-np.inf, -10.0], [0.0, 10.0]), maxfev=20000)
        except (RuntimeError, ValueError) as exc:
            raise FitError(f"the fit did not converge: {exc}") from None
    pred = np.exp(_law(k, a, b))
    err = pred - np.exp(y)
    return CoverageFit(float(a), float(b), float(np.sqrt(np.mean(err ** 2))), float(np.max(np.abs(err))),
                       int(len(k)), int(np.asarray(ks).max()))


def fit_summary(ks: Sequence[int], coverage: Sequence[float], *, extrapolate_to: int | None = None) -> dict[str, Any]:
    """The fit as report data: the curve over measured ks, and (flagged) beyond them; or the error."""
    try:
        f = fit_coverage(ks, coverage)
    except FitError as exc:
        return {"ok": False, "error": str(exc)}
    k_ext = extrapolate_to or 10 * f.k_max
    measured = np.unique(np.geomspace(1, f.k_max, 60).round().astype(int))
    beyond = np.unique(np.geomspace(f.k_max, max(k_ext, f.k_max), 30).round().astype(int)) if k_ext > f.k_max else []
    return {
        "ok": True, **asdict(f),
        "ks": measured.tolist(), "coverage": f.predict(measured).tolist(),
        "extrapolated_ks": list(map(int, beyond)), "extrapolated_coverage": f.predict(beyond).tolist() if len(beyond) else [],
    }
