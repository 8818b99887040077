"""django, scikit-learn and matplotlib (160 Lite instances) on trees that can be had here.

    .venv/bin/python benchmarks/big_repos.py [--repos django,scikit-learn,matplotlib] [--per-repo 2]
        [--out benchmarks/results/big_repos.jsonl] [--work DIR] [--force]

Their repositories (637-873 MB) cannot be mirrored on this machine. Their PyPI sdists ship
the source and the tests, and many Lite fixes landed before a release: tests/sdist_repos.py
reverses the gold patch and test_patch on the release's tree, commits it in a mirror, and
points the real Lite row at that commit. Each instance then goes through the ordinary path
(spec table for (repo, version), Python substitution, environment layer with compiled builds,
instance layer, the repo's own runner and swebench's log parser): gold must resolve, the
empty patch must not.

One JSONL row per instance is appended as it finishes (reruns skip finished ones unless
--force). The table at the end has, per instance: environment-layer build seconds, instance
layer seconds, gold / empty verdicts, and the test command's seconds. The ratio printed is
instance-layer build time over the whole first build of the repo's environment, both from
this run: what a second instance of the same (repo, version) costs once the layer exists.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from harness import images  # noqa: E402
from harness.sandbox import Limits  # noqa: E402
from harness.verify import Verifier  # noqa: E402
from sdist_repos import INSTANCES, lite_on_sdist  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REPOS = {"django": "django/django", "scikit-learn": "scikit-learn/scikit-learn",
         "matplotlib": "matplotlib/matplotlib"}
LIMITS = Limits(memory="6g", cpus=2.0, pids=2048, timeout_s=1800)


def run_instance(inst, mirror: Path, log_dir: Path) -> dict:
    row = {"instance_id": inst.instance_id, "repo": inst.repo, "version": inst.version}
    timings: dict = {}
    t0 = time.monotonic()
    try:
        tag = images.build_instance_image(inst, repo_mirror=str(mirror), timings=timings)
    except Exception as exc:  # the table names the cause; the run goes on
        row.update(build_s=round(time.monotonic() - t0, 1), error=f"image: {str(exc)[-1500:]}")
        return row
    row.update(image=tag, build_s=round(time.monotonic() - t0, 1), env_s=timings.get("env_s"),
               instance_s=timings.get("instance_s"), env_built=timings.get("env_built"),
               info=images.image_info(tag))
    with Verifier(inst, repo_mirror=mirror, image=tag, pool_size=1, limits=LIMITS, log_dir=log_dir) as v:
        for name, patch in (("gold", inst.patch), ("empty", "")):
            verdict = v.verify(patch)
            row[name] = {"status": verdict.status, "error": verdict.error, "seconds": verdict.duration_s,
                         "test_command_s": verdict.test_command_s, "log": verdict.log_path,
                         "f2p_failed": len(verdict.fail_to_pass.get("failure", [])),
                         "p2p_failed": len(verdict.pass_to_pass.get("failure", []))}
    return row


def table(rows: list[dict]) -> str:
    head = f"{'instance':38} {'py':>4} {'env_s':>7} {'inst_s':>7} {'gold':>13} {'empty':>13} {'test_s':>7}"
    lines = [head, "-" * len(head)]
    for r in rows:
        gold, empty = r.get("gold") or {}, r.get("empty") or {}
        lines.append(f"{r['instance_id']:38} {(r.get('info') or {}).get('python', '-'):>4} "
                     f"{r.get('env_s') if r.get('env_built') else '(reused)':>7} {r.get('instance_s', '-')!s:>7} "
                     f"{gold.get('status', 'error'):>13} {empty.get('status', 'error'):>13} "
                     f"{gold.get('test_command_s') or '-'!s:>7}")
        if r.get("error"):
            lines.append(f"    error: {r['error'].splitlines()[-1][:200]}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repos", default="django,scikit-learn,matplotlib")
    ap.add_argument("--per-repo", type=int, default=2, help="instances per repository (from sdist_repos.INSTANCES)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "big_repos.jsonl")
    ap.add_argument("--work", type=Path, default=Path.home() / ".cache" / "monkeys-swe" / "big-repos")
    ap.add_argument("--force", action="store_true", help="rerun instances already in --out")
    ap.add_argument("--table-only", action="store_true",
                    help="no instance overrides (sdist_repos.OVERRIDES): the spec table's path alone")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    unknown = [r for r in args.repos.split(",") if r not in REPOS]
    if unknown:
        ap.error(f"unknown repo {unknown[0]!r}: choose from {', '.join(REPOS)}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    done = {}
    if args.out.exists() and not args.force:
        done = {r["instance_id"]: r for r in map(json.loads, args.out.read_text().splitlines())
                if r and r.get("table_only", False) == args.table_only}
    rows = []
    for short in args.repos.split(","):
        ids = INSTANCES[REPOS[short]][:args.per_repo]
        todo = [i for i in ids if i not in done]
        rows += [done[i] for i in ids if i in done]
        if not todo:
            continue
        t0 = time.monotonic()
        mirror, insts = lite_on_sdist(*todo, mirror_dir=args.work / "mirrors", work_dir=args.work / "trees",
                                      table_only=args.table_only)
        snapshot_s = round(time.monotonic() - t0, 1)
        for inst in insts:
            row = run_instance(inst, mirror, args.work / "logs")
            row.update(snapshot_s=snapshot_s, overrides=inst.install is not None, table_only=args.table_only)
            with args.out.open("a") as f:
                f.write(json.dumps(row) + "\n")
            rows.append(row)
            print(table([row]).splitlines()[-1], flush=True)
    print(table(rows))
    firsts = [r for r in rows if r.get("env_built") and r.get("build_s")]
    later = [r for r in rows if r.get("env_built") is False and r.get("instance_s") is not None]
    if firsts and later:
        ratio = (sum(r["instance_s"] for r in later) / len(later)) / (sum(r["build_s"] for r in firsts) / len(firsts))
        print(f"instance layer on an existing environment / first build of the environment: {ratio:.3f}")
    ok = [r for r in rows if (r.get("gold") or {}).get("status") == "resolved"
          and (r.get("empty") or {}).get("status") == "not_resolved"]
    print(f"gold resolved and empty not resolved: {len(ok)}/{len(rows)}")
    return 0 if len(ok) == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
