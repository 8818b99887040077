"""Fail-fast vs full grading on real SWE-bench Lite instances: same verdicts, fewer test core-seconds?

    .venv/bin/python benchmarks/verify_cost.py [--instances ID ...] [--wrong 20] [--repo-mirror /work/mirrors]
        [--data ../shared/data/swebench/swe_bench_lite_test.jsonl.gz] [--out benchmarks/results/verify_cost.jsonl]

The default instances are 5 from 3 repos (pytest, sympy, flask) whose test files take
several core-seconds (2.6 to 19), two where fail-fast pays (pytest-11143, -11148) and three
where validation turns it off (the FAIL_TO_PASS run is most of the file's cost).
For each instance: the gold patch, the empty patch and --wrong wrong-but-applying candidates
(an operator, a constant or a keyword changed in one line near the gold change, with the
gold fix kept for about half of them and left out for the rest; real diffs against the base),
verified under both modes in the same run, on the same image, side by side. "fail-fast" is
the default grading, with its per-instance cost rule: validation turns fail-fast off where
the FAIL_TO_PASS selection costs more than half the full run (harness.health), and the
instance's line says so with both figures. Prints per instance and in total:
- disagreements: candidates whose status differs between the modes (target 0);
- test core-seconds per attempt under each mode: CPU seconds (user + system, all cores) of
  the test commands an attempt ran, measured in the container by bash's `times`, so the
  load other jobs put on the machine does not inflate it; and their ratio (full / fail-fast);
- attempts verified per core-hour under each mode (3600 / core-seconds per attempt);
- the full test command's wall time (the empty candidate's full run), to see which
  instances have test files of several seconds;
- the verdict cache on a rerun: the fail-fast pass fills a fresh cache; then every candidate
  is verified again by a new Verifier on that cache: hits, test runs made (target 0),
  changed verdicts (target 0) and the wall seconds of the rerun against the cold pass.
One row per (instance, candidate, mode) is appended to --out as it is decided.
"""
from __future__ import annotations

import argparse
import difflib
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness import patch as patches, repos  # noqa: E402
from harness.instance import load_instances  # noqa: E402
from harness.sandbox import Limits  # noqa: E402
from harness.verdict_cache import VerdictCache  # noqa: E402
from harness.verify import Verifier  # noqa: E402

DEFAULT_IDS = ["pytest-dev__pytest-11143", "pytest-dev__pytest-11148", "sympy__sympy-24152", "sympy__sympy-11400",
               "pallets__flask-5063"]
MUTATIONS = [(r" == ", " != "), (r" != ", " == "), (r" is not ", " is "), (r" is ", " is not "),
             (r" < ", " <= "), (r" > ", " >= "), (r" <= ", " < "), (r" >= ", " > "), (r" \+ ", " - "),
             (r" - ", " + "), (r"\bTrue\b", "False"), (r"\bFalse\b", "True"), (r"\band\b", "or"),
             (r"\bor\b", "and"), (r"\bnot ", ""), (r"\bif ", "if not "), (r"\breturn (\S)", r"return None and \1"),
             (r"\b0\b", "1"), (r"\b1\b", "2"), (r"\[0\]", "[-1]"), (r"\.append\(", ".remove(")]


def _files_at(mirror: Path, commit: str, paths: list[str], patch: str | None) -> dict[str, str]:
    """The files at `commit` (from the bare mirror), with `patch` applied when given."""
    with tempfile.TemporaryDirectory(prefix="verify-cost-") as tmp:
        for p in paths:
            text = subprocess.run(["git", "--git-dir", str(mirror), "show", f"{commit}:{p}"], check=True,
                                  capture_output=True, text=True).stdout
            (Path(tmp) / p).parent.mkdir(parents=True, exist_ok=True)
            (Path(tmp) / p).write_text(text)
        if patch:
            subprocess.run(["git", "apply", "-"], input=patch, text=True, cwd=tmp, check=True, capture_output=True)
        return {p: (Path(tmp) / p).read_text() for p in paths}


