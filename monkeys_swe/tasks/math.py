"""MATH: competition problems; answers judged equivalent with math-verify, guarded by an exact
comparison (verifiers/math_exact.py), in worker processes with a hard limit (verifiers/math_pool.py)."""
from __future__ import annotations

from typing import Any, ClassVar

from monkeys_swe.errors import UserError
from monkeys_swe.prompts import few_shot_messages
from monkeys_swe.tasks.base import Task, load_hf, read_records, require_fields
from monkeys_swe.types import ERROR, Messages, Problem, Verdict
from monkeys_swe.verifiers.math_answer import (_FINAL_ANSWER, all_boxed, answers_equivalent, cut_at_stop, extract_math_answer,
                                               last_boxed, normalize_answer, several_values)
from monkeys_swe.verifiers.math_pool import CheckTimeout, WorkerFailed


class MathTask(Task):
    name: ClassVar[str] = "math"
    stop: ClassVar[tuple[str, ...]] = ("\nProblem:",)
    verify_workers: ClassVar[int] = 0
    # hendrycks/competition_math, which the paper used, is no longer served; MATH-500 is its
    # standard 500-problem test subset. --data reads the full 5000 from a local file.
    hf_dataset: ClassVar[tuple[str, str]] = ("HuggingFaceH4/MATH-500", "test")

    def __init__(self, equivalence_timeout_s: int = 5):
        """`equivalence_timeout_s`: the hard wall-clock limit of one equivalence check (any thread);
        past it the verdict is `error`."""
        if isinstance(equivalence_timeout_s, bool) or not isinstance(equivalence_timeout_s, int) or equivalence_timeout_s < 1:
            raise UserError(f"task setting equivalence_timeout_s must be a positive integer, got {equivalence_timeout_s!r}")
        self.equivalence_timeout_s = equivalence_timeout_s

    def settings(self) -> dict[str, Any]:
        """What decides a verdict besides the completion (the answer is read before the first stop)."""
        # checker 2: math-verify guarded by an exact comparison, in killable worker processes
        return {"stop": list(self.stop), "equivalence_timeout_s": self.equivalence_timeout_s, "checker": 2}

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

    def candidates(self, problem: Problem, completion: str, answer: str) -> list[str]:
        """The answer, then, when the reference lists several values and the completion boxes
        several (`\\boxed{2}` and `\\boxed{-3}` for `2, -3`), all its boxed answers as one."""
        found = [answer]
        text = cut_at_stop(completion, self.stop)
        if problem.answer and several_values(problem.answer) and not _FINAL_ANSWER.search(text):
            boxes = list(dict.fromkeys(b.strip() for b in all_boxed(text) if b.strip()))
            if len(boxes) > 1:
                found.append(", ".join(boxes))
        return found

    def verify(self, problem: Problem, completion: str) -> Verdict:
        answer = self.answer(completion)
        if answer is None:
            return Verdict(False, "no_answer")
        if problem.answer is None:
            return Verdict(False, "incorrect", normalize_answer(answer))
        for candidate in self.candidates(problem, completion, answer):
            try:
                if answers_equivalent(problem.answer, candidate, self.equivalence_timeout_s):
                    return Verdict(True, "correct", normalize_answer(candidate))
            except (CheckTimeout, WorkerFailed) as exc:  # the checker could not judge: no verdict
                return Verdict(False, ERROR, normalize_answer(answer), {"error": str(exc)})
        return Verdict(False, "incorrect", normalize_answer(answer))
