"""What each test runner can tell us besides its log, and how to run only some of its tests.

Three runners are known: pytest (`pytest ...` or `python -m pytest ...`), sympy's
`bin/test` and django's `tests/runtests.py`. For each:
- `instrument(cmd, report_path)`: the command, asking the runner for a structured report
  (pytest: `--junitxml` at a per-run path outside /testbed; the others print a summary).
- `read_report(kind, log_section, junit)`: that report (per-test outcomes for pytest,
  counts for the others), or None when the runner wrote none.
- `cross_check(tests, report, exit_code)`: why the statuses the log parser read cannot be
  true (a candidate printed `PASSED id` lines itself), or None when they agree.
- `select(kind, cmd, directives, test_ids)`: a command that runs just `test_ids` (for
  fail-fast grading), or None when the ids cannot be selected; `selected_log(kind, log)`
  the log of such a run as the log parser needs it.
Any other command gets no cross-check and no selection.
"""
from __future__ import annotations

import re
import shlex
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Callable

PASSING = ("PASSED", "XFAIL")
_PYTEST = re.compile(r"(^|[\s;&|(])((?:\S*/)?python[0-9.]*\s+-m\s+pytest|(?:\S*/)?py\.?test)(?=\s|$)")
_SYMPY = re.compile(r"(^|\s)(?:\./)?bin/test(\s|$)")
_DJANGO = re.compile(r"(^|\s)(?:\./)?tests/runtests\.py(\s|$)")
_DJANGO_ID = re.compile(r"^(\w+) \(([\w.]+)\)$")


def kind_of(cmd: str) -> str | None:
    if _SYMPY.search(cmd):
        return "sympy"
    if _DJANGO.search(cmd):
        return "django"
    if _PYTEST.search(cmd):
        return "pytest"
    return None


def instrument(cmd: str, report_path: str) -> str:
    """`cmd` with pytest asked for a JUnit XML report at `report_path` (others unchanged).
    Only the first pytest invocation is instrumented."""
    if kind_of(cmd) != "pytest":
        return cmd
    return _PYTEST.sub(lambda m: f"{m.group(1)}{m.group(2)} --junitxml={shlex.quote(report_path)}", cmd, count=1)


@dataclass
class RunnerReport:
    kind: str
    outcomes: dict[tuple[str, str], str] = field(default_factory=dict)  # pytest: (classname, name) -> outcome
    passed: int = 0  # tests the runner itself counts as passed
    failed: int = 0  # failures + errors
    total: int = 0


def read_report(kind: str | None, section: str, junit: bytes | None) -> RunnerReport | None:
    if kind == "pytest":
        return _junit(junit) if junit else None
    if kind == "sympy":
        return _sympy_summary(section)
    if kind == "django":
        return _django_summary(section)
    return None


def _junit(data: bytes) -> RunnerReport | None:
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return None
    report = RunnerReport("pytest")
    for case in root.iter("testcase"):
        children = {child.tag for child in case}
        if "failure" in children or "error" in children:
            outcome = "failed"
        elif "skipped" in children:
            outcome = "skipped"
        else:
            outcome = "passed"
        if not case.get("name"):
            continue  # a test pytest never finished reporting (it crashed: INTERNALERROR)
        # a teardown error adds a second <testcase> for the same test: the worst outcome wins
        key = (case.get("classname", ""), case.get("name", ""))
        if report.outcomes.get(key) != "failed":
            report.outcomes[key] = outcome
    report.total = len(report.outcomes)
    report.passed = sum(o == "passed" for o in report.outcomes.values())
    report.failed = sum(o == "failed" for o in report.outcomes.values())
    return report


def _sympy_summary(section: str) -> RunnerReport | None:
    found = re.findall(r"tests finished: (.*?)in [0-9.]+ seconds", section, re.S)
    if not found:
        return None
    counts = {label.strip(): int(n) for n, label in re.findall(r"(\d+) ([a-z ]+?),", found[-1])}
    failed = counts.get("failed", 0) + counts.get("exceptions", 0)
    return RunnerReport("sympy", passed=counts.get("passed", 0), failed=failed,
                        total=sum(counts.values()))


def _django_summary(section: str) -> RunnerReport | None:
    ran = re.findall(r"^Ran (\d+) tests? in ", section, re.M)
    if not ran:
        return None
    total = int(ran[-1])
    tail = section[section.rfind(f"Ran {ran[-1]} test"):]
    failed = sum(int(n) for n in re.findall(r"(?:failures|errors|unexpected successes)=(\d+)", tail))
    skipped = sum(int(n) for n in re.findall(r"(?:skipped|expected failures)=(\d+)", tail))
    # the summary counts each failing subTest; a test counts once (its FAIL:/ERROR: headers)
    failing = set(re.findall(r"^(?:FAIL|ERROR): (\w+ \([\w.]+\))", section, re.M))
    if failing:
        failed = min(failed, len(failing))
    return RunnerReport("django", passed=max(0, total - failed - skipped), failed=failed, total=total)


# XML 1.0 cannot carry these: pytest's JUnit writer (bin_xml_escape) spells them `#xNN`
_XML_ILLEGAL = re.compile("[^\u0009\u000A\u000D\u0020-\u007E\u0080-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")


def junit_address(test_id: str) -> tuple[str, str] | None:
    """pytest's JUnit (classname, name) for a node id (pytest's own mangling: the file path
    dotted, `.py` and old pytest's `()` instance level dropped, the parameters kept as they
    are, characters XML cannot carry as `#xNN`), or None."""
    path, bracket, params = test_id.partition("[")
    names = [n for n in path.split("::") if n != "()"]
    if len(names) < 2:
        return None
    names[0] = re.sub(r"\.py$", "", names[0].replace("/", "."))
    name = _XML_ILLEGAL.sub(lambda m: f"#x{ord(m.group()):02X}", names[-1] + bracket + params)
    return ".".join(names[:-1]), name


