"""The in-container eval script, and grading of its log with swebench's own code.

The script prints swebench's markers (START/END_TEST_OUTPUT, the recorded test exit code)
so that `swebench.harness.grading.get_logs_eval` reads our logs exactly as it reads the
official harness's, with its parsers, its cut-short-id prefix matching and its
exit-code cross-check; `get_eval_tests_report` + `get_resolution_status` decide.
"""
from __future__ import annotations

import base64
import gzip
import re
import shlex
from dataclasses import dataclass, field

from harness import swebench_lib

swebench_lib.load()  # before any swebench.harness import (see harness/swebench_lib.py)
from swebench.harness.constants import (APPLY_PATCH_FAIL, END_TEST_OUTPUT, FAIL_TO_PASS, PASS_TO_PASS,  # noqa: E402
                                        START_TEST_OUTPUT, TEST_EXIT_CODE, EvalType, ResolvedStatus,
                                        TestStatus)
from swebench.harness.grading import get_eval_tests_report, get_logs_eval, get_resolution_status  # noqa: E402
from swebench.harness.log_parsers import PARSER_REGISTRY  # noqa: E402
from swebench.types import TestSpec  # noqa: E402

from harness import integrity, runners
from harness.instance import SWEInstance

WORK = "/tmp/monkeys"
PATCH_FILE, TEST_PATCH_FILE = f"{WORK}/patch.diff", f"{WORK}/test.diff"
EXIT_APPLY_FAILED, EXIT_TEST_PATCH_FAILED, EXIT_UNSAFE_PATH = 81, 82, 83
UNSAFE_PATH = ">>>>> Unsafe path:"
CANARIES = ">>>>> Canaries:"
APPLIED = ">>>>> Applied Patch with"
TEST_TIMING = ">>>>> Test Command Clock:"
_TIMING_RE = re.compile(rf"^{re.escape(TEST_TIMING)} ([0-9.]+) ([0-9.]+)$", re.M)
CPU_MARK = ">>>>> Test Command CPU"
# bash's `times`: the shell's user/sys line, then its children's: "0m1.250s 0m0.031s"
_CPU_RE = re.compile(rf"^{re.escape(CPU_MARK)}\n[^\n]*\n(\d+)m([0-9.]+)s (\d+)m([0-9.]+)s$", re.M)
REPORT_MARK = ">>>>> Runner Report:"
_REPORT_RE = re.compile(rf"^{re.escape(REPORT_MARK)} ([A-Za-z0-9+/=]+)\n?", re.M)

# Each fallback runs only if the previous one refused; none leaves a half-applied tree:
# git apply is atomic, --3way is tried only when --check says it merges cleanly, and
# patch(1) does a dry run first. patch runs as swebench 5.x runs it (`--batch --forward
# --fuzz=5 -p1`): --forward refuses a patch that looks reversed, where --batch alone would
# apply it in reverse (the inverse of the gold diff would pass, a hunk removing absent lines
# would insert them).
_PATCH = "patch --batch --forward --fuzz=5 -p1"
_APPLY = f"""\
if [ -s {PATCH_FILE} ]; then
  if git apply --whitespace=nowarn {PATCH_FILE}; then echo "{APPLIED} git-apply"
  elif git apply --whitespace=nowarn --3way --check {PATCH_FILE} >/dev/null 2>&1 \\
       && git apply --whitespace=nowarn --3way {PATCH_FILE}; then echo "{APPLIED} git-apply-3way"
  elif {_PATCH} --dry-run -i {PATCH_FILE} \\
       && {_PATCH} --no-backup-if-mismatch -i {PATCH_FILE}; then
    echo "{APPLIED} patch-fuzz"
  else echo "{APPLY_PATCH_FAIL}"; exit {EXIT_APPLY_FAILED}; fi
fi
"""


# Prologue for patches passed as exec arguments: printf is a builtin, so no process is spawned.
WRITE_ARGS = (f'mkdir -p {WORK} && printf %s "$1" > {PATCH_FILE} && printf %s "$2" > {TEST_PATCH_FILE}'
              ' || exit 1\n')


