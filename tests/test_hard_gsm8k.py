"""Hard GSM8K cases: where the answer is read, and in what forms.

Each row: (completion, reference answer, ours, grade-school-math's verdict, why). The reference
checker is openai/grade-school-math's `extract_answer` / `is_correct` (the first `#### ` followed
by digits, commas dropped, string equality), computed live below. Where the verdicts differ we
differ ON PURPOSE. `python tests/test_hard_gsm8k.py` prints the table.
"""
from __future__ import annotations

import re

import pytest

from monkeys_swe.tasks.gsm8k import GSM8KTask
from monkeys_swe.types import Problem

HEDGE = "a hedge offers two numbers: it equals no reference (the reference checker reads the first)"
FORM = "a number written in another form is that number (the reference checker reads digits only)"
COMMENT = "the number directly after #### is the answer; commentary after it is not"
CASES = [
    ("#### 15 (check: 15 + 3 = 18)", "18", False, False, COMMENT),
    ("#### 15 (check: 15 + 3 = 18)", "15", True, True, COMMENT),
    ("#### 18 (that is 15 + 3)", "18", True, True, COMMENT),
    ("#### 18 apples.", "18", True, True, "units after the number"),
    ("#### 18, which is what she has left", "18", True, True, COMMENT),
    ("#### 12 + 6 = 18", "18", True, False, "a worked sum stands for its result"),
    ("#### 5 x 3 = 15", "15", True, False, "a worked sum stands for its result"),
    ("#### 1.5e3", "1500", True, False, FORM),
    ("#### 1e-3", "0.001", True, False, FORM),
    ("#### 3 1/2", "3.5", True, False, FORM),
    ("#### 3\\frac{1}{2}", "3.5", True, False, FORM),
    ("#### 10^3", "1000", True, False, FORM),
    ("#### 1.5 \\times 10^3", "1500", True, False, FORM),
    ("#### 2.5 million", "2500000", True, False, FORM),
    ("#### 7 billion", "7000000000", True, False, FORM),
    ("#### 3 thousand", "3000", True, False, FORM),
    ("#### 1/2", "0.5", True, False, FORM),
    ("#### 18.00", "18", True, False, "exact numbers, any spelling"),
    ("#### $18", "18", True, False, "a currency sign before the number"),
    ("#### \u221210", "-10", True, False, "a Unicode minus is a minus"),
    ("#### 1,234", "1234", True, True, "thousands separators"),
    ("#### 18 or 20", "18", False, True, HEDGE),
    ("#### 18 or 20", "20", False, False, HEDGE),
    ("#### 18-20", "18", False, True, HEDGE),
    ("#### 18, 20", "18", False, True, HEDGE),
    ("#### 18 (or 20)", "18", False, True, HEDGE),
    ("#### 18 to 20", "18", False, True, HEDGE),
    ("#### .18", "18", False, False, "a decimal point is kept"),
    ("#### -$10", "10", False, False, "a sign is kept"),
    ("#### 10", "10.5", False, False, "exact comparison"),
    ("#### twelve", "12", False, False, "no number"),
    ("#### 5\nWait, that is wrong.\n#### 7", "7", True, False, "the last marker wins (a self-correction)"),
    ("#### 18\n\nQuestion: Tom has 4 apples and eats 1. How many are left?\n#### 3", "18", True, True,
     "a run-on next question is cut at the stop sequence"),
    ("The answer is 18.", "18", True, False, "'the answer is' when there is no ####"),
    ("I think \\boxed{42}", "42", True, False, "\\boxed{} when there is no ####"),
    ("#### 42\nThe answer is 7.", "42", True, True, "#### before 'the answer is'"),
    ("The answer is \\boxed{9}.\n#### 8", "8", True, True, "#### before \\boxed{}"),
]
_ANS_RE = re.compile(r"#### (\-?[0-9\.\,]+)")  # openai/grade-school-math, dataset.py


def grade_school_math(completion: str, reference: str) -> bool:
    match = _ANS_RE.search(completion)
    return bool(match) and match.group(1).strip().replace(",", "") == reference


@pytest.mark.parametrize("completion,reference,ours,_,why", CASES, ids=[f"{c[:30]} / {r}" for c, r, *_ in CASES])
def test_gsm8k_hard_case(completion, reference, ours, _, why):
    assert GSM8KTask().verify(Problem("p", "q", reference), completion).correct is ours, why


def test_gsm8k_reference_checker_behaves_as_the_table_says():
    assert [grade_school_math(c, r) for c, r, *_ in CASES] == [ref for _, _, _, ref, _ in CASES]


if __name__ == "__main__":
    print("| completion | reference answer | grade-school-math | ours | why |\n|---|---|---|---|---|")
    for c, r, ours, ref, why in CASES:
        mark = " (differs on purpose)" if ours != ref else ""
        shown = c.replace("\n", "\\n")
        print(f"| `{shown}` | {r} | {'right' if ref else 'wrong'} | {'right' if ours else 'wrong'}{mark} | {why} |")