def mutants(inst, mirror_dir: str, n: int, gold_share: float = 0.5) -> list[str]:
    """Up to n distinct wrong-looking candidates that apply: the gold fix plus one mutated line
    near it, or one such mutation alone (the bug left in). Made as real diffs against the base."""
    mirror = repos.locate(inst.repo, mirror_dir)
    paths = [b.path for b in patches.split(inst.patch) if b.path.endswith(".py")]
    base = _files_at(mirror, inst.base_commit, paths, None)
    gold = _files_at(mirror, inst.base_commit, paths, inst.patch)
    out: list[str] = []
    for start_from in (gold, base):
        for path in paths:
            lines = start_from[path].splitlines(keepends=True)
            near = sorted({j for i in _changed_lines(base[path], gold[path])
                           for j in range(max(0, i - 30), min(len(lines), i + 30))})
            for pattern, repl in MUTATIONS:
                taken = 0
                for j in near:
                    if lines[j].lstrip().startswith("#"):
                        continue
                    new = re.sub(pattern, repl, lines[j], count=1)
                    if new != lines[j]:
                        text = "".join(lines[:j] + [new] + lines[j + 1:])
                        diff = "".join(difflib.unified_diff(base[path].splitlines(keepends=True),
                                                            text.splitlines(keepends=True),
                                                            f"a/{path}", f"b/{path}"))
                        others = [b.raw for b in patches.split(inst.patch) if b.path != path] \
                            if start_from is gold else []
                        out.append(f"diff --git a/{path} b/{path}\n" + diff + "".join(others))
                        taken += 1
                        if taken == 2:  # two lines per operator and file, then the next operator
                            break
    out = list(dict.fromkeys(c for c in out if c.strip() and patches.patch_hash(c) != patches.patch_hash(inst.patch)))
    keep = round(n * gold_share)  # these keep the gold fix (and reach the full run), the rest do not
    with_gold = [c for c in out if _has_gold(c, inst.patch)]
    without = [c for c in out if c not in with_gold]
    return (with_gold[:keep] + without + with_gold[keep:])[:n]


def _changed_lines(a: str, b: str) -> list[int]:
    """Line numbers in `b` that differ from `a`."""
    sm = difflib.SequenceMatcher(None, a.splitlines(), b.splitlines(), autojunk=False)
    return [j for tag, _, _, j1, j2 in sm.get_opcodes() if tag != "equal" for j in range(j1, max(j2, j1 + 1))]


def _has_gold(candidate: str, gold: str) -> bool:
    added = [ln for ln in gold.splitlines() if ln.startswith("+") and not ln.startswith("+++") and ln[1:].strip()]
    need = len(added) if len(added) <= 2 else len(added) - 1  # a mutation may hit one gold line
    return bool(added) and sum(ln in candidate for ln in added) >= need


def _fast_class(got: dict, names: list[str]) -> dict:
    """Mean core-seconds, under each mode, of the attempts fail-fast decided on its own."""
    fast = [n for n in names if got[(n, "fail-fast")]["decided_by"] == "fail-fast"]
    mean = lambda m: statistics.mean(got[(n, m)]["test_cpu_s"] or 0 for n in fast) if fast else 0.0  # noqa: E731
    return {"fast_n": len(fast), "fast_ff": mean("fail-fast"), "fast_full": mean("full")}


def _issue_workload(got: dict, names: list[str]) -> dict:
    """Mean core-seconds per attempt over gold, empty and the mutants that are really wrong
    (not resolved under full grading): issue 14's workload. Mutants that keep the gold fix and
    still resolve are left out here (they are in the mixed figure)."""
    keep = [n for n in names if n in ("gold", "empty") or got[(n, "full")]["status"] != "resolved"]
    mean = lambda m: statistics.mean(got[(n, m)]["test_cpu_s"] or 0 for n in keep) if keep else 0.0  # noqa: E731
    return {"wrong_n": len(keep) - sum(n in ("gold", "empty") for n in keep),
            "wrong_ff": mean("fail-fast"), "wrong_full": mean("full")}


def got_status(rows: list[dict], iid: str, name: str) -> str | None:
    """The fail-fast pass's status of one candidate (the last such row)."""
    found = [r["status"] for r in rows if r.get("instance_id") == iid and r.get("candidate") == name
             and r.get("mode") == "fail-fast"]
    return found[-1] if found else None