def safe_paths(paths: list[str]) -> str:
    """Shell refusing (exit EXIT_UNSAFE_PATH) before anything is applied when a path the
    candidate writes passes through a symbolic link in the tree (a link into a protected
    directory, then a file behind it: `patch` would write through it where `git apply` refuses)."""
    if not paths:
        return ""
    quoted = " ".join(shlex.quote(p) for p in paths)
    return (f"for p in {quoted}; do d=/testbed; IFS=/ read -ra parts <<< \"$p\"; for c in \"${{parts[@]}}\"; do "
            f'd="$d/$c"; if [ -L "$d" ]; then echo "{UNSAFE_PATH} $p (through the link ${{d#/testbed/}})"; '
            f"exit {EXIT_UNSAFE_PATH}; fi; done; done\n")


def before_tests(canaries=None, protected: list[str] = ()) -> list[str]:
    """After test_patch, before the test command: append the canary tests (harness.canary) and
    print the manifest of protected files (harness.integrity). No candidate code has run yet."""
    lines = []
    if canaries is not None:
        f = shlex.quote(canaries.file)
        lines.append(f'if [ -f {f} ] && [ ! -L {f} ]; then printf %s {shlex.quote(canaries.source)} >> {f} '
                     f'&& echo "{CANARIES} appended to {canaries.file}"; '
                     f'else echo "{CANARIES} unavailable ({canaries.file} is not a file)"; fi')
    files = list(protected) + ([canaries.file] if canaries is not None else [])
    lines.append(integrity.manifest_script(files))
    return lines


def official_eval_script(row_script: str, report_path: str | None = None) -> str:
    """A swebench 5.x row's own eval.sh, run after our apply step, so that the verdict is the
    official harness's: the row's script applies test_patch and runs its test command between
    its markers. swebench's record_test_exit_code keeps the test command's exit status (the
    script ends with a `git checkout`); the script exits with it, so grading sees the real one.
    With `report_path`, the row's test command is instrumented like ours (harness.runners)."""
    from swebench.harness.utils import parse_eval_script, record_test_exit_code

    body = record_test_exit_code(parse_eval_script(row_script))
    marks = [i for i, line in enumerate(body) if START_TEST_OUTPUT in line or END_TEST_OUTPUT in line]
    tail = ["set +x"]
    if report_path and len(marks) >= 2:
        a, b = marks[0], marks[-1]
        body = [*body[:a + 1], *(runners.instrument(line, report_path) for line in body[a + 1:b]), *body[b:]]
    return "\n".join(["#!/bin/bash", "set -uo pipefail", "cd /testbed", _APPLY, "set -x", *body, *tail,
                      'exit "${SWEBENCH_TEST_EXIT_CODE:-1}"']) + "\n"


def eval_script(test_cmd: str, *, apply_test_patch: bool, report_path: str | None = None,
                row_script: str | None = None, paths: list[str] = (), canaries=None,
                protected: list[str] = ()) -> str:
    """The in-container script. With `report_path`, the runner is asked for its structured
    report there (see harness.runners); it is read after the run by a separate exec
    (`collect_script`), never from this script's output. `paths`: what the candidate writes
    (checked for links first); `canaries`/`protected`: see `before_tests`. With `row_script`
    (a swebench 5.x row's eval.sh), that script replaces test_patch + test_cmd (no canaries)."""
    if row_script and apply_test_patch:
        return official_eval_script(row_script, report_path).replace(_APPLY, safe_paths(list(paths)) + _APPLY, 1)
    lines = ["#!/bin/bash", "set -uo pipefail", "cd /testbed",
             # swebench's prebuilt images keep the repo's environment in a conda env
             "if [ -f /opt/miniconda3/bin/activate ]; then source /opt/miniconda3/bin/activate"
             " && conda activate testbed; fi",
             safe_paths(list(paths)) + _APPLY]
    if apply_test_patch:
        lines.append(f'[ -s {TEST_PATCH_FILE} ] && {{ git apply --whitespace=nowarn {TEST_PATCH_FILE} || '
                     f'{{ echo "test_patch did not apply"; exit {EXIT_TEST_PATCH_FAILED}; }}; }}')
    lines += before_tests(canaries, protected)
    if report_path:
        test_cmd = runners.instrument(test_cmd, report_path)
        lines.append(f"rm -f {report_path}")
    # The test command's own wall time (bash's clock, no subprocess), and the CPU time of
    # the processes it ran (bash's `times`, before and after), to tell it from overhead.
    lines += [f'echo "{CPU_MARK}"', "times", f'echo "{START_TEST_OUTPUT}"', "MONKEYS_T0=$EPOCHREALTIME",
              test_cmd, "SWEBENCH_TEST_EXIT_CODE=$?", "MONKEYS_T1=$EPOCHREALTIME",
              f'echo "{END_TEST_OUTPUT}"', f'echo "{TEST_EXIT_CODE}: $SWEBENCH_TEST_EXIT_CODE"',
              f'echo "{TEST_TIMING} $MONKEYS_T0 $MONKEYS_T1"', f'echo "{CPU_MARK}"', "times"]
    lines.append("exit $SWEBENCH_TEST_EXIT_CODE")
    return "\n".join(lines) + "\n"


