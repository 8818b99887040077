"""GSM8K: grade-school word problems; the answer is the number after '####'."""
from __future__ import annotations

from typing import Any, ClassVar

from monkeys_swe.prompts import few_shot_messages
from monkeys_swe.tasks.base import Task, load_hf, read_records, require_fields
from monkeys_swe.types import Messages, Problem, Verdict
from monkeys_swe.verifiers.math_answer import extract_gsm8k_answer, normalize_number, same_number


class GSM8KTask(Task):
    name: ClassVar[str] = "gsm8k"
    stop: ClassVar[tuple[str, ...]] = ("\nQuestion:",)
    verify_workers: ClassVar[int] = 0
    hf_dataset: ClassVar[tuple[str, str, str]] = ("openai/gsm8k", "main", "test")

    def settings(self) -> dict[str, Any]:
        """What decides a verdict besides the completion (the answer is read before the first stop)."""
        # reader 2: the number directly after ####, other forms (1.5e3, 3 1/2, 10^3, 2.5 million)
        return {"stop": list(self.stop), "compare": "exact number", "reader": 2}

    def load(self, data: str | None, limit: int | None) -> list[Problem]:
        rows = read_records(data) if data else load_hf(self.hf_dataset[0], self.hf_dataset[2], self.hf_dataset[1])
        problems = []
        for i, row in enumerate(rows):
            if limit is not None and len(problems) >= limit:
                break
            require_fields(row, ("question", "answer"), "gsm8k", data or "the dataset", i)
            pid = str(row.get("id") or f"gsm8k-{i}")
            problems.append(Problem(id=pid, question=row["question"], answer=extract_gsm8k_answer(row["answer"])))
        return problems

    def messages(self, problem: Problem) -> Messages:
        return few_shot_messages("gsm8k_fewshot", problem.question, q_prefix="Question: ")

    def answer(self, completion: str) -> str | None:
        """The answer this completion gives: the number directly after its last '####' before the
        first stop sequence (then \\boxed{}, then 'the answer is')."""
        return extract_gsm8k_answer(completion, self.stop)

    def dedupe_key(self, problem: Problem, completion: str) -> str:
        return self.answer(completion) or ""

    def verify(self, problem: Problem, completion: str) -> Verdict:
        answer = self.answer(completion)
        if answer is None:
            return Verdict(False, "no_answer")
        # The reference as the answers are read (a file's gt_answer may be "2,125" or "$18").
        ok = problem.answer is not None and same_number(normalize_number(problem.answer) or "", answer)
        return Verdict(ok, "correct" if ok else "incorrect", answer)
