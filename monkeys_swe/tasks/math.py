"""MATH: competition problems; answers judged equivalent with math-verify."""
from __future__ import annotations

from typing import Any, ClassVar

from monkeys_swe.errors import UserError
from monkeys_swe.prompts import few_shot_messages
from monkeys_swe.tasks.base import Task, load_hf, read_records, require_fields
from monkeys_swe.types import Messages, Problem, Verdict
from monkeys_swe.verifiers.math_answer import answers_equivalent, extract_math_answer, last_boxed, normalize_answer


class MathTask(Task):
    name: ClassVar[str] = "math"
    stop: ClassVar[tuple[str, ...]] = ("\nProblem:",)
    verify_workers: ClassVar[int] = 0
    # hendrycks/competition_math, which the paper used, is no longer served; MATH-500 is its
    # standard 500-problem test subset. --data reads the full 5000 from a local file.
    hf_dataset: ClassVar[tuple[str, str]] = ("HuggingFaceH4/MATH-500", "test")

    def __init__(self, equivalence_timeout_s: int = 5):
        """`equivalence_timeout_s`: math-verify's limit per parse and per comparison (main thread only)."""
        if isinstance(equivalence_timeout_s, bool) or not isinstance(equivalence_timeout_s, int) or equivalence_timeout_s < 1:
            raise UserError(f"task setting equivalence_timeout_s must be a positive integer, got {equivalence_timeout_s!r}")
        self.equivalence_timeout_s = equivalence_timeout_s

    def settings(self) -> dict[str, Any]:
        """What decides a verdict besides the completion (the answer is read before the first stop)."""
        return {"stop": list(self.stop), "equivalence_timeout_s": self.equivalence_timeout_s}

    def load(self, data: str | None, limit: int | None) -> list[Problem]:
        rows = read_records(data) if data else load_hf(*self.hf_dataset)
        problems = []
        for i, row in enumerate(rows):
            if limit is not None and len(problems) >= limit:
                break
            require_fields(row, ("problem",), "math", data or "the dataset", i)
            # MATH-500 rows carry `answer`; the full MATH test keeps it boxed in `solution`.
            answer = row.get("answer") or last_boxed(row.get("solution", ""))
            pid = row.get("unique_id") or (f"math-{row['idx']}" if "idx" in row else f"math-{i}")
            problems.append(Problem(id=str(pid), question=row["problem"], answer=answer,
                                    data={k: row[k] for k in ("level", "subject", "type") if k in row}))
        return problems

    def messages(self, problem: Problem) -> Messages:
        return few_shot_messages("math_minerva", problem.question, q_prefix="Problem:\n", a_prefix="Solution:\n")

    def answer(self, completion: str) -> str | None:
        """The answer this completion gives (before the first stop sequence), raw."""
        return extract_math_answer(completion, self.stop)

    def dedupe_key(self, problem: Problem, completion: str) -> str:
        answer = self.answer(completion)
        return normalize_answer(answer) if answer else ""

    def verify(self, problem: Problem, completion: str) -> Verdict:
        answer = self.answer(completion)
        if answer is None:
            return Verdict(False, "no_answer")
        ok = problem.answer is not None and answers_equivalent(problem.answer, answer, self.equivalence_timeout_s)
        return Verdict(ok, "correct" if ok else "incorrect", normalize_answer(answer))
