"""Ten interrupts in a row on real runs: Ctrl-C, SIGTERM and kill -9 during model loading, sampling
(the embedded llama.cpp model), verification and an image build; each run is then rerun to the end.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/interrupts.py [--only NAME ...]

Counts per interrupt: crash (SIGSEGV/abort, exit 139), exit status against the expected one
(130 Ctrl-C, 143 SIGTERM, -9 kill -9), the resume line, seconds from the signal to the exit,
containers left after the rerun (this session's and build step containers), and attempts lost
(attempts stored before the interrupt that are missing, or changed, after the rerun).
Target: 0 crashes, 0 containers left, 0 attempts lost. Prints a markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("MONKEYS_SWE_SESSION", "intr-" + uuid.uuid4().hex[:8])

from harness_fixture import GOLD_EDIT, INSTALL, OPS, make_fixture_instance, make_patch  # noqa: E402
from interrupting import (RESUME_LINE, attempts, crashed, existing, interrupt, launch, noted_steps,  # noqa: E402
                          our_containers, wait_for)

DATA = ROOT.parent / "shared" / "data"
SIG = {"INT": signal.SIGINT, "TERM": signal.SIGTERM, "KILL": signal.SIGKILL}
EXPECT = {"INT": 130, "TERM": 143, "KILL": -9}


def db_of(runs: Path, pattern: str) -> Path | None:
    found = sorted(runs.glob(pattern))
    return found[0] if found else None


def bench_args(runs: Path) -> list[str]:
    return ["bench", "gsm8k", "--data", str(DATA / "gsm8k" / "test.jsonl"), "--limit", "1", "--samples", "2",
            "--max-tokens", "8", "--runs-dir", str(runs), "--no-report"]


def scenario(work: Path, name: str, args: list[str], sig: str, ready, db_glob: str | None, *, twice: bool = False,
             rerun_ok=(0,), after=None, builds: set | None = None) -> dict:
    """Start ARGS, wait until `ready(run)`, send the signal, check, rerun the same command to its end."""
    run = launch(args, work, name)
    reached = wait_for(lambda: ready(run), 600, run.proc)
    before = attempts(db_of(work, db_glob)) if db_glob and db_of(work, db_glob) else {}
    rc, secs = interrupt(run, SIG[sig], twice=twice) if reached else (run.proc.wait(), 0.0)
    before = {**before, **(attempts(db_of(work, db_glob)) if db_glob and db_of(work, db_glob) else {})}
    err = run.stderr()
    row = {"name": name, "signal": sig + (" x2" if twice else ""), "reached": reached, "exit": rc,
           "expected": EXPECT[sig], "crash": crashed(rc), "resume line": RESUME_LINE in err or sig == "KILL",
           "exit s": round(secs, 1), "stored before": len(before)}
    if after:
        row.update(after(run))
    again = launch(args, work, name + "-rerun")
    again_rc = again.proc.wait(timeout=900)
    after_rerun = attempts(db_of(work, db_glob)) if db_glob and db_of(work, db_glob) else {}
    row["rerun exit"] = again_rc if again_rc in rerun_ok else f"{again_rc}: {again.stderr().strip()[-200:]}"
    row["lost"] = sum(1 for k, t in before.items() if after_rerun.get(k) != t) if db_glob else "-"
    time.sleep(2)
    # this session's containers, and the build step containers this run was seen running
    steps_seen = builds or set()
    row["containers left"] = len(our_containers()) + (len(existing(steps_seen)) if builds else 0)
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", nargs="*")
    opts = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="interrupts-"))
    inst, mirror = make_fixture_instance(work)
    data = work / "calc.jsonl"
    data.write_text(inst.model_dump_json(exclude_none=True) + "\n")
    sampling = lambda glob: lambda run: len(attempts(db_of(work, glob) or work / "none")) >= 1  # noqa: E731
    loading = lambda run: "loading model" in run.stderr()  # noqa: E731
    solve = ["solve", inst.instance_id, "--data", str(data), "--repo-mirror", str(mirror), "--samples", "2",
             "--max-tokens", "48", "--verify-workers", "1"]
    hung = make_patch(mirror, {GOLD_EDIT[0]: OPS.replace(GOLD_EDIT[1], "    while True:\n        pass\n")})
    preds = work / "preds.jsonl"
    preds.write_text("".join(json.dumps({"instance_id": inst.instance_id, "model_patch": p}) + "\n"
                             for p in (inst.patch, hung)))

    def slow_build(tag: str) -> list[str]:  # a new instance (new image) whose build runs 30 s
        other = inst.model_copy(update={"instance_id": f"monkeys__calc-{tag}{uuid.uuid4().hex[:6]}",
                                        "install": [*INSTALL, "sleep 30"]})
        path = work / f"{tag}.jsonl"
        path.write_text(other.model_dump_json(exclude_none=True) + "\n")
        return ["verify", "--gold", "--instance", other.instance_id, "--data", str(path), "--repo-mirror", str(mirror),
                "--no-cache", "--report", str(work / f"{tag}-report.json")]

    seen_steps: set[str] = set()

    def building(run) -> bool:  # a build step container of this process is running
        seen_steps.update(noted_steps(run.proc.pid))
        return bool(seen_steps)
    verifying = lambda run: len(our_containers(run.proc.pid)) >= 1 and "verifying" in run.stderr()  # noqa: E731

    def report_nulls(tag: str):
        def check(run) -> dict:
            path = work / f"{tag}-report.json"
            text = path.read_text() if path.exists() else ""
            return {"null attempts": text.count("null,") if '"attempts": [\n      null' in text else 0,
                    "steps left at exit": len(existing(seen_steps))}
        return check

    plan = [
        ("verify-build-INT", lambda: scenario(work, "verify-build-INT", slow_build("b1"), "INT", building, None,
                                              after=report_nulls("b1"), rerun_ok=(0,), builds=seen_steps)),
        ("verify-build-KILL", lambda: scenario(work, "verify-build-KILL", slow_build("b2"), "KILL", building, None,
                                               after=report_nulls("b2"), rerun_ok=(0,), builds=seen_steps)),
        ("verify-verification-TERM", lambda: scenario(
            work, "verify-verification-TERM", ["verify", str(preds), "--data", str(data), "--repo-mirror", str(mirror),
                                               "--timeout", "20", "--no-cache", "--report", str(work / "v.json")],
            "TERM", verifying, None, rerun_ok=(0, 3))),
        ("bench-sampling-INT", lambda: scenario(work, "bench-sampling-INT", bench_args(work / "r2"), "INT",
                                                sampling("r2/*/run.db"), "r2/*/run.db")),
        ("bench-sampling-TERM", lambda: scenario(work, "bench-sampling-TERM", bench_args(work / "r3"), "TERM",
                                                 sampling("r3/*/run.db"), "r3/*/run.db")),
        ("bench-sampling-KILL", lambda: scenario(work, "bench-sampling-KILL", bench_args(work / "r4"), "KILL",
                                                 sampling("r4/*/run.db"), "r4/*/run.db")),
        ("solve-sampling-TERM", lambda: scenario(work, "solve-sampling-TERM", [*solve, "--runs-dir", str(work / "s2")],
                                                 "TERM", sampling("s2/solve/*/*/run.db"), "s2/solve/*/*/run.db",
                                                 rerun_ok=(0, 4))),
        ("bench-sampling-INTx2", lambda: scenario(work, "bench-sampling-INTx2", bench_args(work / "r5"), "INT",
                                                  sampling("r5/*/run.db"), "r5/*/run.db", twice=True)),
        ("solve-sampling-INT", lambda: scenario(work, "solve-sampling-INT", [*solve, "--runs-dir", str(work / "s1")],
                                                "INT", sampling("s1/solve/*/*/run.db"), "s1/solve/*/*/run.db",
                                                rerun_ok=(0, 4))),
        ("bench-load-INT", lambda: scenario(work, "bench-load-INT", bench_args(work / "r1"), "INT", loading, "r1/*/run.db")),
    ]
    rows = []
    for name, run in plan:
        if opts.only and name not in opts.only:
            continue
        t0 = time.monotonic()
        row = run()
        row["total s"] = round(time.monotonic() - t0)
        rows.append(row)
        print(json.dumps(row), flush=True)
    cols = ["name", "signal", "exit", "expected", "crash", "resume line", "exit s", "stored before", "rerun exit",
            "lost", "containers left", "null attempts", "steps left at exit"]
    print("\n| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(str(r.get(c, "-")) for c in cols) + " |")
    print(f"\n{len(rows)} interrupts: {sum(r['crash'] for r in rows)} crashes, "
          f"{sum(r['exit'] != r['expected'] for r in rows)} unexpected exit codes, "
          f"{sum(r['containers left'] for r in rows)} containers left after the reruns, "
          f"{sum(r['lost'] for r in rows if isinstance(r['lost'], int))} attempts lost")


if __name__ == "__main__":
    main()
