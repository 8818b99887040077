"""Flakiness of mirrorable SWE-bench Lite instances: gold and empty patches, run several times each.

Every instance is validated (harness.health) with `--runs` full runs of the empty candidate and
of the gold patch (default 3), on a fresh validation cache; one JSON row per (instance, label)
is appended to --results as soon as it is known (reruns skip rows already there). A row holds
each run's status and seconds and the tests whose status varied. `--label before` runs with
sympy's runner seed unpinned (harness.specs.SYMPY_SEED = None: a new random seed every run, as
the official harness does); `after` (default) with it pinned. The table prints per label the
instances and tests whose outcome varied, the verdicts (gold / empty status) that changed between
identical runs, and the validation cost: what validation costs now (VALIDATION_RUNS full runs of
each patch) against before (one empty run, plus one gold run where stop-first needed it), as a
ratio against one full run of the instance.

    python benchmarks/flaky.py --repo-mirror /work/mirrors --ids sympy__sympy-13177 sympy__sympy-14024 --label before
    python benchmarks/flaky.py --repo-mirror /work/mirrors --limit 40          # label after, spread order
    python benchmarks/flaky.py --table-only
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.lite_gold import DATA, ordered  # noqa: E402

DEFAULT_RESULTS = Path(__file__).resolve().parent / "results" / "flaky.jsonl"
FIRST = ["sympy__sympy-13177", "sympy__sympy-14024"]  # the pair, then the requests instances


def load_rows(path: Path) -> dict[tuple[str, str], dict]:
    rows = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                rows[(row["instance_id"], row["label"])] = row
    return rows


def run_one(inst, args, client) -> dict:
    from harness import failfast, health, images, specs
    from harness.sandbox import Limits
    from harness.verify import Verifier

    if args.label == "before":
        specs.SYMPY_SEED = None
    row = {"instance_id": inst.instance_id, "repo": inst.repo, "label": args.label, "runs_wanted": args.runs,
           "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    t0 = time.monotonic()
    try:
        tag = images.ensure_image(inst, repo_mirror=args.repo_mirror, client=client, use_prebuilt=False)
    except Exception as exc:  # a row, never the end of the run
        row.update(error=f"build: {type(exc).__name__}: {exc}"[-600:], build_s=round(time.monotonic() - t0, 1))
        return row
    row["build_s"] = round(time.monotonic() - t0, 1)
    limits = Limits(memory="6g", cpus=2.0, pids=2048, timeout_s=args.timeout)
    with tempfile.TemporaryDirectory(prefix="flaky-validations-") as cache:
        t1 = time.monotonic()
        try:
            with Verifier(inst, repo_mirror=args.repo_mirror, image=tag, pool_size=1, limits=limits,
                          log_dir=args.log_dir, client=client, cache_dir=cache, validation_runs=args.runs) as v:
                h = v.health()
                row["test_cmd"] = v.spec.test_cmd
                row["stop_first_possible"] = failfast.command(v.spec.test_cmd) is not None
        except Exception as exc:
            traceback.print_exc()
            row.update(error=f"{type(exc).__name__}: {exc}"[-600:])
            return row
        row["validation_s"] = round(time.monotonic() - t1, 1)
    row.update(healthy=h.healthy, reason=h.reason, note=h.note, hash_seed=h.hash_seed, runs=h.runs,
               run_s=h.run_s, flaky=h.flaky, version=health.VERSION)
    return row


def costs(row: dict) -> tuple[int, int, float, float, float] | None:
    """(full runs validation made before, full runs it makes now, one full run's median seconds,
    before seconds, now seconds) from a row's runs, or None. Before: one empty run, plus one gold
    run where the stop-first check needed it; now: VALIDATION_RUNS of each."""
    from harness.health import VALIDATION_RUNS

    e, g = row.get("run_s", {}).get("empty", []), row.get("run_s", {}).get("gold", [])
    if len(e) < VALIDATION_RUNS or len(g) < VALIDATION_RUNS:
        return None
    one = sorted(e + g)[len(e + g) // 2]
    runs_before = 1 + bool(row.get("stop_first_possible"))
    before = e[0] + (g[0] if row.get("stop_first_possible") else 0.0)
    return runs_before, 2 * VALIDATION_RUNS, one, before, sum(e[:VALIDATION_RUNS]) + sum(g[:VALIDATION_RUNS])


def changed(row: dict) -> list[str]:
    """The patches whose verdict (status) was not the same in every run."""
    return [f"{k}: {', '.join(v)}" for k, v in (row.get("runs") or {}).items() if len(set(v)) > 1]


def table(rows: list[dict]) -> str:
    out = []
    for label in ("before", "after"):
        rs = [r for r in rows if r["label"] == label]
        if not rs:
            continue
        full = [r for r in rs if all(len(x) >= r["runs_wanted"] for x in (r.get("runs") or {"": []}).values())
                and r.get("runs")]
        out += [f"## {label} ({'sympy runner seed unpinned' if label == 'before' else 'sympy runner seed pinned'})",
                "", f"{len(rs)} instances; {len(full)} with every run made (the others: the image cannot judge, "
                    "so validation stopped, or an error)", "",
                "| instance | healthy | runs (empty / gold) | verdicts that changed | tests whose outcome varied |",
                "|---|---|---|---|---|"]
        for r in sorted(rs, key=lambda r: r["instance_id"]):
            runs = r.get("runs") or {}
            why = "" if r.get("healthy") else f" ({(r.get('reason') or r.get('error') or '')[:80]})"
            flaky = r.get("flaky") or {}
            shown = "; ".join(f"{t} [{s}]" for t, s in list(flaky.items())[:3]) + (" ..." if len(flaky) > 3 else "")
            out.append(f"| {r['instance_id']} | {r.get('healthy', 'error')}{why} | "
                       f"{', '.join(runs.get('empty', []))} / {', '.join(runs.get('gold', []))} | "
                       f"{'; '.join(changed(r)) or '-'} | {shown or '-'} |")
        c = [x for x in map(costs, full) if x]
        varied = [r for r in full if r.get("flaky")]
        flips = [r for r in full if changed(r)]
        out += ["", f"instances with a test whose outcome varied: {len(varied)} of {len(full)}; "
                    f"with a verdict that changed between identical runs: {len(flips)} of {len(full)}"]
        if c:
            extra = [(n - b) for b, n, *_ in c]
            out.append(f"validation cost (mean over {len(c)}): {sum(b for b, *_ in c) / len(c):.2f} full runs before, "
                       f"{sum(n for _, n, *_ in c) / len(c):.2f} now: {sum(extra) / len(extra):.2f} extra full runs per "
                       f"image; measured {sum(x[3] for x in c):.0f} s -> {sum(x[4] for x in c):.0f} s "
                       f"({sum(x[4] for x in c) / max(sum(x[3] for x in c), 1e-9):.2f}x; one full run's median "
                       f"{sorted(x[2] for x in c)[len(c) // 2]:.0f} s; the FAIL_TO_PASS selection run, the same in both, "
                       "left out)")
        out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--repo-mirror", default="/work/mirrors")
    ap.add_argument("--ids", nargs="*")
    ap.add_argument("--limit", type=int, help="at most this many instances (in order)")
    ap.add_argument("--label", choices=["before", "after"], default="after")
    ap.add_argument("--runs", type=int, default=3, help="full runs of the empty and of the gold patch each")
    ap.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    ap.add_argument("--log-dir", default="/tmp/monkeys-swe-flaky-logs")
    ap.add_argument("--timeout", type=float, default=900, help="seconds per test run")
    ap.add_argument("--table-only", action="store_true")
    ap.add_argument("--markdown", type=Path, help="also write the table here")
    args = ap.parse_args(argv)

    from harness import repos
    from harness.instance import load_instances

    done = load_rows(args.results)
    if not args.table_only:
        from harness.docker_util import get_client

        instances = load_instances(args.data, ids=args.ids)
        present = set()
        for repo in {i.repo for i in instances}:
            try:
                repos.locate(repo, args.repo_mirror, clone=False)
                present.add(repo)
            except repos.RepoError:
                pass
        instances = [i for i in instances if i.repo in present]
        rank = {iid: n for n, iid in enumerate(FIRST)}
        plan = sorted((i for i, _ in ordered(instances, "spread")),
                      key=lambda i: (rank.get(i.instance_id, len(rank)), i.repo != "psf/requests"))
        plan = plan[:args.limit] if args.limit else plan
        todo = [i for i in plan if (i.instance_id, args.label) not in done]
        print(f"{len(plan)} planned, {len(todo)} to run ({args.label})", flush=True)
        args.results.parent.mkdir(parents=True, exist_ok=True)
        client = get_client()
        for n, inst in enumerate(todo):
            row = run_one(inst, args, client)
            done[(inst.instance_id, args.label)] = row
            with args.results.open("a") as f:
                f.write(json.dumps(row) + "\n")
            print(f"[{n + 1}/{len(todo)}] {inst.instance_id}: healthy={row.get('healthy')} runs={row.get('runs')} "
                  f"flaky={sorted(row.get('flaky') or [])} ({row.get('validation_s')} s)", flush=True)
    text = table(list(done.values()))
    print(text)
    if args.markdown:
        args.markdown.write_text(f"# Flaky tests at validation ({time.strftime('%Y-%m-%d')})\n\n"
                                 f"    python benchmarks/flaky.py --repo-mirror /work/mirrors ...\n\n{text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
