"""Never verify twice: dedupe by meaning and the verdict cache, on real SWE-bench Lite instances.

    .venv/bin/python benchmarks/verify_cache.py [--instances ID ...] [--wrong 8] [--repo-mirror /work/mirrors]
        [--data ../shared/data/swebench/swe_bench_lite_test.jsonl.gz]

Per instance, one predictions list: the gold patch, the empty patch, a test-files-only
candidate (the instance's own test_patch as a candidate: the harness discards it), --wrong wrong-but-applying candidates (benchmarks/verify_cost.py's mutants) and,
for the gold patch and each wrong one, a twin that differs only in hunk layout (5 lines of
context instead of 3) and a trailing comment. Then, in the same run:
1. cold: `verify` with an empty verdict cache (a fresh file): candidates, unique by text,
   unique by meaning (= Docker verifications made), wall seconds, test core-seconds;
2. warm: the same predictions again with that cache: hits, Docker verifications (target 0),
   wall seconds; the rerun speed-up is cold wall / warm wall;
3. the verdicts of both runs must agree (disagreements, target 0).
The baseline of (1) is textual dedupe: it would have made one verification per textual
unique candidate, so `text/meaning` is the share of Docker runs dedupe by meaning saves.
"""
from __future__ import annotations

import argparse
import difflib
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from harness import batch, patch as patches, repos  # noqa: E402
from harness.instance import load_instances  # noqa: E402
from harness.sandbox import Limits  # noqa: E402
from harness.verdict_cache import VerdictCache  # noqa: E402
from verify_cost import _files_at, mutants  # noqa: E402

DEFAULT_IDS = ["pallets__flask-5063", "pytest-dev__pytest-11143"]


def twin(inst, mirror_dir: str, candidate: str) -> str | None:
    """The same change with other hunk layout and a comment at the end of each Python file."""
    mirror = repos.locate(inst.repo, mirror_dir)
    paths = [b.path for b in patches.split(candidate)]
    if not paths or not all(p.endswith(".py") for p in paths):
        return None
    base = _files_at(mirror, inst.base_commit, paths, None)
    new = _files_at(mirror, inst.base_commit, paths, candidate)
    out = []
    for p in paths:
        out.append(f"diff --git a/{p} b/{p}\n" + "".join(difflib.unified_diff(
            base[p].splitlines(True), (new[p] + "\n# reviewed\n").splitlines(True), f"a/{p}", f"b/{p}", n=5)))
    return "".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", nargs="+", default=DEFAULT_IDS)
    ap.add_argument("--data", default=str(ROOT.parent / "shared/data/swebench/swe_bench_lite_test.jsonl.gz"))
    ap.add_argument("--repo-mirror", default="/work/mirrors")
    ap.add_argument("--wrong", type=int, default=8)
    ap.add_argument("--pool-size", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=900)
    args = ap.parse_args()
    instances = {i.instance_id: i for i in load_instances(args.data, ids=args.instances)}
    preds = []
    for inst in instances.values():
        wrong = mutants(inst, args.repo_mirror, args.wrong)
        cands = [("gold", inst.patch), ("empty", ""), ("tests-only", inst.test_patch)]
        cands += [(f"wrong-{i}", c) for i, c in enumerate(wrong)]
        for name, c in [("gold", inst.patch)] + [(f"wrong-{i}", c) for i, c in enumerate(wrong)]:
            t = twin(inst, args.repo_mirror, c)
            if t:
                cands.append((f"{name}-twin", t))
        preds += [{"instance_id": inst.instance_id, "model_name_or_path": n, "model_patch": p} for n, p in cands]
    limits = Limits(memory="4g", cpus=2.0, pids=1024, timeout_s=args.timeout)
    with tempfile.TemporaryDirectory(prefix="verify-cache-") as tmp:
        cache = VerdictCache(Path(tmp) / "verdicts.db")
        runs = {}
        for run in ("cold", "warm"):
            t0 = time.monotonic()
            report = batch.verify_predictions(instances, preds, repo_mirror=args.repo_mirror, pool_size=args.pool_size,
                                              limits=limits, log_dir=Path(tmp) / f"logs-{run}", verdict_cache=cache)
            runs[run] = (report, time.monotonic() - t0)
    print(f"\n{'instance':28} {'cand':>4} {'text':>4} {'meaning':>7} {'docker cold':>11} {'hits warm':>9} "
          f"{'docker warm':>11} {'cold s':>7} {'warm s':>7} {'disagree':>8}   (s: verification, image setup apart)")
    total = {"cold": 0.0, "warm": 0.0}
    for iid in instances:
        cold, warm = runs["cold"][0]["instances"][iid], runs["warm"][0]["instances"][iid]
        made = {r: sum(1 for a in e["attempts"] if a and a["duplicate_of"] is None and not a["cached"]
                       and a["status"] != "malformed") for r, e in (("cold", cold), ("warm", warm))}
        dis = sum(a["status"] != b["status"] for a, b in zip(cold["attempts"], warm["attempts"]))
        secs = {r: e.get("seconds", 0) - e.get("image_s", 0) for r, e in (("cold", cold), ("warm", warm))}
        for r in total:
            total[r] += secs[r]
        print(f"{iid:28} {cold['predictions']:>4} {cold['unique_patches']:>4} {cold['unique_semantic']:>7} "
              f"{made['cold']:>11} {warm['cache_hits']:>9} {made['warm']:>11} {secs['cold']:>7.1f} "
              f"{secs['warm']:>7.2f} {dis:>8}")
        core = sum(a.get("test_cpu_s") or 0 for a in cold["attempts"] if a and a["duplicate_of"] is None)
        print(f"  cold test core-seconds {core:.1f}; image setup cold {cold.get('image_s')} s, warm "
              f"{warm.get('image_s')} s; statuses {cold['statuses']}")
    text = sum(runs["cold"][0]["instances"][i]["unique_patches"] for i in instances)
    meaning = sum(runs["cold"][0]["instances"][i]["unique_semantic"] for i in instances)
    print(f"\ntotal: {len(preds)} candidates, {text} unique by text, {meaning} by meaning "
          f"(dedupe by meaning: {text / meaning:.2f}x fewer Docker verifications than textual dedupe); "
          f"rerun with the cache: {runs['warm'][0]['cache_hits']} hits of {len(preds)}, "
          f"verification {total['cold']:.1f} s cold vs {total['warm']:.2f} s warm "
          f"({total['cold'] / max(total['warm'], 1e-9):.0f}x faster)")


if __name__ == "__main__":
    main()
