"""Answer extraction and equivalence on the real GSM8K and MATH data."""
from __future__ import annotations

import json
import random

from monkeys_swe.tasks.gsm8k import GSM8KTask
from monkeys_swe.tasks.math import MathTask
from monkeys_swe.types import Problem
from monkeys_swe.verifiers.math_answer import answers_equivalent, extract_gsm8k_answer, extract_math_answer, last_boxed


def test_math500_reference_answers_match_their_solutions(data_dir):
    rows = [json.loads(line) for line in (data_dir / "math/math500_test.jsonl").open()]
    assert len(rows) == 500
    assert all(answers_equivalent(r["answer"], last_boxed(r["solution"])) for r in rows)


def test_math500_shuffled_answers_are_mostly_not_equal(data_dir):
    rows = [json.loads(line) for line in (data_dir / "math/math500_test.jsonl").open()]
    answers = [r["answer"] for r in rows]
    random.Random(0).shuffle(answers)
    equal = sum(answers_equivalent(a, last_boxed(r["solution"])) for a, r in zip(answers, rows))
    assert equal <= 25, f"{equal}/500 shuffled answers judged equal"


def test_gsm8k_reference_answers_extracted_and_correct(data_dir):
    task = GSM8KTask()
    problems = task.load(str(data_dir / "gsm8k/test.jsonl"), None)
    rows = [json.loads(line) for line in (data_dir / "gsm8k/test.jsonl").open()]
    assert len(problems) == 1319 and all(p.answer for p in problems)
    verdicts = [task.verify(p, r["answer"]) for p, r in zip(problems, rows)]
    assert sum(v.correct for v in verdicts) == 1319


def test_equivalence_beyond_string_equality():
    assert answers_equivalent("\\frac{1}{2}", "0.5")
    assert answers_equivalent("\\dfrac{\\sqrt{3}}{2}", "\\frac{\\sqrt3}{2}")
    assert answers_equivalent("(1,2)", "(1, 2)")
    assert not answers_equivalent("\\frac{1}{3}", "0.5")
    assert not answers_equivalent("x+1", "x-1")


def test_extraction_forms():
    minerva = "so x=4.\nFinal Answer: The final answer is $\\frac{3}{4}$. I hope it is correct."
    assert extract_math_answer(minerva) == "\\frac{3}{4}"
    assert extract_math_answer("thus \\boxed{\\sqrt{2}} and then \\boxed{5}") == "5"
    assert extract_math_answer("no answer here") is None
    assert extract_gsm8k_answer("5 + 4 = 9\n#### 1,234") == "1234"
    assert extract_gsm8k_answer("The answer is $18.00.") == "18"
    assert extract_gsm8k_answer("I think \\boxed{42}") == "42"


def test_math_task_verdicts_carry_normalized_answers():
    task = MathTask()
    p = Problem("p", "q", "\\frac{2}{3}")
    v = task.verify(p, "Final Answer: The final answer is $\\dfrac{2}{3}$. I hope it is correct.")
    assert v.correct and v.status == "correct" and v.answer == "\\frac{2}{3}"
    assert task.verify(p, "blah").status == "no_answer"
    assert task.verify(p, "\\boxed{3}").status == "incorrect"
