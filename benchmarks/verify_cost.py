"""Fail-fast vs full grading on real SWE-bench Lite instances: same verdicts, fewer test core-seconds?

    .venv/bin/python benchmarks/verify_cost.py [--instances ID ...] [--wrong 20] [--repo-mirror /work/mirrors]
        [--data ../shared/data/swebench/swe_bench_lite_test.jsonl.gz] [--out benchmarks/results/verify_cost.jsonl]

The default instances are 5 from 3 repos (pytest, sympy, flask) whose test files take
several core-seconds (2.6 to 19), two where fail-fast pays (pytest-11143, -11148) and three
where validation turns it off (the FAIL_TO_PASS run is most of the file's cost).
For each instance: the gold patch, the empty patch and --wrong wrong-but-applying candidates
(an operator, a constant or a keyword changed in one line near the gold change, with the
gold fix kept for about half of them and left out for the rest; real diffs against the base),
verified under every mode in the same run, on the same image, side by side (--modes):
- "full": the full official command only (the baseline);
- "fail-fast": the FAIL_TO_PASS selection first, then the full command (with its per-instance
  cost rule: validation turns it off where the selection costs more than half the full run);
- "stop-first" (the default grading): the same, then the full command with the runner's
  stop-at-first-failure option (pytest --maxfail=1), then the plain full command only when that
  run stopped on a test outside FAIL_TO_PASS/PASS_TO_PASS (harness.failfast).
Validation's notes (why a stage is off) are printed per instance. Prints per instance and in total:
- disagreements: candidates whose status differs from full grading's (target 0);
- which stage decided, and how many stop-first runs needed the rerun;
- test core-seconds per attempt under each mode: CPU seconds (user + system, all cores) of
  the test commands an attempt ran, measured in the container by bash's `times`, so the
  load other jobs put on the machine does not inflate it; and their ratio (full / fail-fast);
- attempts verified per core-hour under each mode (3600 / core-seconds per attempt);
- the full test command's wall time (the empty candidate's full run), to see which
  instances have test files of several seconds;
- the verdict cache on a rerun: the default mode's pass fills a fresh cache; then every candidate
  is verified again by a new Verifier on that cache: hits, test runs made (target 0),
  changed verdicts (target 0) and the wall seconds of the rerun against the cold pass.
One row per (instance, candidate, mode) is appended to --out as it is decided.
"""
from __future__ import annotations

import argparse
import difflib
import json
import os
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


MODES = {  # mode -> Verifier options; "full" is the baseline every other mode is compared with
    "full": {"fail_fast": False},
    "fail-fast": {"fail_fast": True, "stop_first": False},  # FAIL_TO_PASS first, then the full run
    "stop-first": {"fail_fast": True, "stop_first": True},  # the default: ..., then --maxfail=1, then full
}
DEFAULT_MODE = "stop-first"  # the verify default: it fills the cache the rerun reads


def _mean(got: dict, names: list[str], mode: str) -> float:
    return statistics.mean(got[(n, mode)]["test_cpu_s"] or 0 for n in names) if names else 0.0


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def got_status(rows: list[dict], iid: str, name: str, mode: str = DEFAULT_MODE) -> str | None:
    """The status one mode gave one candidate (the last such row)."""
    found = [r["status"] for r in rows if r.get("instance_id") == iid and r.get("candidate") == name
             and r.get("mode") == mode]
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
        modes = [m for m in MODES if m != "full" and any(k[1] == m for k in got)]
        names = [n for n in dict.fromkeys(n for n, _ in got) if all((n, m) in got for m in ["full", *modes])]
        if not names or not modes:
            continue
        unique = [n for n in names if got[(n, "full")]["duplicate_of"] is None]
        wrong = [n for n in unique if n in ("gold", "empty") or got[(n, "full")]["status"] != "resolved"]
        per = {}
        for m in modes:
            per[m] = {"dis": [n for n in names if got[(n, "full")]["status"] != got[(n, m)]["status"]],
                      "cpu": _mean(got, unique, m), "wrong": _mean(got, wrong, m),
                      "reruns": sum(any(s.endswith("(rerun)") for s in got[(n, m)].get("stages") or [])
                                    for n in unique),
                      "by": _count(got[(n, m)]["decided_by"] for n in unique)}
        table.append({"instance": iid, "candidates": len(names), "unique": len(unique), "modes": per,
                      "resolved": sum(got[(n, "full")]["status"] == "resolved" for n in names),
                      "cpu_full": _mean(got, unique, "full"), "wrong_full": _mean(got, wrong, "full"),
                      "wrong_n": len(wrong) - sum(n in ("gold", "empty") for n in wrong),
                      "full_wall": got.get(("empty", "full"), {}).get("test_command_s") or 0,
                      "full_cpu": got.get(("empty", "full"), {}).get("test_cpu_s") or 0,
                      "health": d["health"], "rerun": rerun,
                      "cold_wall": sum(got[(n, modes[-1])].get("duration_s") or 0 for n in unique)})
    if not table:
        sys.exit("no instance could be measured")
    for r in table:
        print(f"\n{r['instance']}: {r['candidates']} candidates ({r['unique']} unique, {r['resolved']} resolved); "
              f"empty candidate's full run {r['full_wall']:.2f} s wall, {r['full_cpu']:.2f} core-s")
        for key, label in (("fail_fast_note", "fail-fast (FAIL_TO_PASS first) off"),
                           ("stop_first_note", "stop-first off")):
            if r["health"].get(key):
                print(f"  {label}: {r['health'][key]}")
        print(f"  {'mode':10} {'disagree':>8} {'core-s/attempt':>14} {'full/mode':>9} {'attempts/core-h':>15} "
              f"| {'gold+empty+wrong':>16} {'full/mode':>9} | decided by")
        print(f"  {'full':10} {'-':>8} {r['cpu_full']:>14.2f} {1:>9.2f} {3600 / r['cpu_full'] if r['cpu_full'] else 0:>15.0f} "
              f"| {r['wrong_full']:>16.2f} {1:>9.2f} |")
        for m, x in r["modes"].items():
            print(f"  {m:10} {len(x['dis']):>8} {x['cpu']:>14.2f} {_ratio(r['cpu_full'], x['cpu']):>9.2f} "
                  f"{3600 / x['cpu'] if x['cpu'] else 0:>15.0f} | {x['wrong']:>16.2f} "
                  f"{_ratio(r['wrong_full'], x['wrong']):>9.2f} | {x['by']}, {x['reruns']} reruns")
            if x["dis"]:
                print(f"    disagreements with full grading: {x['dis']}")
        if r["rerun"]:
            rr = r["rerun"].values()
            filled_by = DEFAULT_MODE if DEFAULT_MODE in r["modes"] else list(r["modes"])[-1]  # older rows: fail-fast
            changed = [n for n, x in r["rerun"].items() if x["status"] != got_status(rows, r["instance"], n, filled_by)]
            warm = sum(x.get("duration_s") or 0 for x in rr)
            print(f"  rerun on the verdict cache: {sum(bool(x.get('cached')) for x in rr)}/{len(rr)} hits, "
                  f"{sum(not x.get('cached') for x in rr)} test runs, {len(changed)} changed verdicts; "
                  f"{warm:.1f} s against {r['cold_wall']:.1f} s cold")
    n = sum(r["unique"] for r in table)
    total_full = sum(r["cpu_full"] * r["unique"] for r in table)
    print(f"\ntotal: {len(table)} instances, {n} unique attempts; full grading {total_full / n:.2f} core-s per attempt")
    for m in MODES:
        had = [r for r in table if m in r["modes"]]
        if m == "full" or not had:
            continue
        tot = sum(r["modes"][m]["cpu"] * r["unique"] for r in had)
        base = sum(r["cpu_full"] * r["unique"] for r in had)
        k = sum(r["unique"] for r in had)
        print(f"  {m}: {sum(len(r['modes'][m]['dis']) for r in had)} disagreements with full grading; "
              f"{tot / k:.2f} core-s per attempt (full / {m} = {_ratio(base, tot):.2f}x); attempts per core-hour "
              f"{3600 * k / tot if tot else 0:.0f} against {3600 * k / base if base else 0:.0f}")


