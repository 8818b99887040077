"""MiniF2F in Lean 4: write a proof of a formal statement; a Lean checker decides.

Data (schema detected per record): HF `cat-searcher/minif2f-lean4` and yangky11's jsonl
(id, header, formal_statement), yangky11 HEAD (name, header, formal_statement), LeanDojo-mew
(name, file_prelude, statement). A data spec may end in `#SELECTOR`: `#math` keeps the
MiniF2F-MATH subset (the `mathd_*` problems, 130 of the test split), `#valid`/`#test` picks
the split (default test), e.g. `--data minif2f.jsonl#math` or `--data '#math'` (HF default).

The checked file is always the dataset header + the ORIGINAL statement + the model's proof,
so the statement cannot change; see verifiers/lean.py for the acceptance rules.
"""
from __future__ import annotations

import re
from typing import Any, ClassVar

from monkeys_swe.errors import UserError
from monkeys_swe.prompts import exemplars
from monkeys_swe.tasks.base import Task, load_hf, read_records
from monkeys_swe.types import Messages, Problem, Verdict
from monkeys_swe.settings import Settings, refuse_moved
from monkeys_swe.verifiers.lean import NO_CHECKER, LeanChecker, forbidden_tokens, judge, make_checker

INSTRUCTION = "Write a lean4 proof to the provided formal statement. You have access to the standard mathlib4 library.\n"
_THEOREM = re.compile(r"theorem\s+([^\s(:{\[]+)")
_FENCE = re.compile(r"```[^\n`]*\n?(.*?)(?:```|$)", re.DOTALL)


def statement_prefix(formal_statement: str) -> str:
    """The statement up to and including its `:=` (the first one outside brackets); what follows
    (`sorry`, `by sorry`, or a proof some LeanDojo-mew records carry) is dropped."""
    depth = 0
    for i, ch in enumerate(formal_statement):
        depth += ch in "([{⟨"
        depth -= ch in ")]}⟩"
        if depth == 0 and formal_statement.startswith(":=", i):
            return formal_statement[: i + 2]
    raise UserError(f"formal statement has no ':=': {formal_statement[-80:]!r}")


def problem_from_record(rec: dict[str, Any]) -> Problem:
    if "statement" in rec:  # LeanDojo-mew
        pid, header, formal = rec["name"], rec.get("file_prelude", ""), rec["statement"]
    elif "formal_statement" in rec:
        pid, header, formal = rec.get("id") or rec["name"], rec.get("header", ""), rec["formal_statement"]
    else:
        from monkeys_swe.tasks.base import missing_field_message

        raise UserError(missing_field_message(rec, "formal_statement", "minif2f", "the data", 0))
    theorem = _THEOREM.search(formal)
    if theorem is None:
        raise UserError(f"{pid}: no `theorem NAME` in the statement")
    # question = the dataset's formal statement, as the paper's sample files store it (replay matches on it)
    return Problem(pid, formal, None, {"header": header.rstrip(), "statement": statement_prefix(formal),
                                        "theorem": theorem.group(1), "split": rec.get("split", "test")})


def close_block(continuation: str) -> str:
    """The paper's prompt ends in `by (`: keep the completion up to the `)` closing that block
    (dropping what follows), or close it when the completion stops inside it."""
    depth, i, n = 1, 0, len(continuation)
    while i < n:
        if continuation.startswith("--", i):
            i = continuation.find("\n", i)
            i = n if i < 0 else i
            continue
        ch = continuation[i]
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0:
            return continuation[: i + 1]
        i += 1
    return continuation.rstrip() + "\n)"


def extract_proof(completion: str) -> str | None:
    """The proof term after `:=`: from a whole theorem the model wrote (its last `theorem`), or
    from a continuation of the prompt's `by (` (the paper's completions)."""
    fenced = _FENCE.search(completion)
    text = fenced.group(1) if fenced and _THEOREM.search(fenced.group(1)) else completion
    decls = list(_THEOREM.finditer(text))
    if decls:
        start = text.find(":=", decls[-1].end())
        proof = text[start + 2:].strip() if start >= 0 else ""
        return proof.split("```")[0].strip() or None
    body = completion.split("```")[0]
    return ("by (\n" + close_block(body)) if body.strip() else None


