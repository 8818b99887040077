"""Model-written reproduction tests: the prompt, completion -> test file, and what a run means.

A reproduction test is a self-contained pytest file that should fail at the base commit (the
issue is there) and pass once it is fixed. It travels as a new-file diff applied after the
candidate patch (the harness's test_patch slot) under a name the harness protects
(`test_monkeys_repro_<hash>.py` at the repository root: a candidate's edits to it are dropped),
and runs with pytest, so per-test outcomes are parsed from the log.

Identity: a test's hash is its AST (comments, blank lines and quoting do not matter), so two
samples that write the same test are run once.

Classification at the base commit (`classify`):
  reproduces      at least one test ran and failed, for a reason other than its own import error
  passes_already  every test passed: it does not show the issue
  broken          no code, a syntax error, nothing collected, collection/import errors, or only
                  failures that are the test's own ImportError/NameError/SyntaxError
  error           the sandbox could not judge (infrastructure): not counted, judged again on rerun
"""
from __future__ import annotations

import ast
import hashlib
import re
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path

from monkeys_swe.tasks.swebench.edits import file_diff
from monkeys_swe.tasks.swebench.prompt import ISSUE_CONTEXT
from monkeys_swe.types import Messages

KIND = "repro"  # replayed sample sets for tests are matched by id "repro:<instance>" or question "repro:<issue>"
STATUSES = ("reproduces", "passes_already", "broken", "error")
PASSING = ("PASSED", "XFAIL")
_OWN_ERRORS = ("ImportError", "ModuleNotFoundError", "NameError", "SyntaxError", "IndentationError")
_FENCE = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)(?:```|\Z)", re.S)

SYSTEM = "You are an expert software engineer. You write tests that reproduce reported issues."
TEMPLATE = ISSUE_CONTEXT + """\
Write a self-contained pytest test file that reproduces the issue: its tests must FAIL on the
code as it is now and PASS once the issue is fixed. Import what you need from the repository's
package; use plain asserts; no network, no files outside a temporary directory. The file is run
from the repository root with `pytest`.

Answer with the whole file in one ```python code block and nothing else.
"""


def repro_messages(repo: str, issue: str, code: str) -> Messages:
    user = TEMPLATE.format(repo=repo, issue=issue.strip(), code=code)
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def request_id(problem_id: str) -> str:
    return f"{KIND}:{problem_id}"


def extract_test(text: str) -> str | None:
    """The test file in a completion: the fenced block that defines a test (the longest), else the
    whole text when it is Python defining one. None: no test in it."""
    blocks = [b for b in _FENCE.findall(text) if re.search(r"^\s*(?:async\s+)?def test|^class Test", b, re.M)]
    if blocks:
        code = max(blocks, key=len)
    elif re.search(r"^(?:async\s+)?def test|^class Test", text, re.M):
        code = text
    else:
        return None
    return code.strip("\n") + "\n"


def repro_hash(code: str | None, text: str) -> str:
    """The AST's hash (layout-independent); code that does not parse (or none) hashes its text, marked."""
    if code is not None:
        try:
            return hashlib.sha256(ast.dump(ast.parse(code)).encode()).hexdigest()[:16]
        except (SyntaxError, ValueError):
            pass
    return "unparsed:" + hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def static_problem(code: str | None) -> str | None:
    """Why a test is broken without running it (no test, syntax error), else None."""
    if code is None:
        return "no test file in the completion"
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError) as exc:
        return f"syntax error: {getattr(exc, 'msg', exc)} (line {getattr(exc, 'lineno', '?')})"
    names = [n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    if not any(n.startswith(("test", "Test")) for n in names):
        return "no test function in the file"
    return None


def repro_path(h: str) -> str:
    return f"test_monkeys_repro_{h[:12]}.py"


def repro_diff(tests: dict[str, str]) -> str:
    """One new-file diff adding every test (hash -> code) at its protected path."""
    return "".join(file_diff(repro_path(h), None, code) for h, code in sorted(tests.items()))


def repro_command(hashes: list[str]) -> str:
    return "pytest -rA -p no:cacheprovider " + " ".join(shlex.quote(repro_path(h)) for h in sorted(hashes))


def outcomes_of(h: str, tests: dict[str, str]) -> dict[str, str]:
    """The parsed outcomes of one test file's tests (id -> PASSED/FAILED/ERROR...)."""
    path = repro_path(h)
    return {t: s for t, s in tests.items() if t == path or t.startswith(path + "::")}


def junit_failures(log_path: str | None) -> dict[str, str]:
    """testcase name -> failure/error message, from the JUnit report the harness saved beside the log."""
    if not log_path:
        return {}
    junit = Path(log_path).with_suffix(".junit.xml")
    if not junit.exists():
        return {}
    try:
        root = ET.fromstring(junit.read_bytes())
    except ET.ParseError:
        return {}
    out = {}
    for case in root.iter("testcase"):
        for child in case:
            if child.tag in ("failure", "error"):
                # a failure's message is "ExcType: ..."; a collection error's is "collection failure",
                # with the exception on the traceback's last line ("E   ModuleNotFoundError: ...")
                last = [ln.strip().removeprefix("E").strip() for ln in (child.text or "").splitlines() if ln.strip()]
                message = child.get("message") or ""
                if last and not message.startswith(last[-1][:40]):
                    message = f"{message} ({last[-1]})" if message else last[-1]
                out[f"{case.get('classname')}::{case.get('name')}"] = message[:500]
    return out


def classify(h: str, status: str, tests: dict[str, str], log_path: str | None, error: str | None) -> tuple[str, str]:
    """(classification, reason) of one test run alone at the base commit."""
    if status in ("error",):
        return "error", error or "the sandbox could not run the test"
    if status == "timeout":
        return "broken", "the test did not finish in time at the base commit"
    if status not in ("resolved", "not_resolved"):
        return "broken", f"{status}: {error or ''}".strip()
    mine = outcomes_of(h, tests)
    failed = [t for t, s in mine.items() if s == "FAILED"]
    if status == "resolved" and mine and all(s in PASSING or s == "SKIPPED" for s in mine.values()):
        if not any(s in PASSING for s in mine.values()):
            return "broken", "every test was skipped"
        return "passes_already", f"{sum(s in PASSING for s in mine.values())} tests pass at the base commit"
    messages = junit_failures(log_path)
    if not failed:
        what = ", ".join(sorted({s for s in mine.values()})) or "nothing collected"
        why = next(iter(messages.values()), "")
        return "broken", (f"no test ran and failed ({what}; exit status {'0' if status == 'resolved' else 'non-zero'})"
                          + (f": {why[:300]}" if why else ""))
    own = [m for m in messages.values() if m.startswith(_OWN_ERRORS)]
    if messages and len(own) == len(messages):
        return "broken", f"fails on its own error: {own[0][:200]}"
    return "reproduces", f"{len(failed)} of {len(mine)} tests fail at the base commit"


def cell_outcome(h: str, status: str, tests: dict[str, str]) -> str:
    """One reproducing test's result with a candidate applied: pass, fail, or error (not judged)."""
    if status == "error":
        return "error"
    if status not in ("resolved", "not_resolved"):
        return "fail"  # timeout, or the candidate's code stopped the run
    mine = outcomes_of(h, tests)
    return "pass" if mine and all(s in PASSING for s in mine.values()) else "fail"
