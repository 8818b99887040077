"""pass@k for 5000 problems x 10000 samples: target under 1 s.

Baseline, measured in the same run: the reference estimator of Chen et al. (2021) — a Python
loop over problems, each `1 - prod(1 - k / arange(n - c + 1, n + 1))` — at the same ks. It also
prints the largest relative error against exact arithmetic (fractions) on random (n, c, k).

    .venv/bin/python benchmarks/passk_speed.py [--problems 5000] [--samples 10000]
"""
from __future__ import annotations

import argparse
import math
import random
import time
from fractions import Fraction

import numpy as np

from monkeys_swe.metrics import coverage_curve, log_spaced_ks, pass_at_k


def chen_pass_at_k(n: int, c: int, k: int) -> float:
    if n - c < k:
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", type=int, default=5000)
    ap.add_argument("--samples", type=int, default=10000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n = np.full(args.problems, args.samples)
    # A realistic spread: many unsolved problems, the rest with success rates over orders of magnitude.
    p = np.where(rng.random(args.problems) < 0.3, 0.0, 10 ** rng.uniform(-4, 0, args.problems))
    c = rng.binomial(n, p)
    ks = log_spaced_ks(args.samples, 40)

    t0 = time.perf_counter()
    ours = coverage_curve(n, c, ks)
    t_ours = time.perf_counter() - t0

    t0 = time.perf_counter()
    base = np.array([[chen_pass_at_k(int(ni), int(ci), k) for k in ks] for ni, ci in zip(n, c)]).mean(axis=0)
    t_base = time.perf_counter() - t0

    err = float(np.max(np.abs(ours - base)))
    print(f"problems={args.problems} samples={args.samples} ks={len(ks)} (log-spaced 1..{args.samples})")
    print(f"monkeys_swe coverage_curve:  {t_ours:.3f} s   (target < 1 s)")
    print(f"baseline Chen et al. loop:     {t_base:.3f} s")
    print(f"speedup: {t_base / t_ours:.1f}x   max |difference| in coverage: {err:.2e}")
    t0 = time.perf_counter()
    coverage_curve(n, c, np.arange(1, args.samples + 1))
    print(f"coverage at every k=1..{args.samples}: {time.perf_counter() - t0:.3f} s")
    t0 = time.perf_counter()
    per_problem = pass_at_k(n, c, 100)
    print(f"pass@100 per problem ({per_problem.shape[0]} values): {time.perf_counter() - t0:.3f} s")
    print(f"max relative error against exact fractions, 200 random (n, c, k), n <= {args.samples}: "
          f"{max_relative_error(args.samples):.1e}   (target <= 1e-12)")


def max_relative_error(n_max: int, cases: int = 200) -> float:
    rng, worst = random.Random(0), 0.0
    for _ in range(cases):
        n = rng.randint(1, n_max)
        c, k = rng.randint(1, n), int(10 ** rng.uniform(0, math.log10(n))) if n > 1 else 1
        exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
        worst = max(worst, float(abs(Fraction(float(pass_at_k([n], [c], k)[0])) - exact) / exact))
    return worst


if __name__ == "__main__":
    main()