def summarize(rows: list[dict]) -> None:
    """The table, from the JSONL rows (this run's or an earlier one's: --report-only)."""
    by_inst: dict[str, dict] = {}
    for row in rows:
        d = by_inst.setdefault(row["instance_id"], {"got": {}, "health": {}})
        if "candidate" in row:
            d["got"][(row["candidate"], row["mode"])] = row
        else:
            d["health"] = row
    table = []
    for iid, d in by_inst.items():
        got, rerun = d["got"], {n: r for (n, m), r in d["got"].items() if m == "rerun"}
        names = [n for n in dict.fromkeys(n for n, _ in got) if (n, "fail-fast") in got and (n, "full") in got]
        if not names:
            continue
        unique = [n for n in names if got[(n, "full")]["duplicate_of"] is None]
        dis = [n for n in names if got[(n, "full")]["status"] != got[(n, "fail-fast")]["status"]]
        cpu = {m: statistics.mean(got[(n, m)]["test_cpu_s"] or 0 for n in unique) for m in ("fail-fast", "full")}
        table.append({"instance": iid, "candidates": len(names), "unique": len(unique),
                      "resolved": sum(got[(n, "full")]["status"] == "resolved" for n in names),
                      "ff_decided": sum(got[(n, "fail-fast")]["decided_by"] == "fail-fast" for n in unique),
                      "disagreements": dis, "cpu_ff": cpu["fail-fast"], "cpu_full": cpu["full"],
                      "full_wall": got.get(("empty", "full"), {}).get("test_command_s") or 0,
                      "full_cpu": got.get(("empty", "full"), {}).get("test_cpu_s") or 0,
                      "note": d["health"].get("fail_fast_note"), "rerun": rerun,
                      "cold_wall": sum(got[(n, "fail-fast")].get("duration_s") or 0 for n in unique),
                      **_fast_class(got, unique), **_issue_workload(got, unique)})
    if not table:
        sys.exit("no instance could be measured")
    print(f"\n{'instance':26} {'cand':>4} {'uniq':>4} {'res':>3} {'ff-dec':>6} {'disagree':>8} "
          f"{'empty full: wall s':>18} {'core-s':>6} | {'core-s/attempt full':>19} {'ff':>6} {'ratio':>6} "
          f"| {'attempts/core-h full':>20} {'ff':>6}")
    for r in table:
        ratio = r["cpu_full"] / r["cpu_ff"] if r["cpu_ff"] else float("nan")
        print(f"{r['instance']:26} {r['candidates']:>4} {r['unique']:>4} {r['resolved']:>3} {r['ff_decided']:>6} "
              f"{len(r['disagreements']):>8} {r['full_wall']:>18.2f} {r['full_cpu']:>6.2f} | {r['cpu_full']:>19.2f} "
              f"{r['cpu_ff']:>6.2f} {ratio:>6.2f} | {3600 / r['cpu_full'] if r['cpu_full'] else 0:>20.0f} "
              f"{3600 / r['cpu_ff'] if r['cpu_ff'] else 0:>6.0f}")
        if r["disagreements"]:
            print(f"  disagreements: {r['disagreements']}")
        if r["note"]:
            print(f"  fail-fast off for this instance: {r['note']}")
        if r["rerun"]:
            rr = r["rerun"].values()
            changed = [n for n, x in r["rerun"].items() if x["status"] != got_status(rows, r["instance"], n)]
            warm = sum(x.get("duration_s") or 0 for x in rr)
            print(f"  rerun on the verdict cache: {sum(bool(x.get('cached')) for x in rr)}/{len(rr)} hits, "
                  f"{sum(not x.get('cached') for x in rr)} test runs, {len(changed)} changed verdicts; "
                  f"{warm:.1f} s against {r['cold_wall']:.1f} s cold "
                  f"({r['cold_wall'] / warm if warm else float('nan'):.0f}x)")
        if r["fast_n"]:
            print(f"  the {r['fast_n']} attempts fail-fast decided: core-s full {r['fast_full']:.2f}, "
                  f"fail-fast {r['fast_ff']:.2f} ({r['fast_full'] / r['fast_ff'] if r['fast_ff'] else float('nan'):.1f}x); "
                  f"the others pay both runs")
        if r["wrong_n"]:
            print(f"  gold + empty + the {r['wrong_n']} mutants that are wrong (not resolved): core-s per attempt "
                  f"full {r['wrong_full']:.2f}, fail-fast {r['wrong_ff']:.2f} "
                  f"({r['wrong_full'] / r['wrong_ff'] if r['wrong_ff'] else float('nan'):.2f}x)")
    total_ff = sum(r["cpu_ff"] * r["unique"] for r in table)
    total_full = sum(r["cpu_full"] * r["unique"] for r in table)
    n = sum(r["unique"] for r in table)
    print(f"\ntotal: {len(table)} instances, {n} unique attempts, "
          f"{sum(len(r['disagreements']) for r in table)} disagreements; core-s per attempt full "
          f"{total_full / n:.2f}, fail-fast {total_ff / n:.2f} (full / fail-fast = "
          f"{total_full / total_ff if total_ff else float('nan'):.2f}x); attempts per core-hour full "
          f"{3600 * n / total_full:.0f}, fail-fast {3600 * n / total_ff:.0f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", nargs="+", default=DEFAULT_IDS)
    ap.add_argument("--data", default=str(ROOT.parent / "shared/data/swebench/swe_bench_lite_test.jsonl.gz"))
    ap.add_argument("--repo-mirror", default="/work/mirrors")
    ap.add_argument("--wrong", type=int, default=20)
    ap.add_argument("--gold-share", type=float, default=0.5,
                    help="Share of the wrong candidates that keep the gold fix plus a mutation.")
    ap.add_argument("--pairs", type=int, default=1, help="Candidates verified at once (each in both modes).")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/verify_cost.jsonl"))
    ap.add_argument("--report-only", action="store_true", help="Only print the table of the rows in --out.")
    args = ap.parse_args()
    if args.report_only:
        with open(args.out, encoding="utf-8") as f:
            summarize([json.loads(line) for line in f if line.strip()])
        return
    limits = Limits(memory="4g", cpus=2.0, pids=1024, timeout_s=args.timeout)
    out = open(args.out, "a", encoding="utf-8")
    rows: list[dict] = []

    def emit(row: dict) -> None:
        rows.append(row)
        out.write(json.dumps(row) + "\n")
        out.flush()

    for inst in load_instances(args.data, ids=args.instances):
        cands = {"gold": inst.patch, "empty": ""}
        cands.update({f"wrong-{i}": c for i, c in enumerate(mutants(inst, args.repo_mirror, args.wrong, args.gold_share))})
        t0 = time.monotonic()
        try:
            with Verifier(inst, repo_mirror=args.repo_mirror, pool_size=1, limits=limits) as v:
                image = v.ensure_image()
                health = v.health()
        except Exception as exc:  # an instance we cannot build is reported, not fatal
            print(f"{inst.instance_id}: no image ({str(exc).splitlines()[0][:200]})")
            continue
        emit({"instance_id": inst.instance_id, "image": image, "healthy": health.healthy,
              "reason": health.reason, "fail_fast_cmd": health.fail_fast_cmd,
              "fail_fast_note": health.fail_fast_note, "full_cpu_s": health.full_cpu_s,
              "fail_fast_cpu_s": health.fail_fast_cpu_s, "setup_s": round(time.monotonic() - t0, 1)})
        if not health.healthy:
            print(f"{inst.instance_id}: broken environment: {health.reason}")
            continue
        # Both modes side by side, candidate by candidate: every finished pair is comparable
        # even if the run is cut short (then --report-only on the rows so far).
        unique = {patches.patch_hash(p): (n, p) for n, p in reversed(cands.items())}  # first wins
        ordered = sorted(unique.values(), key=lambda np: list(cands).index(np[0]))

        def record(name: str, mode: str, verdict) -> None:
            emit({"instance_id": inst.instance_id, "candidate": name, "mode": mode,
                  "status": verdict.status, "decided_by": verdict.decided_by,
                  "test_cpu_s": verdict.test_cpu_s, "test_command_s": verdict.test_command_s,
                  "duration_s": verdict.duration_s, "cached": verdict.cached, "duplicate_of": None,
                  "time": time.time()})

        with tempfile.TemporaryDirectory(prefix="verify-cost-cache-") as cache_dir:
            cache = VerdictCache(Path(cache_dir) / "verdicts.db")  # fresh: the fail-fast pass fills it
            with Verifier(inst, image=image, repo_mirror=args.repo_mirror, pool_size=1, limits=limits,
                          fail_fast=True, verdict_cache=cache) as ff, \
                    Verifier(inst, image=image, pool_size=1, limits=limits, fail_fast=False) as full, \
                    ThreadPoolExecutor(2 * args.pairs) as pool:
                jobs = [(name, mode, pool.submit(v.verify, patch)) for name, patch in ordered
                        for mode, v in (("fail-fast", ff), ("full", full))]
                for name, mode, job in jobs:
                    record(name, mode, job.result())
            # The rerun: a new Verifier (as a new process would make) on the warm cache.
            with Verifier(inst, image=image, repo_mirror=args.repo_mirror, pool_size=1, limits=limits,
                          fail_fast=True, verdict_cache=cache) as again:
                for name, patch in ordered:
                    record(name, "rerun", again.verify(patch))
            cache.close()
        print(f"{inst.instance_id}: done", flush=True)
    out.close()
    summarize(rows)


if __name__ == "__main__":
    main()
