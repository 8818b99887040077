"""Programs verified per second: long-lived runner containers vs a container per program.

    .venv/bin/python benchmarks/program_throughput.py [--n 120] [--workers 2]

Same programs, same run, same runner script and limits: HumanEval canonical solutions and
`return None` bodies (alternating), plus right and wrong stdin/stdout programs for an APPS
problem, so half pass and half fail.
- pool: `workers` threads call ProgramPool.run, as the run loop's verify workers do (container
  start-up included in the time);
- baseline: `workers` threads each start a fresh container per program (run_in_new_container).
Both must give the same verdicts; the script prints programs/s for each and their ratio.
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from monkeys_swe.tasks.codecontests import CodeContestsTask, HumanEvalTask  # noqa: E402
from monkeys_swe.verifiers.programs import ProgramJob, ProgramPool, run_in_new_container, runner_image  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "code"
RIGHT_2189 = ("t = int(input())\nfor _ in range(t):\n    input()\n    a = list(map(int, input().split()))\n"
              "    s, m = sum(a), max(a)\n    print('T' if m > s - m or s % 2 else 'HL')\n")
WRONG_2189 = "t = int(input())\nfor _ in range(t):\n    input(); input()\n    print('T')\n"


def programs(n: int) -> list[ProgramJob]:
    humaneval = HumanEvalTask()
    problems = humaneval.load(str(DATA / "HumanEval.jsonl.gz"), None)
    canonical = {json.loads(x)["task_id"]: json.loads(x)["canonical_solution"] for x in gzip.open(DATA / "HumanEval.jsonl.gz", "rt")}
    apps = CodeContestsTask()
    stdio = {p.id: p for p in apps.load(str(DATA / "apps_selected150_mapcoder.jsonl"), None)}["apps-2189"]
    jobs = []
    for i in range(n):
        if i % 4 == 3:
            jobs.append(apps.job(stdio, RIGHT_2189 if i % 8 == 3 else WRONG_2189, "python"))
        else:
            p = problems[i % len(problems)]
            body = canonical[p.id] if i % 2 == 0 else "    return None\n"
            jobs.append(humaneval.job(p, humaneval.program(p, body)))
    return jobs


def timed(fn, jobs: list[ProgramJob], workers: int) -> tuple[float, list[str]]:
    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        statuses = [r.status for r in ex.map(fn, jobs)]
    return time.perf_counter() - start, statuses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=120, help="programs to verify (each way)")
    ap.add_argument("--workers", type=int, default=2, help="containers / threads")
    args = ap.parse_args()
    image = runner_image()
    jobs = programs(args.n)
    with ProgramPool(args.workers, image=image) as pool:
        pool_s, pool_statuses = timed(pool.run, jobs, args.workers)
    fresh_s, fresh_statuses = timed(lambda job: run_in_new_container(job, image), jobs, args.workers)
    assert pool_statuses == fresh_statuses, "the two ways disagree on some verdicts"
    passed = sum(s == "passed" for s in pool_statuses)
    pool_rate, fresh_rate = args.n / pool_s, args.n / fresh_s
    print(f"{args.n} programs ({passed} pass), {args.workers} workers, image {image}")
    print(f"runner containers (pool):   {pool_s:7.2f} s  {pool_rate:7.2f} programs/s")
    print(f"container per program:      {fresh_s:7.2f} s  {fresh_rate:7.2f} programs/s")
    print(f"ratio (pool / per-program): {pool_rate / fresh_rate:.2f}x")


if __name__ == "__main__":
    main()