class MiniF2FTask(Task):
    name: ClassVar[str] = "minif2f"
    stop: ClassVar[tuple[str, ...]] = ()
    hf_dataset: ClassVar[str] = "cat-searcher/minif2f-lean4"
    default_subset: ClassVar[str] = ""
    verify_workers = 2  # concurrent checks (the `workers` setting)
    # which checker runs, and how many at once, cannot change a verdict; timeout_s can
    cosmetic_args: ClassVar[frozenset[str]] = frozenset(
        {"checker", "workers", "lean_server", "lean_api_key", "lean_project", "lean_image", "lean_lake"})

    def __init__(self, checker: LeanChecker | None = None, timeout_s: float = 300.0, *, workers: int = 2,
                 lean_server: str | None = None, lean_api_key: str | None = None, lean_project: str | None = None,
                 lean_image: str | None = None, lean_lake: str | None = None):
        refuse_moved("MONKEYS_SWE_LEAN_TIMEOUT", "--task-arg timeout_s=SECONDS")
        if checker is None:  # settings given to the task win; else the environment, read now (run start)
            env = Settings.from_env()
            checker = make_checker(lean_server or env.lean_server, lean_api_key or env.lean_api_key,
                                   lean_project or env.lean_project, lean_image or env.lean_image,
                                   lean_lake or env.lean_lake)
        self.checker, self.timeout_s, self.verify_workers = checker, float(timeout_s), int(workers)

    def load(self, data: str | None, limit: int | None) -> list[Problem]:
        path, _, selector = (data or "").partition("#")
        chosen = {s.strip() for s in (selector or self.default_subset).split(",") if s.strip()}
        unknown = chosen - {"math", "test", "valid"}
        if unknown:
            raise UserError(f"unknown MiniF2F selector {sorted(unknown)}: use #math, #test or #valid")
        split = "valid" if "valid" in chosen else "test"
        rows = read_records(path) if path else load_hf(self.hf_dataset, split)
        problems = []
        for row in rows:
            problem = problem_from_record(row)
            if problem.data["split"] not in (split, "validation" if split == "valid" else split):
                continue
            if "math" in chosen and not problem.id.startswith("mathd"):
                continue
            problems.append(problem)
        return problems[:limit]

    def messages(self, problem: Problem) -> Messages:
        shots = exemplars("minif2f_fewshot")
        messages: Messages = []
        for ex in shots["examples"]:
            code = f"{shots['header']}\n{ex['statement']}"
            messages.append({"role": "user", "content": f"{INSTRUCTION}```lean\n{code}\n```"})
            messages.append({"role": "assistant", "content": f"```lean\n{code}\n{ex['proof']}\n```"})
        # The paper renames the theorem so its name does not leak the source (theorem6 follows theorem1-5).
        statement = _THEOREM.sub("theorem theorem6", problem.data["statement"], count=1)
        messages.append({"role": "user", "content": f"{INSTRUCTION}```lean\n{problem.data['header']}\n{statement}\n```"})
        return messages

    def lean_file(self, problem: Problem, proof: str) -> str:
        d = problem.data
        return f"{d['header']}\n\n{d['statement']}\n{proof}\n\n#print axioms {d['theorem']}\n"

    def dedupe_key(self, problem: Problem, completion: str) -> str:
        proof = extract_proof(completion)
        return " ".join(proof.split()) if proof else ""

    def verify(self, problem: Problem, completion: str) -> Verdict:
        proof = extract_proof(completion)
        if proof is None:
            return Verdict(False, "no_answer")
        answer = " ".join(proof.split())
        bad = forbidden_tokens(proof)
        if bad:
            return Verdict(False, "forbidden", answer, {"forbidden": bad})
        if self.checker is None:
            return Verdict(False, "error", answer, {"error": NO_CHECKER})
        accepted, status, detail = judge(self.checker.check(self.lean_file(problem, proof), self.timeout_s),
                                         problem.data["theorem"])
        return Verdict(bool(accepted), status, answer, {"checker": self.checker.name, **detail})


class MiniF2FMathTask(MiniF2FTask):
    """MiniF2F-MATH, the paper's subset: the 130 `mathd_*` test problems."""

    name: ClassVar[str] = "minif2f-math"
    default_subset: ClassVar[str] = "math"