def test_command_seconds(log: str) -> float | None:
    """The test command's wall time, from the last clock line the script printed."""
    found = _TIMING_RE.findall(log)
    return round(float(found[-1][1]) - float(found[-1][0]), 3) if found else None


def test_command_cpu_seconds(log: str) -> float | None:
    """User + system CPU seconds of the test command's processes (all cores)."""
    found = _CPU_RE.findall(log)
    if len(found) < 2:
        return None

    def seconds(m: tuple) -> float:
        return sum(int(m[i]) * 60 + float(m[i + 1]) for i in (0, 2))

    return round(max(0.0, seconds(found[-1]) - seconds(found[-2])), 3)


def collect_script(report_path: str | None, protected: list[str]) -> str:
    """Run by a separate exec after the test command, once every stray process is gone: the
    runner's report (compressed, one line) and the manifest of protected files again."""
    lines = ["cd /testbed"]
    if report_path:
        lines.append(f'[ -s {report_path} ] && echo "{REPORT_MARK} $(gzip -c {report_path} | base64 -w0)"')
    lines.append(integrity.manifest_script(protected))
    return "\n".join(lines) + "\ntrue\n"


def split_report(log: str) -> tuple[str, bytes | None]:
    """(the text without REPORT lines, the report the first one carried, or None). Read only
    from `collect_script`'s output: a REPORT line in the test log is the candidate's print."""
    found = _REPORT_RE.findall(log)
    if not found:
        return log, None
    try:
        data = gzip.decompress(base64.b64decode(found[0]))
    except (ValueError, OSError, EOFError):
        data = None
    return _REPORT_RE.sub("", log), data


def runner_check(log: str, junit: bytes | None, test_cmd: str, tests: dict[str, str],
                 exit_code: int, parser: str | None = None, relevant: set[str] | None = None,
                 report: runners.RunnerReport | None = None) -> str | None:
    """Why the parsed `tests` disagree with the runner's own report (None: they agree).
    With `parser` (the repo's log parser), JUnit names are compared as that parser writes them.
    `report`: the runner's report when already read (without the canaries)."""
    kind = runners.kind_of(test_cmd)
    if report is None:
        section = log.split(START_TEST_OUTPUT, 1)[-1].split(END_TEST_OUTPUT, 1)[0]
        report = runners.read_report(kind, section, junit)
    return runners.cross_check(tests, report, exit_code, kind, parsed_name(parser), relevant)


def parsed_name(parser: str | None):
    """A function writing a JUnit test name as the log parser `parser` writes that test's id
    (swebench's parsers rewrite some: `parse_log_pytest_options` shortens a parameter that is
    a path to its last part), by reading a `PASSED <name>` line back through the parser itself.
    None without a parser."""
    if parser not in PARSER_REGISTRY:
        return None
    parse = PARSER_REGISTRY[parser]

    def rewrite(name: str) -> str:
        try:
            found = list(parse(f"{TestStatus.PASSED.value} {name}", None))
        except Exception:  # noqa: BLE001 - a parser that needs more context: keep the name
            return name
        return found[0] if len(found) == 1 else name

    return rewrite


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


def official(instance: SWEInstance, parser: str, log_path: str) -> str:
    """What swebench's grading alone makes of the log (`resolved` / `not_resolved`): its parser,
    its exit-code check on the exit status the log prints, no runner cross-check, no canaries,
    no integrity checks. Shown beside our verdict, never used for it."""
    status_map, ok = get_logs_eval(_test_spec(instance, parser), log_path)
    if not ok:
        return "not_resolved"
    report = get_eval_tests_report(status_map, {FAIL_TO_PASS: instance.FAIL_TO_PASS,
                                                PASS_TO_PASS: instance.PASS_TO_PASS})
    return "resolved" if get_resolution_status(report) == ResolvedStatus.FULL.value else "not_resolved"


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
