"""Canary tests: in-process tampering made visible.

Code under test runs in the test runner's process, so a candidate can always falsify what the
runner reports (patch its report objects, install a hook, rewrite outcomes). That cannot be
prevented from inside; it can be detected. Every run appends two tests that the candidate cannot
predict to the last test file the command runs (after test_patch, so they go through the same
collection, fixtures and reporting as the instance's own tests, and run after them):

- `must_pass`: asserts a true sum of fresh random numbers;
- `must_fail`: asserts a false product of fresh random numbers.

Their names are a test name that test_patch adds plus a fresh random suffix, so a forgery aimed
at "the new tests", "the tests in changed files" or "the tests named like the issue's" hits them
too. A run whose must-fail canary reports passed, or, when it would be resolved, whose canaries
are missing or wrong, is `tampered`. Appended at the end of the file, they change no id, order or
fixture of the instance's tests; the must-fail one is the last test, so under `--maxfail=1` it
stops nothing, and a runner exit status of 1 whose only failure is that canary counts as 0.

Per runner: pytest (test functions; node ids `FILE::NAME`), sympy's bin/test (test functions;
ids `NAME`; fail-fast's `-k` gets the names), django's runtests.py (a unittest.TestCase class;
ids `NAME (module.Class)`; the label `module.Class` is added). Any other command gets none.
Limit: a candidate that reads the test files and spares exactly these two functions is not
caught; the integrity checks (harness.integrity) and flags (harness.protect) still apply.
"""
from __future__ import annotations

import posixpath
import re
import secrets
import shlex
from dataclasses import dataclass

from harness import runners

# tests test_patch adds; else those it changes (a hunk's header names the function it is in)
_ADDED_TEST = re.compile(r"^\+\s*def (test_\w+)\s*\(", re.M)
_CHANGED_TEST = re.compile(r"^@@ [^@]* @@\s*def (test_\w+)\s*\(", re.M)
_TEST_MODULE = re.compile(r"^(test|unittest)_.*\.py$|^.*_tests?\.py$|^tests\.py$")
_FILE_ARG = re.compile(r"(?:^|\s)((?:[\w.-]+/)*[\w.-]+\.py)(?:::\S*)?(?=\s|$)")


@dataclass(frozen=True)
class Canaries:
    kind: str  # runner: pytest, sympy or django
    file: str  # repository path the tests are appended to
    must_pass: str
    must_fail: str
    source: str  # the text appended to `file`
    module: str = ""  # django: the test module's label; its class is `cls`
    cls: str = ""

    def names(self) -> tuple[str, str]:
        return self.must_pass, self.must_fail

    def matches(self, test_id: str, name: str) -> bool:
        """Is `test_id` (as the log parser writes it) the canary `name`?"""
        if self.kind == "pytest":
            return test_id.split("[", 1)[0].endswith("::" + name)
        if self.kind == "sympy":
            return test_id == name
        return test_id == name or test_id.startswith(name + " (")  # django's parser also reads "FAIL: NAME (...)"

    def selection(self) -> list[str]:
        """What a selected-tests command adds to run these too."""
        if self.kind == "pytest":
            return [shlex.quote(f"{self.file}::{n}") for n in self.names()]
        if self.kind == "sympy":
            return list(self.names())
        return [shlex.quote(f"{self.module}.{self.cls}")]


def _suffix() -> str:
    return "".join(secrets.choice("abcdefghijkmnopqrstuvwxyz23456789") for _ in range(7))


def _target(kind: str, cmd: str, directives: list[str]) -> tuple[str, str] | None:
    """(repository file, django module label) the canaries go into, or None."""
    if kind == "django":  # the labels the command names (else the directives): dotted modules
        words = (cmd.splitlines()[-1] if cmd else "").split()
        after = words[next((i for i, w in enumerate(words) if w.endswith("runtests.py")), len(words)) + 1:]
        labels = [w for w in after if re.fullmatch(r"\w+(\.\w+)+", w)] or \
            [d for d in directives if re.fullmatch(r"[\w.]+", d)]
        if not labels:
            return None
        label = labels[-1]
        return f"tests/{label.replace('.', '/')}.py", label
    # the last test module the command names (a test_patch may also touch helpers it passes along,
    # such as sympy/testing/quality_unicode.py, that the runner does not collect tests from)
    # pytest collects any module named on its command line; sympy's runner only test_*.py ones
    named = _FILE_ARG.findall(cmd.splitlines()[-1] if cmd else "") or [d for d in directives if d.endswith(".py")]
    files = [f for f in named if _TEST_MODULE.match(posixpath.basename(f))] or (named if kind == "pytest" else [])
    return (files[-1], "") if files else None


def make(test_cmd: str, directives: list[str], test_patch: str) -> Canaries | None:
    """Fresh canaries for one run of `test_cmd` (None: the runner or its arguments take none)."""
    kind = runners.kind_of(test_cmd)
    if kind is None:
        return None
    target = _target(kind, test_cmd, directives)
    if target is None:
        return None
    file, module = target
    bases = _ADDED_TEST.findall(test_patch or "") or _CHANGED_TEST.findall(test_patch or "") or ["test_case"]
    base = secrets.choice(bases)[:60]
    must_pass, must_fail = f"{base}_{_suffix()}", f"{base}_{_suffix()}"
    a, b, c, d = (secrets.randbelow(90_000) + 10_000 for _ in range(4))
    wrong = c * d + secrets.randbelow(997) + 1
    if kind == "django":
        cls = "".join(p.title() for p in base.split("_")) + _suffix().title()
        alias = f"_unittest_{_suffix()}"
        source = (f"\n\nimport unittest as {alias}\n\n\nclass {cls}({alias}.TestCase):\n"
                  f"    def {must_pass}(self):\n        self.assertEqual({a} + {b}, {a + b})\n\n"
                  f"    def {must_fail}(self):\n        self.assertEqual({c} * {d}, {wrong})\n")
        return Canaries(kind, file, must_pass, must_fail, source, module, cls)
    source = (f"\n\ndef {must_pass}():\n    assert {a} + {b} == {a + b}\n\n\n"
              f"def {must_fail}():\n    assert {c} * {d} == {wrong}\n")
    return Canaries(kind, file, must_pass, must_fail, source)


