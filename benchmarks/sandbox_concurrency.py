"""Many candidates with a pool far bigger than the machine: the engine's sandbox gate (harness.capacity)
keeps the live sandboxes at a cap, ramps up, and backs off when the engine struggles.

    .venv/bin/python benchmarks/sandbox_concurrency.py [--n 50] [--pool-size 32] [--engine podman]
    MONKEYS_SWE_MAX_SANDBOXES=32 .venv/bin/python benchmarks/sandbox_concurrency.py   # no cap: the burst

On the fixture instance (tests/harness_fixture.py): N distinct candidates (right, wrong and
breaking fixes, none a duplicate of another), verified by one Verifier with `--pool-size` threads.
Prints the statuses, the verdicts that are `error` (the target: 0), the wall time, and the gate's
cap, the window it settled on, its peak of live sandboxes, waits and back-offs.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from harness import capacity, engine  # noqa: E402
from harness.sandbox import Limits  # noqa: E402
from harness.verify import Verifier  # noqa: E402
from harness_fixture import GOLD_EDIT, OPS, make_fixture_instance, make_patch  # noqa: E402


def distinct_candidates(mirror, n: int) -> list[str]:
    """n candidates with n different meanings: the fix plus k*0 (right), plus k (wrong), or add broken."""
    ops, out = GOLD_EDIT[0], []
    for k in range(n):
        if k % 3 == 0:
            body = f"    return sum(values) / len(values) + 0 * {k}\n"
        elif k % 3 == 1:
            body = f"    return sum(values) / len(values) + {k}\n"
        else:
            body = GOLD_EDIT[2]
        src = OPS.replace(GOLD_EDIT[1], body)
        if k % 3 == 2:
            src = src.replace("a + b", f"a + b + {k}")
        out.append(make_patch(mirror, {ops: src}))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--pool-size", type=int, default=32)
    ap.add_argument("--engine", choices=engine.ENGINES)
    args = ap.parse_args()
    engine.select(args.engine)

    inst, mirror = make_fixture_instance(Path(tempfile.mkdtemp(prefix="bench-")))
    patches = distinct_candidates(mirror, args.n)
    verifier = Verifier(inst, repo_mirror=mirror, pool_size=args.pool_size, limits=Limits(timeout_s=120))
    verifier.ensure_image()
    verifier.health()  # validation (once per image) is not part of the burst
    start = time.monotonic()
    with verifier:
        verdicts = dict(verifier.verify_many(patches))
    wall = time.monotonic() - start
    statuses = Counter(v.status for v in verdicts.values())
    errors = [v for v in verdicts.values() if v.status == "error"]
    info = engine.describe(verifier.client)
    print(f"engine {info.kind} {info.version}; {args.n} distinct candidates, pool size {args.pool_size}: "
          f"{wall:.1f} s wall; statuses {dict(statuses)}")
    print(f"error verdicts: {len(errors)}" + (f" (first: {(errors[0].error or '')[:200]})" if errors else ""))
    for s in capacity.stats():
        print(f"gate: cap {s['cap']}, settled on {s['settled']}, peak {s['peak']} live, {s['starts']} starts, "
              f"{s['waits']} waited, {s['backoffs']} back-offs, {s['over']} over the window, "
              f"{s['engine_errors']} engine errors retried")
        for event in s["events"]:
            print(f"  {event}")


if __name__ == "__main__":
    main()
