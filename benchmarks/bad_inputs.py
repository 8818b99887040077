"""The bad-input table: every case of tests/bad_inputs.py through the CLI, with its message and exit code.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bad_inputs.py [--workers 3] [--only ID...]

Target: every case one line on stderr, a non-zero exit, and never "unexpected" (a user mistake
is not a bug). Prints a markdown table and the counts.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from bad_inputs import CASES, expand, make_files  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def run_case(argv: list[str], cwd: Path) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-m", "monkeys_swe", *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=300)
    return proc.returncode, proc.stderr.strip()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args()
    cases = [c for c in CASES if not args.only or c[0] in args.only]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        make_files(d, DATA)
        with ThreadPoolExecutor(args.workers) as pool:
            results = list(pool.map(lambda c: run_case(expand(c[1], d, DATA), d), cases))
        bad = 0
        print("| case | input | message | exit |\n|---|---|---|---|")
        for (cid, argv, want), (rc, err) in zip(cases, results):
            ok = rc != 0 and len(err.splitlines()) == 1 and "unexpected" not in err and want.lower() in err.lower()
            bad += not ok
            shown = " ".join(argv).replace("|", "\\|")
            print(f"| {cid}{'' if ok else ' **FAIL**'} | `monkeys-swe {shown}` | {err.replace(chr(10), ' / ').replace('|', chr(92) + '|')[:300]} | {rc} |")
        print(f"\n{len(cases)} bad inputs: {len(cases) - bad} one line + non-zero exit + expected words, {bad} not")


if __name__ == "__main__":
    main()
