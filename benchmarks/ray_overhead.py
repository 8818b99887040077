"""Ray's overhead: the same 50-candidate fixture workload through the local executor and through
a 2-node Ray cluster on this machine, in one run.

    .venv/bin/python benchmarks/ray_overhead.py [--n 50] [--rounds 1] [--no-regression]

The workload: a `bench`-style run (replayed candidates -> store -> SWE-bench verification in
Docker) of N distinct candidates for the fixture instance (tests/harness_fixture.py), half of
them fixes. Both executors get the same concurrency: local = 2 verification workers (the
swebench task's default); Ray = 2 nodes (ray.cluster_utils.Cluster, real raylets) with one
`docker` slot each. The image is built (and its environment validated) by a warm-up run first,
so both timed runs start from the same cache; cluster start-up is not timed, the per-node
actor set-up is. Rounds go local-Ray, Ray-local, ... so a drift in machine load hits both alike.
Prints ray/local wall time; the target is <= 1.15 (within 15%).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from harness_fixture import BUGGY, INSTANCE_ID, make_fixture_instance  # noqa: E402
from monkeys_swe.config import RunConfig  # noqa: E402
from monkeys_swe.executors import LocalExecutor, make_executor  # noqa: E402
from monkeys_swe.runner import Runner  # noqa: E402
from monkeys_swe.tasks.swebench import SWEBenchTask  # noqa: E402


def candidate(i: int) -> str:
    """Distinct SEARCH/REPLACE edits (distinct code, so none is deduplicated away): even i fix
    the bug, odd i do not."""
    new = f"    return sum(values) / len(values) + 0 * {i}\n" if i % 2 == 0 else f"    return sum(values) / (len(values) + {i + 1})\n"
    return f"calc/ops.py\n<<<<<<< SEARCH\n{BUGGY}=======\n{new}>>>>>>> REPLACE\n"


def timed_run(root: Path, tag: str, data: Path, mirror: Path, replay: Path, n: int, executor, regression: bool):
    config = RunConfig(task="swebench", data=str(data), samples=n, backend="replay", replay_from=str(replay),
                       runs_dir=str(root / tag))
    runner = Runner(config, task=SWEBenchTask(repo_mirror=str(mirror), regression=regression), executor=executor)
    start = time.perf_counter()
    runner.run()
    elapsed = time.perf_counter() - start
    s = runner.stats
    assert s.verified == n and s.errors == 0, f"{tag}: {s.verified} verified, {s.errors} errors"
    return elapsed, s.correct


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--no-regression", action="store_true", help="skip the existing-tests check per candidate")
    args = ap.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray
    from ray.cluster_utils import Cluster

    root = Path(tempfile.mkdtemp(prefix="ray-overhead-"))
    inst, mirror = make_fixture_instance(root)
    data = root / "instances.jsonl"
    data.write_text(inst.model_dump_json() + "\n")
    replay = root / "samples.json"
    replay.write_text(json.dumps([{"id": INSTANCE_ID, "question": "", "samples": [candidate(i) for i in range(args.n)]}]))
    regression = not args.no_regression
    warm, _ = timed_run(root, "warmup", data, mirror, replay, 2, LocalExecutor(), regression)
    print(f"warm-up (image build/validation, 2 candidates): {warm:.1f} s")

    t0 = time.perf_counter()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "resources": {"docker": 1},
                                                            "include_dashboard": False})
    cluster.add_node(num_cpus=1, resources={"docker": 1})
    cluster.wait_for_nodes()
    print(f"2-node Ray cluster up in {time.perf_counter() - t0:.1f} s (not timed below)")
    local_s, ray_s = [], []
    try:
        for r in range(args.rounds):
            # ABBA: local first in even rounds, Ray first in odd ones, so a drift in machine load
            # over the run weighs on both alike.
            for kind in (("local", "ray") if r % 2 == 0 else ("ray", "local")):
                if kind == "local":
                    t, correct = timed_run(root, f"local{r}", data, mirror, replay, args.n, LocalExecutor(), regression)
                    local_s.append(t)
                else:
                    executor = make_executor(cluster.address)
                    try:
                        t, correct = timed_run(root, f"ray{r}", data, mirror, replay, args.n, executor, regression)
                    finally:
                        executor.close()
                    ray_s.append(t)
                print(f"round {r}: {kind:<5} {t:.1f} s ({correct} resolved, load average {os.getloadavg()[0]:.1f})")
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()
    local, remote = statistics.mean(local_s), statistics.mean(ray_s)
    print(f"\n{args.n} candidates, regression check {'on' if regression else 'off'}, "
          f"{args.rounds} round(s), {os.cpu_count()} cores, load average now {os.getloadavg()[0]:.1f}")
    print(f"local executor: {local:.1f} s ({args.n / local:.2f} verifications/s)")
    print(f"ray, 2 nodes:   {remote:.1f} s ({args.n / remote:.2f} verifications/s)")
    print(f"ratio ray/local: {remote / local:.2f} (target <= 1.15)")


if __name__ == "__main__":
    main()
