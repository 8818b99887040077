"""Stop at the first failure: the second, cheaper stage of fail-fast grading, and its rules.

Fail-fast grading (harness.verify) runs up to three stages; the first that can decide does:
  1. `fail-fast`: the FAIL_TO_PASS tests alone, selected by id (harness.runners.select);
  2. `stop-first`: the full official command with the runner's stop-at-first-failure option
     (pytest: `--maxfail=1`; sympy's bin/test and django's runtests.py get no such stage);
  3. `full`: the plain full official command, only when stage 2 cannot decide.

Why stage 2's verdict is the full run's (the soundness rules, `outcome`):
- Until a test fails, a `--maxfail=1` run IS the full run: the same tests in the same order in
  the same process; pytest looks at the count only after a test's whole protocol
  (setup/call/teardown) has been reported.
- "complete": the runner exited 0 and the log has results. pytest exits non-zero when any test
  failed or errored, so it never stopped: every test ran. That log is graded exactly as a full
  run's (the same swebench grading, the same runner cross-check): a `resolved` comes from here.
- "stopped on a listed test": a test whose id is exactly in FAIL_TO_PASS or PASS_TO_PASS is
  FAILED/ERROR in the log and failed in the runner's own JUnit report (not a printed line). It
  ran in the shared prefix, so it fails in the full run too, and swebench's grading counts a
  failing listed test as a failure: `not_resolved`. Only ids with balanced brackets count:
  pytest node ids are unique, so no later line of a full run can rewrite that id's status,
  while an id the dataset cut short (`test_x[a`) may name several tests.
- a timeout, or a patch that does not apply: the full run shares the prefix, so it times out
  (or does not apply) too.
- anything else (it stopped on a test outside both lists, the runner crashed, the report is
  missing, an `error`): nothing is known, and the plain full command runs and decides.
Limits: a flaky test can flip either run (as with full grading alone); a candidate's code runs
inside the runner and could read its argv (as it can read the report path, harness.runners),
so code written to tell the stages apart could; it can already game an in-process runner. On
pytest's own repository the runner is itself candidate code: a candidate that breaks `--maxfail`
(stops too early, or not at all) gets no exit 0 and no failing listed test, hence the rerun,
unless it changes how a listed test runs under that option (benchmarks/verify_cost.py measures
the disagreements on pytest-dev instances: 0 so far).

Validation (harness.verify) knows the gold patch's full run: when it is not `resolved` with exit
0 (a test outside the lists fails), every right candidate would stop there and pay a rerun,
so the stage is off for that instance (`note`).
"""
from __future__ import annotations

from harness import runners

STAGE = "stop-first"  # the stage's name in `decided_by` and `stages`
MAXFAIL = "--maxfail=1"
FAILING = ("FAILED", "ERROR")
FINAL, LISTED, RERUN = "final", "listed", "rerun"  # outcome(): what the stage's run tells


def command(cmd: str, kind: str | None = None) -> str | None:
    """The full command told to stop at the first failing test, or None when its runner has no
    such option we use (only pytest) or the command runs more than one pytest."""
    kind = kind or runners.kind_of(cmd)
    if kind != "pytest" or len(runners._PYTEST.findall(cmd)) != 1:
        return None
    return runners._PYTEST.sub(lambda m: f"{m.group(1)}{m.group(2)} {MAXFAIL}", cmd, count=1)


def listed_failure(tests: dict[str, str], junit_failed: set[str], listed: set[str]) -> str | None:
    """The first listed test (exact, balanced id) that is FAILED/ERROR in the log and failed in
    the runner's report (`junit_failed`: log ids the JUnit report shows failing), else None."""
    for test, status in tests.items():
        if status in FAILING and test in listed and test.count("[") == test.count("]") and test in junit_failed:
            return test
    return None


def outcome(status: str, tests: dict[str, str], exit_code: int | None, junit_failed: set[str],
            fail_to_pass: list[str], pass_to_pass: list[str]) -> tuple[str, str | None]:
    """(what the stop-first run tells, the listed test it stopped on). FINAL: its verdict is the
    full run's (it completed, timed out, or did not apply); LISTED: `not_resolved`, a listed
    test fails; RERUN: nothing is known, run the plain full command. See the module docstring."""
    if status in ("timeout", "apply_failed", "tampered", "malformed"):
        return FINAL, None
    if status not in ("resolved", "not_resolved"):
        return RERUN, None  # the verifier failed, or the runner's report contradicts the log
    stopped_on = listed_failure(tests, junit_failed, {*fail_to_pass, *pass_to_pass})
    if stopped_on is not None:
        return LISTED, stopped_on
    if exit_code == 0 and tests:
        return FINAL, None
    return RERUN, None


def note(gold_status: str | None, gold_exit_code: int | None, failing: list[str]) -> str | None:
    """Why the stage is off for an instance, from the gold patch's full run (None: on).
    `failing`: the tests that run shows failing outside FAIL_TO_PASS / PASS_TO_PASS."""
    if gold_status is None:
        return "no gold patch to check the stop-at-first-failure run with"
    if gold_status != "resolved":
        return f"the gold patch's full run is {gold_status}: stop-at-first-failure off"
    if gold_exit_code != 0 or failing:
        shown = f" (e.g. {failing[0]})" if failing else ""
        return (f"the gold patch's full run fails {len(failing) or 'some'} tests outside FAIL_TO_PASS/PASS_TO_PASS"
                f"{shown}, exit {gold_exit_code}: every right candidate would stop there and pay a rerun, "
                f"so stop-at-first-failure is off")
    return None


def junit_failed(tests: dict[str, str], junit: bytes | None, parsed_name=None) -> set[str]:
    """The log's ids that the runner's JUnit report shows failing (empty without a report)."""
    report = runners.read_report("pytest", "", junit) if junit else None
    if report is None:
        return set()
    index = runners.junit_index(report, parsed_name)
    return {t for t, s in tests.items() if s in FAILING and "failed" in (runners.junit_outcomes(index, t) or [])}
