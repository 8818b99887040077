"""The red-team table and the cost of tamper-proofing, on the fixture instance.

    .venv/bin/python benchmarks/tamper.py [--rounds 5]

1. Every attack of tests/tamper_attacks.py verified once (fresh canaries each run): the table
   (attack, verdict, evidence) and how many came out `resolved` (the target: 0).
2. The cost: the gold and the empty candidate run `--rounds` times each, full command, with and
   without canaries (interleaved in one run): test-command CPU seconds per attempt (ratio; target
   <= 1.05); and the harness overhead the checks add per attempt (the after-run exec with the
   engine's diff, and the pre-run manifest timed in the same container; target < 0.3 s).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import canary, verify  # noqa: E402
from harness.sandbox import Limits  # noqa: E402
from harness_fixture import make_fixture_instance  # noqa: E402
from tamper_attacks import ATTACKS, attack_patch  # noqa: E402


def attacks_table(v: verify.Verifier, mirror) -> int:
    print("| attack | verdict | evidence |\n|---|---|---|")
    resolved = 0
    for attack in ATTACKS:
        r = v.verify(attack_patch(mirror, attack))
        resolved += r.status == "resolved"
        why = (r.tamper or list(f"{p}: {w}" for p, w in r.reset.items()) or
               ([f"{', '.join(r.dropped_files)}: test file (dropped)"] if r.dropped_files else []) or [r.error or ""])
        print(f"| {attack.name} | {r.status} | {why[0][:150]} |")
    print(f"\nattacks resolved: {resolved} of {len(ATTACKS)}")
    return resolved


def cost(v: verify.Verifier, inst, rounds: int) -> None:
    """Canaries on and off (interleaved) for the test CPU; the after-run phase and the pre-run
    manifest (timed in the instance's container) for the harness overhead."""
    from harness import grading, integrity

    real_make = canary.make
    rows = {True: [], False: []}
    for _ in range(rounds):
        for on in (True, False):
            canary.make = real_make if on else (lambda *a, **k: None)
            for patch in (inst.patch, ""):
                r = v._attempt(patch, v.spec.test_cmd, by_exit_code=False, stage="full")
                rows[on].append((r.test_cpu_s or 0.0, r.phases.get("collect", 0.0), r.phases.get("exec", 0.0)))
    canary.make = real_make
    cpu_on, cpu_off = (statistics.mean(r[0] for r in rows[k]) for k in (True, False))
    pool = v._sandboxes()
    sandbox = pool.acquire()
    try:
        script = integrity.manifest_script(list(v.spec.test_files))
        t0 = time.monotonic()
        for _ in range(rounds):
            sandbox.exec(script, workdir="/testbed")
        manifest_s = (time.monotonic() - t0) / rounds
        t0 = time.monotonic()
        for _ in range(rounds):
            sandbox.exec("true", workdir="/testbed")
        empty_exec_s = (time.monotonic() - t0) / rounds
    finally:
        pool.release(sandbox)
    collect = statistics.median(r[1] for r in rows[True])
    print(f"\ntest-command CPU s per attempt (mean of {len(rows[True])}): canaries on {cpu_on:.3f}, off {cpu_off:.3f}, "
          f"ratio {cpu_on / cpu_off:.3f}")
    print(f"after-run phase (kill strays, report, manifest, engine diff): median {collect:.3f} s per attempt")
    print(f"pre-run manifest inside the eval script: {max(0.0, manifest_s - empty_exec_s):.3f} s "
          f"(an exec of it {manifest_s:.3f} s, of `true` {empty_exec_s:.3f} s)")
    print(f"harness overhead added per attempt: {collect + max(0.0, manifest_s - empty_exec_s):.3f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        inst, mirror = make_fixture_instance(Path(tmp))
        with verify.Verifier(inst, repo_mirror=mirror, pool_size=2, cache_dir=Path(tmp) / "cache",
                             limits=Limits(memory="512m", cpus=1, pids=128, timeout_s=120)) as v:
            v.ensure_image()
            v.health()
            resolved = attacks_table(v, mirror)
            cost(v, inst, args.rounds)
    sys.exit(1 if resolved else 0)


if __name__ == "__main__":
    main()
