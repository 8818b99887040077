"""Answer extraction and equivalence on the real GSM8K and MATH data."""
from __future__ import annotations

import json
import random

from monkeys_swe.tasks.gsm8k import GSM8KTask
from monkeys_swe.tasks.math import MathTask
from monkeys_swe.types import Problem
from monkeys_swe.verifiers.math_answer import (answers_equivalent, extract_gsm8k_answer, extract_math_answer, last_boxed,
                                               normalize_answer)


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


def test_math500_stored_answers_of_gold_solutions_are_the_references(data_dir):
    """The stored answer is the vote key: for each gold solution it must be the reference itself."""
    task = MathTask()
    rows = [json.loads(line) for line in (data_dir / "math/math500_test.jsonl").open()]
    verdicts = [task.verify(Problem(r["unique_id"], r["problem"], r["answer"]), r["solution"]) for r in rows]
    assert [v.answer for v in verdicts] == [normalize_answer(r["answer"]) for r in rows]
    assert all(v.correct for v in verdicts)


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


def test_gsm8k_keeps_signs_and_decimals():
    assert extract_gsm8k_answer("so 0.18 of it\n#### .18") == "0.18"
    for minus in ("#### - 10", "#### -$10", "#### \u221210", "#### -10", "#### $-10.00"):
        assert extract_gsm8k_answer(minus) == "-10", minus
    task = GSM8KTask()
    assert not task.verify(Problem("p", "q", "18"), "#### .18").correct
    assert task.verify(Problem("p", "q", "-10"), "#### \u221210").correct
    assert not task.verify(Problem("p", "q", "10"), "#### -$10").correct
    assert task.verify(Problem("p", "q", "0.5"), "#### 1/2").correct  # exact numbers, any spelling
    assert task.verify(Problem("p", "q", "2,125"), "#### $2125.00").correct  # a raw reference, read the same way
    assert extract_gsm8k_answer("#### 12 + 6 = 18") == "18" and extract_gsm8k_answer("#### 18 apples.") == "18"


def test_gsm8k_hedged_answers_are_not_correct():
    task = GSM8KTask()
    for hedge in ("#### 18 or 20", "#### 18, 20", "#### 18 (or 20)", "#### 18-20", "The answer is 18 or 20."):
        v = task.verify(Problem("p", "q", "18"), hedge)
        assert not v.correct and v.status == "incorrect", (hedge, v)
        assert task.verify(Problem("p", "q", "20"), hedge).status == "incorrect"


def test_run_on_completions_keep_this_problems_answer():
    gsm8k = GSM8KTask()
    run_on = "3 + 15 = 18\n#### 18\n\nQuestion: Tom has 4 apples and eats 1. How many are left?\n4 - 1 = 3\n#### 3"
    v = gsm8k.verify(Problem("p", "q", "18"), run_on)
    assert v.correct and v.answer == "18"
    assert gsm8k.dedupe_key(Problem("p", "q", "18"), run_on) == "18"
    assert gsm8k.verify(Problem("p", "q", "7"), "#### 5\nWait, I made an error.\n#### 7").correct  # self-correction
    math = MathTask()
    run_on = ("So $x = 4$.\nFinal Answer: The final answer is $4$. I hope it is correct.\n\nProblem:\nWhat is $3+4$?\n"
              "Solution:\n$3+4=7$.\nFinal Answer: The final answer is $7$. I hope it is correct.")
    v = math.verify(Problem("p", "q", "4"), run_on)
    assert v.correct and v.answer == "4"
    assert math.verify(Problem("p", "q", "7"), "\\boxed{4}\n\nProblem:\nNext \\boxed{7}").status == "incorrect"


def test_math_stored_answer_is_the_last_well_formed_marker():
    prose = ("The final answer is easy to find once we factor: $(x-3)^2 = 0$, so $x = 3$ and $x^2 = 9$.\n"
             "Final Answer: The final answer is $9$. I hope it is correct.")
    assert extract_math_answer(prose) == "9"
    v = MathTask().verify(Problem("p", "q", "9"), prose)
    assert v.correct and v.answer == "9"
    two = ("Final Answer: The final answer is $8$. I hope it is correct.\nNo, recheck.\n"
           "Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.")
    assert extract_math_answer(two) == "\\frac{1}{2}"