def junit_index(report: RunnerReport, parsed_name: Callable[[str], str] | None = None
                ) -> dict[str, list[tuple[str, str]]]:
    """classname -> [(name, outcome)], each name also as the log parser writes it."""
    by_class: dict[str, list[tuple[str, str]]] = {}
    for (classname, name), outcome in report.outcomes.items():
        by_class.setdefault(classname, []).append((name, outcome))
        if parsed_name is not None and (alias := parsed_name(name)) != name:
            by_class[classname].append((alias, outcome))
    return by_class


def junit_outcomes(index: dict[str, list[tuple[str, str]]], test_id: str) -> list[str] | None:
    """The JUnit outcomes recorded for a log's test id ([]: absent; None: not a node id).
    Ids cut short at a space (as in the dataset and the -rA summary) match what they cut."""
    address = junit_address(test_id)
    if address is None:
        return None
    classname, name = address
    return [o for n, o in index.get(classname, [])
            if n == name or (n.startswith(name) and n[len(name)].isspace())]


def cross_check(tests: dict[str, str], report: RunnerReport | None, exit_code: int,
                kind: str | None, parsed_name: Callable[[str], str] | None = None,
                relevant: set[str] | None = None) -> str | None:
    """Why the parsed statuses contradict the runner's own report; None when they agree.
    `parsed_name` writes a JUnit test name as the repo's log parser writes it (swebench's
    parsers rewrite some ids: pylint's shortens a path parameter to its last part), so that
    ids are compared in the parser's terms."""
    if kind is None:
        return None
    passing = [t for t, s in tests.items() if s in PASSING]
    if report is None:
        # No report: the runner died before the end. Only a run that claims success is suspect.
        if exit_code == 0 and (passing or kind == "pytest"):
            return f"the runner wrote no {'JUnit report' if kind == 'pytest' else 'summary'} " \
                   f"but exited 0 with {len(passing)} tests read as passing"
        return None
    if kind != "pytest":
        if len(passing) > report.passed:
            return f"the log shows {len(passing)} passing tests, the runner's summary {report.passed}"
        return None
    index = junit_index(report, parsed_name)
    # Only the ids grading reads (FAIL_TO_PASS, PASS_TO_PASS) can make a fake matter; pytest's
    # own tests print inner sessions' "PASSED test_one.py::test_this" lines (pytester), which
    # no JUnit report of the outer run has (pytest-dev__pytest-7490, -8906).
    for test in (passing if relevant is None else [t for t in passing if t in relevant]):
        outcomes = junit_outcomes(index, test)
        if outcomes is None:
            continue
        want = "skipped" if tests[test] == "XFAIL" else "passed"
        if want not in outcomes:
            return f"{test} is {tests[test]} in the log but {outcomes[0] if outcomes else 'absent'} " \
                   f"in the runner's JUnit report"
    if exit_code == 0 and report.failed:
        return f"the runner exited 0 but its JUnit report has {report.failed} failing tests"
    return None


# -- selecting tests by id (fail-fast grading) ----------------------------------------------
def strip_directives(cmd: str, directives: list[str]) -> str:
    """The command without its trailing test-file arguments."""
    words = cmd.split(" ")
    wanted = set(directives)
    while len(words) > 1 and (words[-1] in wanted or words[-1].endswith(".py") or "::" in words[-1]
                              or words[-1] == ""):
        words.pop()
    return " ".join(words)


def django_label(test_id: str) -> str | None:
    """`test_x (module.Class)` (or `(module.Class.test_x)`) -> `module.Class.test_x`."""
    m = _DJANGO_ID.match(test_id.strip())
    if not m:
        return None  # a docstring-style id: not selectable
    name, where = m.groups()
    return where if where.endswith("." + name) else f"{where}.{name}"


def select(kind: str | None, cmd: str, directives: list[str], test_ids: list[str]) -> str | None:
    """A command running only `test_ids` (possibly a few more), or None."""
    if not test_ids or kind is None:
        return None
    base = strip_directives(cmd, directives)
    if kind == "pytest":
        ids = []
        for t in test_ids:
            if "::" not in t:
                return None
            if t.count("[") != t.count("]"):  # cut short at a space: run every parametrization
                t = t.split("[", 1)[0]
            ids.append(t)
        return " ".join([base, *map(shlex.quote, dict.fromkeys(ids))])
    if kind == "sympy":
        if not all(re.fullmatch(r"test_\w+", t) for t in test_ids):
            return None
        files = [shlex.quote(d) for d in directives]
        return " ".join([base, *files, "-k", *dict.fromkeys(test_ids)])
    if kind == "django":
        labels = [django_label(t) for t in test_ids]
        if None in labels:
            return None
        return " ".join([base, *map(shlex.quote, dict.fromkeys(labels))])
    return None


def selected_log(kind: str | None, log: str) -> str:
    """The log of a selected-tests run, readable by the repo's log parser. sympy's verbose
    reporter appends `[OK]`/`[FAIL]` to the line of a file's last test, which swebench's
    parser then misses: harmless among many tests (and what the official grading does), but
    with the FAIL_TO_PASS tests alone it is often the only line. Only the fail-fast stage
    reads logs through this; the full run is graded on the log as it is."""
    if kind == "sympy":
        return re.sub(r"^([ \t]*test_\S+ (?:ok|F|E|f|X|s|T|w))[ \t]+\[(?:OK|FAIL)\][ \t]*$", r"\1", log, flags=re.M)
    return log
