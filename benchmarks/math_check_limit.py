"""No MATH equivalence check takes longer than its limit plus 1 s, on any thread and through Ray.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/math_check_limit.py [--limit 3] [--rounds 3] [--no-ray]

The pathological answer `9^{9^{9^{9}}}` (sympy would try to evaluate a power tower) against the
reference `2`, called
- from the main thread (answers_equivalent),
- from a non-main thread (before this check ran in worker processes, math-verify's SIGALRM
  timeouts were off there: it did not return in 60 s and held the GIL),
- through the Ray path (MathTask.verify in a NodeVerifier actor's thread, via RayTaskVerifyPool:
  the actor-side work time and the driver's end-to-end time; a local 1-node Ray cluster).
The baseline, measured in the same run: an ordinary check (`\\frac{1}{2}` vs `0.5`, not settled
by the string shortcut) on a warm worker. Prints each figure, its excess over the limit (target:
at most 1 s) and its ratio to the limit. Worker start-up is not part of a check's limit (each path
is warmed with an ordinary check first).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monkeys_swe.tasks.math import MathTask  # noqa: E402
from monkeys_swe.types import Problem  # noqa: E402
from monkeys_swe.verifiers.math_answer import answers_equivalent  # noqa: E402
from monkeys_swe.verifiers.math_pool import CheckTimeout  # noqa: E402

PATHOLOGICAL = ("2", "9^{9^{9^{9}}}")


def timed_call(limit: float) -> tuple[float, str]:
    start = time.monotonic()
    try:
        outcome = str(answers_equivalent(*PATHOLOGICAL, limit))
    except CheckTimeout:
        outcome = "CheckTimeout (error verdict)"
    return time.monotonic() - start, outcome


def in_thread(limit: float) -> tuple[float, str]:
    found: dict = {}
    thread = threading.Thread(target=lambda: found.update(result=timed_call(limit)), daemon=True)
    thread.start()
    thread.join(limit + 30)
    return found.get("result", (float("inf"), "did not return"))


def through_ray(limit: float, rounds: int) -> list[tuple[float, float, str]]:
    import ray

    from monkeys_swe.executors.ray_executor import RayTaskVerifyPool
    from monkeys_swe.executors.ray_verify import NAMESPACE, RayVerifyPool, close_actors

    ray.init(num_cpus=2, resources={"docker": 2}, namespace=NAMESPACE, include_dashboard=False,
             logging_level="ERROR", runtime_env={"env_vars": {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}})
    try:
        inner = RayVerifyPool(max_in_flight=2)
        pool = RayTaskVerifyPool(inner, MathTask(equivalence_timeout_s=int(limit)), None)
        problem = Problem("p", "q", PATHOLOGICAL[0])
        pool.submit(Problem("w", "q", "\\frac{1}{2}"), "\\boxed{0.5}").result(timeout=600)  # actor + its worker
        out = []
        for _ in range(rounds):
            start = time.monotonic()
            verdict = pool.submit(problem, f"\\boxed{{{PATHOLOGICAL[1]}}}").result(timeout=limit + 120)
            out.append((inner.timings[-1]["work"], time.monotonic() - start, verdict.status))
        close_actors(set(inner.actors))
        return out
    finally:
        ray.shutdown()


def line(name: str, seconds: float, limit: float, outcome: str) -> str:
    return (f"{name:34} {seconds:7.3f} s  over the limit {seconds - limit:+.3f} s  "
            f"ratio to limit {seconds / limit:.3f}  -> {outcome}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=float, default=3.0, help="the check's limit in seconds (default 3)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    limit = args.limit
    answers_equivalent("\\frac{1}{3}", "0.\\overline{3}", limit)  # warm: the worker is started
    base = []
    for _ in range(args.rounds):
        start = time.monotonic()
        answers_equivalent("\\frac{1}{2}", "0.5", limit)
        base.append(time.monotonic() - start)
    print(f"limit {limit:g} s; target: every call returns within limit + 1 s")
    print(f"{'baseline (ordinary check, warm)':34} {statistics.median(base):7.3f} s (median of {len(base)})")
    worst = 0.0
    for i in range(args.rounds):
        for name, call in (("main thread", timed_call), ("non-main thread", in_thread)):
            seconds, outcome = call(limit)
            worst = max(worst, seconds - limit)
            print(line(f"{name} #{i + 1}", seconds, limit, outcome))
    if not args.no_ray:
        for i, (work, total, status) in enumerate(through_ray(limit, args.rounds)):
            worst = max(worst, work - limit)
            print(line(f"ray actor thread #{i + 1} (work)", work, limit, f"verdict {status}"))
            print(line(f"ray #{i + 1} (driver end to end)", total, limit, f"verdict {status}"))
    print(f"worst excess of a checker call over its limit: {worst:+.3f} s ({'within' if worst <= 1 else 'OVER'} 1 s)")


if __name__ == "__main__":
    main()