def with_selection(cmd: str, canaries: Canaries | None) -> str:
    """A selected-tests command (fail-fast) that runs the canaries too."""
    return cmd if canaries is None else f"{cmd} {' '.join(canaries.selection())}"


@dataclass
class Settled:
    tests: dict[str, str]  # the parsed statuses without the canaries
    exit_code: int | None  # the runner's status, 1 -> 0 when the must-fail canary was its only failure
    seen: dict[str, str]  # canary name -> status in the log ("absent" when not there)
    junit: dict[str, str]  # pytest: canary name -> outcome in the runner's report

    def evidence(self, canaries: Canaries, would_resolve: bool) -> str | None:
        """Why the run is tampered, or None."""
        fail_log, pass_log = self.seen[canaries.must_fail], self.seen[canaries.must_pass]
        if fail_log in runners.PASSING or self.junit.get(canaries.must_fail) == "passed":
            where = "the log" if fail_log in runners.PASSING else "the runner's report"
            return f"the must-fail canary {canaries.must_fail} was reported passed in {where}"
        if not would_resolve:
            return None
        if pass_log not in runners.PASSING:
            return f"the must-pass canary {canaries.must_pass} is {pass_log} in the log"
        if fail_log not in ("FAILED", "ERROR"):
            return f"the must-fail canary {canaries.must_fail} is {fail_log} in the log"
        if canaries.kind == "pytest":
            if self.junit.get(canaries.must_pass) != "passed":
                return (f"the must-pass canary {canaries.must_pass} is "
                        f"{self.junit.get(canaries.must_pass, 'absent')} in the runner's report")
            if self.junit.get(canaries.must_fail) != "failed":
                return (f"the must-fail canary {canaries.must_fail} is "
                        f"{self.junit.get(canaries.must_fail, 'absent')} in the runner's report")
        return None


def settle(canaries: Canaries, tests: dict[str, str], exit_code: int | None,
           report: "runners.RunnerReport | None") -> Settled:
    """Separate the canaries from the instance's tests, and the runner's exit status from the
    must-fail canary's failure."""
    seen = {n: "absent" for n in canaries.names()}
    own: dict[str, str] = {}
    for test, status in tests.items():
        name = next((n for n in canaries.names() if canaries.matches(test, n)), None)
        if name is None:
            own[test] = status
        else:
            seen[name] = status
    junit: dict[str, str] = {}
    failing_elsewhere = any(s in ("FAILED", "ERROR") for s in own.values())
    if canaries.kind == "pytest" and report is not None:
        for (classname, name), outcome in report.outcomes.items():
            canary = next((n for n in canaries.names() if name.split("[", 1)[0] == n), None)
            if canary is not None:
                junit[canary] = outcome
            elif outcome == "failed":
                failing_elsewhere = True
    elif report is not None and report.failed > (seen[canaries.must_fail] in ("FAILED", "ERROR")):
        failing_elsewhere = True
    settled_exit = exit_code
    # pytest's report lists tests in the order they ran: only a must-fail canary that ran last can
    # be the whole reason for the status (a plugin that reorders, as pytest's own test suite does
    # with fast tests first, can run it early, and --maxfail=1 then stops the run there)
    ran_last = canaries.kind != "pytest" or (report is not None and report.outcomes
                                             and list(report.outcomes)[-1][1].split("[", 1)[0] == canaries.must_fail)
    if (exit_code == 1 and seen[canaries.must_fail] in ("FAILED", "ERROR") and not failing_elsewhere and ran_last
            and (canaries.kind != "pytest" or junit.get(canaries.must_fail) == "failed")):
        settled_exit = 0
    return Settled(own, settled_exit, seen, junit)


def without(report: "runners.RunnerReport | None", canaries: Canaries | None, settled: Settled | None):
    """The runner's report without the canaries (what the cross-check compares the log with)."""
    if report is None or canaries is None or settled is None:
        return report
    if canaries.kind == "pytest":
        kept = {k: v for k, v in report.outcomes.items() if k[1].split("[", 1)[0] not in canaries.names()}
        out = runners.RunnerReport("pytest", kept, total=len(kept))
        out.passed = sum(o == "passed" for o in kept.values())
        out.failed = sum(o == "failed" for o in kept.values())
        return out
    passed = settled.seen[canaries.must_pass] in runners.PASSING
    failed = settled.seen[canaries.must_fail] in ("FAILED", "ERROR")
    ran = sum(s != "absent" for s in settled.seen.values())
    return runners.RunnerReport(report.kind, passed=max(0, report.passed - passed), failed=max(0, report.failed - failed),
                                total=max(0, report.total - ran))


def note(seen: dict) -> str | None:
    """From the empty candidate's `PatchVerdict.canaries`: why canaries are not required on the
    image (None: they came out as planted, so a run missing them is tampered)."""
    if not seen:
        return "no canary tests for this runner or command"
    if seen.get("unavailable"):
        return f"the canary tests could not be added to {seen.get('file')}"
    got = seen.get("seen", {})
    if got.get(seen.get("must_pass")) not in runners.PASSING or got.get(seen.get("must_fail")) not in ("FAILED", "ERROR"):
        return f"the canary tests did not come out as planted without any patch: {got}"
    return None
