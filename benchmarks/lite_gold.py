"""Breadth benchmark: does every mirrorable SWE-bench Lite instance get a working environment?

For each instance: build (or find) its image, verify the gold patch (must be `resolved`)
and the empty patch (must be `not_resolved`), and append one JSON row to --results as soon
as it is known (reruns skip instances already there; --retry-failed redoes the misses).
Images of a repository are pruned when the run moves on to the next repository, so the
disk never fills. At the end (and with --table-only) it prints a table per repo.

    python benchmarks/lite_gold.py --repo-mirror /work/mirrors                 # all mirrorable
    python benchmarks/lite_gold.py --repo-mirror /work/mirrors --ids a b       # some
    python benchmarks/lite_gold.py --repo-mirror /work/mirrors --slice 0:20 --order spread
    python benchmarks/lite_gold.py --repo-mirror /work/mirrors --engine podman \
        --results benchmarks/results/lite_gold_podman.jsonl --ids ...   # the same on Podman

--order spread (default) does one instance per (repo, version) first, across all repos
(environment images are kept through that pass), then the rest grouped by repo.
"""
from __future__ import annotations

import argparse
import collections
import concurrent.futures
import json
import sys
import threading
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DATA = Path(__file__).resolve().parents[2] / "shared/data/swebench/swe_bench_lite_test.jsonl.gz"
DEFAULT_RESULTS = Path(__file__).resolve().parent / "results" / "lite_gold.jsonl"
# Pure-Python repos with many instances first; compiled / heavy environments last.
REPO_ORDER = ["sympy/sympy", "pallets/flask", "psf/requests", "pytest-dev/pytest", "pylint-dev/pylint",
              "sphinx-doc/sphinx", "mwaskom/seaborn", "pydata/xarray", "astropy/astropy"]


def load_done(path: Path) -> dict[str, dict]:
    done = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                done[row["instance_id"]] = row
    return done


def ordered(instances, order: str):
    if order != "spread":
        return [(i, False) for i in instances]
    first, rest, seen = [], [], set()
    count = collections.Counter((i.repo, i.version) for i in instances)
    # within a repo, its most populous versions first
    for inst in sorted(instances, key=lambda i: -count[(i.repo, i.version)]):
        key = (inst.repo, inst.version)
        (rest if key in seen else first).append(inst)
        seen.add(key)
    rest.sort(key=lambda i: i.repo)  # stable: file order within a repo
    by_repo = collections.defaultdict(list)
    rank = {r: n for n, r in enumerate(REPO_ORDER)}
    for inst in sorted(first, key=lambda i: rank.get(i.repo, len(rank))):
        by_repo[inst.repo].append(inst)
    spread = []  # round-robin over repos, so every repo is tried early
    while any(by_repo.values()):
        for repo in list(by_repo):
            if by_repo[repo]:
                spread.append(by_repo[repo].pop(0))
    return [(i, False) for i in spread] + [(i, True) for i in rest]


BUILD_CLUES = ("No solution found", "× ", "error: ", "Error: ", "ModuleNotFoundError", "RepoError",
               "[monkeys-env] nothing installable", "returned a non-zero code")


def build_cause(text: str) -> str:
    """The most telling line of a failed build's log (uv's resolver verdict, a compiler error...)."""
    lines = [line.strip() for line in text.replace("\x1b[0m", "").replace("\x1b[91m", "").splitlines()]
    for clue in BUILD_CLUES:
        for line in lines:
            if clue in line:
                return line[:110]
    return lines[0][:110] if lines else "?"


def cause_of(row: dict) -> str | None:
    if row.get("build_error"):
        return "build: " + build_cause(row["build_error"])
    g, e = row.get("gold_status"), row.get("empty_status")
    if g != "resolved":
        detail = (row.get("gold_error") or "").splitlines()[0][:70] if row.get("gold_error") else ""
        return f"gold {g}" + (f": {detail}" if detail else "")
    if e != "not_resolved":
        return f"empty {e}"
    return None


MISS_KINDS = (  # (clue in the cause, what kind of miss) - first match wins
    ("lacks the content", "mirror lacks a file"),
    ("FAIL_TO_PASS tests already pass", "instance's lists (FAIL_TO_PASS pass without the fix)"),
    ("test lists cannot judge", "instance's lists (FAIL_TO_PASS pass without the fix)"),
    ("timeout", "timeout"),
    ("build:", "environment build"),
    ("PASS_TO_PASS tests do not pass", "environment (PASS_TO_PASS fail at base)"),
)