def _count(items) -> dict:
    out: dict = {}
    for x in items:
        out[x] = out.get(x, 0) + 1
    return dict(sorted(out.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--instances", nargs="+", default=DEFAULT_IDS)
    ap.add_argument("--data", default=str(ROOT.parent / "shared/data/swebench/swe_bench_lite_test.jsonl.gz"))
    ap.add_argument("--repo-mirror", default="/work/mirrors")
    ap.add_argument("--wrong", type=int, default=20)
    ap.add_argument("--gold-share", type=float, default=0.5,
                    help="Share of the wrong candidates that keep the gold fix plus a mutation.")
    ap.add_argument("--pairs", type=int, default=1, help="Candidates verified at once (each in every mode).")
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES),
                    help="Grading modes compared; full grading is the baseline and is always run.")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/verify_cost.jsonl"))
    ap.add_argument("--report-only", action="store_true", help="Only print the table of the rows in --out.")
    args = ap.parse_args()
    args.modes = ["full", *[m for m in args.modes if m != "full"]]
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
              "fail_fast_cpu_s": health.fail_fast_cpu_s, "stop_first_cmd": health.stop_first_cmd,
              "stop_first_note": health.stop_first_note, "gold_full_cpu_s": health.gold_full_cpu_s,
              "setup_s": round(time.monotonic() - t0, 1)})
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
                  "stages": [st["stage"] for st in verdict.stages], "time": time.time()})

        with tempfile.TemporaryDirectory(prefix="verify-cost-cache-") as cache_dir:
            cache = VerdictCache(Path(cache_dir) / "verdicts.db")  # fresh: the default mode's pass fills it
            verifiers = {m: Verifier(inst, image=image, repo_mirror=args.repo_mirror, pool_size=1, limits=limits,
                                     verdict_cache=cache if m == DEFAULT_MODE else None, **MODES[m])
                         for m in args.modes}
            try:
                with ThreadPoolExecutor(len(verifiers) * args.pairs) as pool:
                    jobs = [(name, mode, pool.submit(v.verify, patch)) for name, patch in ordered
                            for mode, v in verifiers.items()]
                    for name, mode, job in jobs:
                        record(name, mode, job.result())
            finally:
                for v in verifiers.values():
                    v.close()
            if DEFAULT_MODE in verifiers:  # the rerun: a new Verifier (as a new process would make) on the warm cache
                with Verifier(inst, image=image, repo_mirror=args.repo_mirror, pool_size=1, limits=limits,
                              verdict_cache=cache, **MODES[DEFAULT_MODE]) as again:
                    for name, patch in ordered:
                        record(name, "rerun", again.verify(patch))
            cache.close()
        print(f"{inst.instance_id}: done", flush=True)
    out.close()
    summarize(rows)
    load = os.getloadavg()
    print(f"machine load average at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min) on "
          f"{os.cpu_count()} cores; core-seconds are the test commands' own CPU time, so other jobs inflate "
          f"them less than wall time (not at all only on an idle machine)")


if __name__ == "__main__":
    main()
