"""GSM8K: grade-school word problems; the answer is the number after '####'."""
from __future__ import annotations

from typing import ClassVar

from monkeys_swe.prompts import few_shot_messages
from monkeys_swe.tasks.base import load_hf, read_records
from monkeys_swe.types import Messages, Problem, Verdict
from monkeys_swe.verifiers.math_answer import answers_equivalent, extract_gsm8k_answer


class GSM8KTask:
    name: ClassVar[str] = "gsm8k"
    stop: ClassVar[tuple[str, ...]] = ("\nQuestion:",)
    verify_workers: ClassVar[int] = 0
    hf_dataset: ClassVar[tuple[str, str, str]] = ("openai/gsm8k", "main", "test")

    def load(self, data: str | None, limit: int | None) -> list[Problem]:
        rows = read_records(data) if data else load_hf(self.hf_dataset[0], self.hf_dataset[2], self.hf_dataset[1])
        problems = []
        for i, row in enumerate(rows):
            if limit is not None and len(problems) >= limit:
                break
            pid = str(row.get("id") or f"gsm8k-{i}")
            problems.append(Problem(id=pid, question=row["question"], answer=extract_gsm8k_answer(row["answer"])))
        return problems

    def messages(self, problem: Problem) -> Messages:
        return few_shot_messages("gsm8k_fewshot", problem.question, q_prefix="Question: ")

    def dedupe_key(self, problem: Problem, completion: str) -> str:
        return extract_gsm8k_answer(completion) or ""

    def verify(self, problem: Problem, completion: str) -> Verdict:
        answer = extract_gsm8k_answer(completion)
        if answer is None:
            return Verdict(False, "no_answer")
        ok = problem.answer is not None and answers_equivalent(problem.answer, answer)
        return Verdict(ok, "correct" if ok else "incorrect", answer)