def miss_kind(cause: str) -> str:
    return next((kind for clue, kind in MISS_KINDS if clue in cause), cause.split(":")[0])


def run_one(inst, args, client) -> dict:
    from harness import images
    from harness.sandbox import Limits
    from harness.verify import Verifier

    row = {"instance_id": inst.instance_id, "repo": inst.repo, "version": inst.version,
           "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    timings: dict = {}
    t0 = time.monotonic()
    try:
        tag = images.ensure_image(inst, repo_mirror=args.repo_mirror, client=client,
                                  use_prebuilt=args.prebuilt, timings=timings)
        row.update(image=tag, built=True, **images.image_info(tag, client))
    except Exception as exc:  # a row, never the end of the run
        row.update(built=False, build_error=f"{type(exc).__name__}: {exc}"[-4000:])
    row["build_s"] = round(time.monotonic() - t0, 1)
    row.update({k: timings[k] for k in ("env_s", "instance_s", "env_built") if k in timings})
    if row["built"]:
        limits = Limits(memory="6g", cpus=2.0, pids=2048, timeout_s=args.timeout)
        with Verifier(inst, repo_mirror=args.repo_mirror, image=row["image"], pool_size=1, limits=limits,
                      log_dir=args.log_dir, client=client) as v:
            for name, patch in (("gold", inst.patch), ("empty", "")):
                t1 = time.monotonic()
                try:
                    verdict = v.verify(patch)
                    row[f"{name}_status"], row[f"{name}_error"] = verdict.status, verdict.error
                    row[f"{name}_log"] = verdict.log_path
                    row[f"{name}_f2p"] = {k: len(x) for k, x in (verdict.fail_to_pass or {}).items()}
                    row[f"{name}_p2p"] = {k: len(x) for k, x in (verdict.pass_to_pass or {}).items()}
                    # tamper-proofing (harness/README.md): what the canaries showed, the evidence, swebench's own grade
                    row[f"{name}_canaries"] = (verdict.canaries or {}).get("seen")
                    row[f"{name}_tamper"], row[f"{name}_official"] = verdict.tamper, verdict.official
                except Exception as exc:
                    row[f"{name}_status"], row[f"{name}_error"] = "error", f"{type(exc).__name__}: {exc}"[-2000:]
                    traceback.print_exc()
                row[f"{name}_s"] = round(time.monotonic() - t1, 1)
    row["ok"] = cause_of(row) is None
    row["cause"] = cause_of(row)
    return row


def table(rows: list[dict]) -> str:
    by_repo = collections.defaultdict(list)
    for r in rows:
        by_repo[r["repo"]].append(r)
    head = ("| repo | instances | image built | gold resolved | empty not resolved | both ok "
            "| build s (median) | test s (median) | misses by cause |")
    out = [head, "|" + "---|" * 9]

    def med(xs):
        xs = sorted(x for x in xs if x is not None)
        return f"{xs[len(xs) // 2]:.0f}" if xs else "-"

    total = collections.Counter()
    for repo in sorted(by_repo):
        rs = by_repo[repo]
        causes = collections.Counter(miss_kind(cause_of(r)) for r in rs if cause_of(r))
        c = {"n": len(rs), "built": sum(r.get("built", False) for r in rs),
             "gold": sum(r.get("gold_status") == "resolved" for r in rs),
             "empty": sum(r.get("empty_status") == "not_resolved" for r in rs),
             "ok": sum(r.get("ok", False) for r in rs)}
        total.update(c)
        out.append(f"| {repo} | {c['n']} | {c['built']} | {c['gold']} | {c['empty']} | {c['ok']} | "
                   f"{med(r.get('build_s') for r in rs)} | "
                   f"{med((r.get('gold_s') or 0) + (r.get('empty_s') or 0) for r in rs if r.get('built'))} | "
                   f"{'; '.join(f'{k} ({v})' for k, v in causes.most_common()) or '-'} |")
    out.append(f"| **all** | {total['n']} | {total['built']} | {total['gold']} | {total['empty']} | "
               f"{total['ok']} | | | |")
    misses = [f"- {r['instance_id']}: {cause_of(r)}" for r in rows if cause_of(r)]
    return "\n".join(out + ([""] + ["Misses:"] + misses if misses else []))


def _not_run(instances) -> str:
    if not instances:
        return ""
    by_repo = collections.defaultdict(list)
    for inst in instances:
        by_repo[inst.repo].append(inst.instance_id)
    return ("\nNot run yet (no verdict, not counted above):\n" +
            "".join(f"- {repo} ({len(ids)}): {', '.join(ids)}\n" for repo, ids in sorted(by_repo.items())))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--repo-mirror", required=True)
    ap.add_argument("--ids", nargs="*")
    ap.add_argument("--repos", nargs="*", help="only these repos (owner/name)")
    ap.add_argument("--skip", nargs="*", default=[], help="leave these instance ids out of this run (their rows stay)")
    ap.add_argument("--slice", help="START:STOP over the ordered list")
    ap.add_argument("--order", choices=["spread", "file"], default="spread")
    ap.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    ap.add_argument("--log-dir", default="/tmp/monkeys-swe-lite-gold-logs")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per test run")
    ap.add_argument("--jobs", type=int, default=1, help="instances at a time (each test run gets 2 CPUs)")
    ap.add_argument("--retry-failed", action="store_true", help="redo instances whose row is not ok")
    ap.add_argument("--no-prune", dest="prune", action="store_false", help="keep images between repos")
    ap.add_argument("--prebuilt", action="store_true", help="use prebuilt swebench images when present")
    ap.add_argument("--table-only", action="store_true")
    ap.add_argument("--markdown", type=Path, help="also write the table here (e.g. benchmarks/results/lite_gold.md)")
    ap.add_argument("--engine", choices=["docker", "podman"], help="the container engine (default: DOCKER_HOST's); "
                    "give podman its own --results file to compare with Docker's rows")
    args = ap.parse_args(argv)

    from harness import engine, images, repos

    engine.select(args.engine)
    from harness.docker_util import get_client
    from harness.instance import load_instances

    instances = load_instances(args.data, ids=args.ids)
    if not args.ids:
        def mirrored(repo):
            try:
                repos.locate(repo, args.repo_mirror, clone=False)
                return True
            except repos.RepoError:
                return False
        present = {r for r in {i.repo for i in instances} if mirrored(r)}
        instances = [i for i in instances if i.repo in present]
    if args.repos:
        instances = [i for i in instances if i.repo in args.repos]
    plan = ordered(instances, args.order)
    if args.slice:
        a, _, b = args.slice.partition(":")
        plan = plan[int(a or 0):int(b) if b else None]
    done = load_done(args.results)
    if not args.table_only:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        client = get_client()
        todo = [(i, second) for i, second in plan if i.instance_id not in args.skip and (
                i.instance_id not in done or (args.retry_failed and not done[i.instance_id].get("ok")))]
        print(f"{len(plan)} planned, {len(plan) - len(todo)} already done, {len(todo)} to run", flush=True)
        # Prune a repo once its last planned instance is done (in spread order: in the second pass).
        left = collections.Counter(i.repo for i, _ in todo)
        lock = threading.Lock()

        def finish(n: int, inst, second: bool, row: dict) -> None:
            with lock:
                done[inst.instance_id] = row
                with args.results.open("a") as f:
                    f.write(json.dumps(row) + "\n")
                print(f"[{n + 1}/{len(todo)}] {inst.instance_id}: {'ok' if row['ok'] else row['cause']} "
                      f"(build {row['build_s']} s, gold {row.get('gold_s', '-')} s)", flush=True)
                left[inst.repo] -= 1
                if not (args.prune and second and left[inst.repo] == 0):
                    return
                df = sum(r["unique_mb"] for r in images.list_images(client))
                result = images.prune(client, repo=inst.repo)  # only images no container uses
                print(f"pruned {len(result['images'])} images of {inst.repo} (our images held {df} MB "
                      f"unique before)", flush=True)

        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = {pool.submit(run_one, inst, args, client): (n, inst, second)
                       for n, (inst, second) in enumerate(todo)}
            try:
                for fut in concurrent.futures.as_completed(futures):
                    finish(*futures[fut], fut.result())
            except KeyboardInterrupt:  # finished rows are already in --results; start no more
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    rows = [done[i.instance_id] for i, _ in plan if i.instance_id in done]
    text = table(rows)
    print(text)
    if args.markdown:
        disk = images.layers_mb()
        args.markdown.write_text(
            f"# SWE-bench Lite, gold and empty patches ({time.strftime('%Y-%m-%d')})\n\n"
            f"{len(rows)} of {len(plan)} planned instances run (mirrorable repos: all but django, "
            f"scikit-learn, matplotlib). `both ok` = gold resolved and empty not resolved. "
            f"All image layers on the daemon at the end: {disk} MB.\n\n"
            f"    python benchmarks/lite_gold.py --repo-mirror /work/mirrors --timeout 1800 --jobs 3 --retry-failed\n\n{text}\n"
            + _not_run([i for i, _ in plan if i.instance_id not in done]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
