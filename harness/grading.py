"""The in-container eval script, and grading of its log with swebench's own code.

The script prints swebench's markers (START/END_TEST_OUTPUT, the recorded test exit code)
so that `swebench.harness.grading.get_logs_eval` reads our logs exactly as it reads the
official harness's, with its parsers, its cut-short-id prefix matching and its
exit-code cross-check; `get_eval_tests_report` + `get_resolution_status` decide.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from swebench.harness.constants import (APPLY_PATCH_FAIL, END_TEST_OUTPUT, FAIL_TO_PASS, PASS_TO_PASS,
                                        START_TEST_OUTPUT, TEST_EXIT_CODE, EvalType, ResolvedStatus,
                                        TestStatus)
from swebench.harness.grading import get_eval_tests_report, get_logs_eval, get_resolution_status
from swebench.harness.log_parsers import PARSER_REGISTRY
from swebench.types import TestSpec

from harness.instance import SWEInstance

WORK = "/tmp/monkeys"
PATCH_FILE, TEST_PATCH_FILE = f"{WORK}/patch.diff", f"{WORK}/test.diff"
EXIT_APPLY_FAILED, EXIT_TEST_PATCH_FAILED = 81, 82
APPLIED = ">>>>> Applied Patch with"
TEST_TIMING = ">>>>> Test Command Clock:"
_TIMING_RE = re.compile(rf"^{re.escape(TEST_TIMING)} ([0-9.]+) ([0-9.]+)$", re.M)

# Each fallback runs only if the previous one refused; none leaves a half-applied tree:
# git apply is atomic, --3way is tried only when --check says it merges cleanly, and
# patch(1) (fuzz, whitespace-insensitive context) does a dry run first.
_APPLY = f"""\
if [ -s {PATCH_FILE} ]; then
  if git apply --whitespace=nowarn {PATCH_FILE}; then echo "{APPLIED} git-apply"
  elif git apply --whitespace=nowarn --3way --check {PATCH_FILE} >/dev/null 2>&1 \\
       && git apply --whitespace=nowarn --3way {PATCH_FILE}; then echo "{APPLIED} git-apply-3way"
  elif patch --batch --fuzz=5 -l -p1 --dry-run -i {PATCH_FILE} >/dev/null \\
       && patch --batch --fuzz=5 -l -p1 --no-backup-if-mismatch -i {PATCH_FILE}; then
    echo "{APPLIED} patch-fuzz"
  else echo "{APPLY_PATCH_FAIL}"; exit {EXIT_APPLY_FAILED}; fi
fi
"""


# Prologue for patches passed as exec arguments: printf is a builtin, so no process is spawned.
WRITE_ARGS = (f'mkdir -p {WORK} && printf %s "$1" > {PATCH_FILE} && printf %s "$2" > {TEST_PATCH_FILE}'
              ' || exit 1\n')


def eval_script(test_cmd: str, *, apply_test_patch: bool) -> str:
    lines = ["#!/bin/bash", "set -uo pipefail", "cd /testbed",
             # swebench's prebuilt images keep the repo's environment in a conda env
             "if [ -f /opt/miniconda3/bin/activate ]; then source /opt/miniconda3/bin/activate"
             " && conda activate testbed; fi",
             _APPLY]
    if apply_test_patch:
        lines.append(f'[ -s {TEST_PATCH_FILE} ] && {{ git apply --whitespace=nowarn {TEST_PATCH_FILE} || '
                     f'{{ echo "test_patch did not apply"; exit {EXIT_TEST_PATCH_FAILED}; }}; }}')
    # The test command's own wall time (bash's clock, no subprocess), to tell it from overhead.
    lines += [f'echo "{START_TEST_OUTPUT}"', "MONKEYS_T0=$EPOCHREALTIME", test_cmd,
              "SWEBENCH_TEST_EXIT_CODE=$?", "MONKEYS_T1=$EPOCHREALTIME",
              f'echo "{END_TEST_OUTPUT}"', f'echo "{TEST_EXIT_CODE}: $SWEBENCH_TEST_EXIT_CODE"',
              f'echo "{TEST_TIMING} $MONKEYS_T0 $MONKEYS_T1"', "exit $SWEBENCH_TEST_EXIT_CODE"]
    return "\n".join(lines) + "\n"


def test_command_seconds(log: str) -> float | None:
    """The test command's wall time, from the last clock line the script printed."""
    found = _TIMING_RE.findall(log)
    return round(float(found[-1][1]) - float(found[-1][0]), 3) if found else None


@dataclass
class Grade:
    resolved: bool
    tests: dict[str, str] = field(default_factory=dict)
    fail_to_pass: dict[str, list[str]] = field(default_factory=dict)
    pass_to_pass: dict[str, list[str]] = field(default_factory=dict)
    note: str | None = None


def parse_tests(log: str, instance: SWEInstance, parser: str) -> dict[str, str]:
    section = log.split(START_TEST_OUTPUT, 1)[-1].split(END_TEST_OUTPUT, 1)[0]
    return PARSER_REGISTRY[parser](section, _test_spec(instance, parser))


def _test_spec(instance: SWEInstance, parser: str) -> TestSpec:
    return TestSpec(instance_id=instance.instance_id, image="", eval_script_list=[], repo=instance.repo,
                    version=instance.version, FAIL_TO_PASS=instance.FAIL_TO_PASS,
                    PASS_TO_PASS=instance.PASS_TO_PASS, log_parser=parser,
                    eval_type=EvalType.PASS_AND_FAIL.value)


def grade(instance: SWEInstance, parser: str, log_path: str, test_exit_code: int,
          *, by_exit_code: bool = False) -> Grade:
    """Grade a finished run's log. `test_exit_code` is the real one (from the exec), which
    a candidate cannot fake by printing swebench's exit-code marker itself."""
    if by_exit_code:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            tests = parse_tests(f.read(), instance, parser)
        return Grade(test_exit_code == 0, tests)
    status_map, ok = get_logs_eval(_test_spec(instance, parser), log_path)
    failing = {TestStatus.FAILED.value, TestStatus.ERROR.value}
    if ok and test_exit_code != 0 and status_map and not set(status_map.values()) & failing:
        ok = False  # swebench's own cross-check, with the exit code we observed
    if not ok:
        return Grade(False, status_map, note="no trustworthy test results in the log")
    report = get_eval_tests_report(status_map, {FAIL_TO_PASS: instance.FAIL_TO_PASS,
                                                PASS_TO_PASS: instance.PASS_TO_PASS})
    resolved = get_resolution_status(report) == ResolvedStatus.FULL.value
    return Grade(resolved, status_map, report[FAIL_TO_PASS], report[PASS_TO_PASS])
