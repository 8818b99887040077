"""Per-attempt overhead of harness.verify vs the official SWE-bench harness's container recipe.

    .venv/bin/python benchmarks/harness_overhead.py [--n 50] [--baseline-n 5] [--pool-size 2]
    .venv/bin/python benchmarks/harness_overhead.py --engines docker,podman --skip-baseline

`--engines docker,podman` measures ours on each engine in this one run (same candidates, each
engine's own copy of the fixture image) and prints Podman's per-attempt overhead over Docker's.

Both run on the fixture instance (tests/harness_fixture.py), same image, same eval script.
- ours: Verifier.verify_many on N candidates (duplicates, failing and malformed ones mixed in).
- baseline, per prediction, as swebench's run_instance does it: create a container whose PID 1 is
  `tail -f /dev/null` (no init), start, copy the patch in, `git apply`, `git diff`, copy the eval
  script in, run it, `git diff`, `stop` (15 s timeout: tail ignores SIGTERM), remove.
  Only --baseline-n predictions are run (each costs ~16 s); its per-prediction figure is
  extrapolated to N, and the report says so.
Overhead = time per attempt minus the test command itself, timed inside the eval script of that
very attempt (bash's $EPOCHREALTIME around the command), so machine load cancels out.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from harness import engine, grading  # noqa: E402
from harness.docker_util import get_client, tar_bytes  # noqa: E402
from harness.sandbox import Limits  # noqa: E402
from harness.verify import Verifier  # noqa: E402
from harness_fixture import OPS, GOLD_EDIT, TEST_CMD, make_fixture_instance, make_patch  # noqa: E402


def candidates(inst, mirror, n: int) -> list[str]:
    """A mix like a real sample: many copies of a right answer, wrong fixes, junk."""
    ops = GOLD_EDIT[0]
    wrong = [make_patch(mirror, {ops: OPS.replace(GOLD_EDIT[1], f"    return sum(values) / len(values) + {i}\n")})
             for i in range(1, 9)]
    breaks = [make_patch(mirror, {ops: OPS.replace(GOLD_EDIT[1], GOLD_EDIT[2]).replace("a + b", f"a + b + {i}")})
              for i in range(1, 4)]
    stale = inst.patch.replace("(len(values) + 1)", "(len(values) + 2)")
    pool = [inst.patch, inst.patch.replace("\n", "\r\n"), "", *wrong, *breaks, stale, "not a diff\n"]
    return [pool[i % len(pool)] if i % 3 else inst.patch for i in range(n)]


def baseline_one(client, image: str, patch: str, script: str, test_patch: str) -> tuple[float, float]:
    """(seconds for the prediction, seconds of its test command)."""
    start = time.monotonic()
    c = client.containers.create(image, command=["tail", "-f", "/dev/null"], detach=True,
                                 working_dir="/testbed", labels={"monkeys-swe": "1", "monkeys-swe.bench": "baseline"})
    try:
        c.start()
        c.put_archive("/", tar_bytes({"tmp/patch.diff": patch.encode()}))
        c.exec_run("bash -c 'git apply -v /tmp/patch.diff || patch --batch --fuzz=5 -p1 -i /tmp/patch.diff'",
                   workdir="/testbed")
        c.exec_run("git -c core.fileMode=false diff", workdir="/testbed")
        c.put_archive("/", tar_bytes({"eval.sh": script.encode(), "tmp/monkeys/test.diff": test_patch.encode(),
                                      "tmp/monkeys/patch.diff": b""}))
        log = c.exec_run("/bin/bash /eval.sh", workdir="/testbed").output.decode(errors="replace")
        c.exec_run("git -c core.fileMode=false diff", workdir="/testbed")
        c.stop(timeout=15)
    finally:
        c.remove(force=True)
    return time.monotonic() - start, grading.test_command_seconds(log) or 0.0


def med(verdicts, phase: str) -> float:
    return statistics.median(v.phases[phase] for v in verdicts)


def measure_ours(inst, mirror, patches, args) -> tuple[str, float, float]:
    """(image, wall seconds, median per-attempt overhead) of Verifier.verify_many on this engine."""
    verifier = Verifier(inst, repo_mirror=mirror, pool_size=args.pool_size, limits=Limits(timeout_s=60))
    image = verifier.ensure_image()
    verifier.health()  # the one-off validation of a new image is not an attempt's cost

    start = time.monotonic()
    with verifier:
        verdicts = dict(verifier.verify_many(patches))
    ours_wall = time.monotonic() - start
    unique = [v for v in verdicts.values() if v.duplicate_of is None and v.test_command_s is not None]
    ours_overhead = statistics.median(v.duration_s - v.test_command_s for v in unique)
    t_test = statistics.median(v.test_command_s for v in unique)
    statuses = {s: sum(v.status == s for v in verdicts.values()) for s in {v.status for v in verdicts.values()}}

    print(f"fixture test command: {t_test:.3f} s (median, timed inside each attempt)")
    print(f"ours:     {args.n} predictions, {len(unique)} unique applied attempts, pool {args.pool_size}, "
          f"{ours_wall:.1f} s wall ({ours_wall / args.n:.3f} s per prediction); statuses {statuses}")
    print(f"          median per-attempt overhead beyond the test command: {ours_overhead:.3f} s "
          f"(acquire {med(unique, 'acquire'):.3f}, upload {med(unique, 'upload'):.3f}, "
          f"exec beyond the command {statistics.median(v.phases['exec'] - v.test_command_s for v in unique):.3f})")
    return image, ours_wall, ours_overhead


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--baseline-n", type=int, default=5)
    ap.add_argument("--pool-size", type=int, default=2)
    ap.add_argument("--skip-baseline", action="store_true", help="only measure ours")
    ap.add_argument("--engines", help="comma-separated engines to measure ours on, e.g. docker,podman "
                                      "(default: the one DOCKER_HOST names)")
    args = ap.parse_args()

    inst, mirror = make_fixture_instance(Path(tempfile.mkdtemp(prefix="bench-")))
    patches = candidates(inst, mirror, args.n)
    overheads = {}
    for name in (args.engines.split(",") if args.engines else [None]):
        if name:
            engine.select(name)
            print(f"== engine {name}")
        image, ours_wall, overheads[name] = measure_ours(inst, mirror, patches, args)
    if args.engines and len(overheads) == 2:
        (a, oa), (b, ob) = overheads.items()
        print(f"ratio ({b} / {a}): per-attempt overhead {ob / max(oa, 1e-3):.2f}x")
    if args.skip_baseline:
        return
    client, ours_overhead = get_client(), overheads[name]  # the baseline runs on the last engine
    script = grading.eval_script(TEST_CMD, apply_test_patch=True)
    base_runs = [baseline_one(client, image, patches[i], script, inst.test_patch) for i in range(args.baseline_n)]
    base_per = statistics.median(total for total, _ in base_runs)
    base_overhead = statistics.median(total - test for total, test in base_runs)

    print(f"baseline: {args.baseline_n} predictions run, {base_per:.2f} s each (median); "
          f"overhead {base_overhead:.2f} s; extrapolated to {args.n}: {base_per * args.n:.0f} s")
    print(f"ratio (baseline / ours): overhead per attempt {base_overhead / max(ours_overhead, 1e-3):.0f}x, "
          f"wall for {args.n} predictions {base_per * args.n / ours_wall:.0f}x")


if __name__ == "__main__":
    main()
