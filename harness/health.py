"""Is an instance image fit to judge candidates? Decided once per image, remembered on disk.

Before the first candidate, the Verifier runs the instance's test command with the empty
candidate (test_patch applied). A healthy environment:
- SWE-bench instances: every PASS_TO_PASS test passes and no FAIL_TO_PASS test passes
  (they fail, or are missing), and the runner ran: the log parser reads results or, when a
  crash cut the log short (pytest's INTERNALERROR: no -rA summary), the runner's own JUnit
  report shows passing tests (and is the PASS_TO_PASS tests' witness);
- custom instances (graded by exit code): the runner starts and reports at least one test.
Otherwise the image is broken and every verdict on it is `error` with the reason and the
validation log, never `not_resolved`: a gold patch must not be judged wrong because the
environment is.

For fail-fast grading the same validation also runs the gold patch against the
FAIL_TO_PASS selection alone: every FAIL_TO_PASS test must pass there, or the instance is
graded by the full command only (its tests may depend on others in the file). Both runs'
test CPU seconds are recorded; fail-fast is also off when the FAIL_TO_PASS run costs more
than FAIL_FAST_MAX_SHARE of the full run (`fail_fast_cost_note`): a candidate that passes
the selection pays both runs, so a selection that is most of the file saves little on the
candidates it rejects and costs more on the rest.

For the stop-at-first-failure stage (harness.failfast) the validation also runs the gold patch's
full command (once per image, or reuses the run the PASS_TO_PASS check made): if it is not
`resolved` with exit 0, a test outside the lists fails and every right candidate would stop on it
and pay a rerun, so the stage is off for that instance (`stop_first_note`).

Flakiness (VALIDATION_RUNS): on a healthy image the gold patch's full command runs that many
times, and the empty candidate's as many; a test whose status is not the same in every run of
one patch is recorded in `flaky` (test -> what each run gave), shown in `images list` and in every
verdict's `environment`. The gold patch must be `resolved` in at least one of its full runs
(`gold_note`): otherwise the image cannot judge, and every verdict is `error` naming the gold run
(a FAIL_TO_PASS test skipped on this Python, a dependency that behaves otherwise); when the
empty run already showed the lists at fault, that wording stays. Why 2 runs: a second run of each
is what a stable instance pays (one more full run of each patch than validation made before),
and it sees a test flipping half the time with probability 1 - (1/2)^2 per patch (3/4 over both):
the frequent flippers. A rarer one is caught where it matters, at the verdict: harness.verify
reruns a candidate whose verdict hinges on a known-flaky or unexplained test.

Records live in `<cache>/validations/<key>.json` (with the log beside it), keyed by image
id, instance id, test command, fail-fast and stop-first commands, cost share and VERSION, so a validation runs once
per image, not once per process. Timeouts are not remembered (the machine may be loaded).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

VERSION = 13  # bump when the rules change: every image is validated again (9: `fault`, 10: runs, flaky, gold must resolve, 11-13: canaries)
VALIDATION_RUNS = 2  # full runs of the empty candidate and of the gold patch each (flakiness)
FAIL_FAST_MAX_SHARE = 0.5  # fail-fast only when the FAIL_TO_PASS run costs at most this share of the full run
GOLD_UNRESOLVED = "the gold patch does not resolve on this image"  # how gold_reason() starts
PYTEST_INTERNAL_ERROR = 3  # pytest's exit status after an INTERNALERROR (no -rA summary printed)


@dataclass
class Health:
    healthy: bool
    reason: str | None = None  # why not healthy
    note: str | None = None  # healthy, with a caveat worth showing (some FAIL_TO_PASS tests pass at base)
    log_path: str | None = None  # the validation run's log
    fail_fast_cmd: str | None = None  # the FAIL_TO_PASS-only command, when trusted
    fail_fast_note: str | None = None  # why fail-fast is off for this image
    full_cpu_s: float | None = None  # test CPU seconds of the full command, empty candidate
    fail_fast_cpu_s: float | None = None  # test CPU seconds of the FAIL_TO_PASS selection, gold patch
    stop_first_cmd: str | None = None  # the full command stopping at its first failure, when on
    stop_first_note: str | None = None  # why the stop-at-first-failure stage is off for this image
    gold_full_cpu_s: float | None = None  # test CPU seconds of the gold patch's full run (when it ran)
    hash_seed: str | None = None  # PYTHONHASHSEED of every run on this image (harness.verify.HASH_SEEDS)
    image: str = ""
    checked_at: float = 0.0
    persist: bool = True  # False for outcomes that may change on a rerun (timeouts)
    p2p_missing_only: bool = False  # broken only by PASS_TO_PASS tests absent from the log (see judge)
    # Unhealthy, whose fault: "environment" (ours to fix) or "instance" (the dataset's
    # lists cannot tell a fix from no fix: every FAIL_TO_PASS test passes without any patch).
    fault: str | None = None
    # Why the canary tests (harness.canary) are not required on this image: they did not come out
    # as planted in the empty candidate's run (None: they did, and a run missing them is tampered).
    canary_note: str | None = None
    runs: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # "empty"/"gold" -> each full run's status
    run_s: dict[str, list[float]] = dataclasses.field(default_factory=dict)  # ... and its test command seconds
    flaky: dict[str, str] = dataclasses.field(default_factory=dict)  # test -> its statuses, run by run

    def unjudged(self) -> str:
        """How a verdict on this unhealthy image names the cause."""
        return "the instance's test lists cannot judge" if self.fault == "instance" else "broken environment"

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("persist")
        d.pop("p2p_missing_only")
        return d


def key(image_id: str, instance_id: str, test_cmd: str, fail_fast_cmd: str | None,
        max_share: float | None = FAIL_FAST_MAX_SHARE, judged: str = "", *,
        stop_first_cmd: str | None = None) -> str:
    """`judged`: what the validation judged against (the test lists, test_patch, gold patch):
    an instance whose lists change is validated again."""
    text = "\0".join([str(VERSION), image_id, instance_id, test_cmd, fail_fast_cmd or "", repr(max_share),
                      judged, stop_first_cmd or ""])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def fail_fast_cost_note(full_cpu_s: float | None, fail_fast_cpu_s: float | None,
                        max_share: float | None = FAIL_FAST_MAX_SHARE) -> str | None:
    """Why fail-fast does not pay on this instance, or None when it does (or cannot be told:
    a figure is missing, or `max_share` is None). From the validation's two test CPU costs:
    the full command on the empty candidate and the FAIL_TO_PASS selection on the gold patch."""
    if max_share is None or full_cpu_s is None or fail_fast_cpu_s is None:
        return None
    if fail_fast_cpu_s <= max_share * full_cpu_s:
        return None
    return (f"the FAIL_TO_PASS tests alone cost {fail_fast_cpu_s:.2f} test CPU s, more than {max_share:g} of "
            f"the full run's {full_cpu_s:.2f} s: full grading only (a candidate that passes them would pay both)")


def varied(runs: dict[str, list[dict[str, str]]]) -> dict[str, str]:
    """Tests whose status differs between runs of one patch: test -> `patch: s1, s2; ...`
    (`runs`: patch name -> each run's parsed statuses; a test absent from a run is `absent`)."""
    flaky: dict[str, str] = {}
    for name, maps in runs.items():
        if len(maps) < 2:
            continue
        for test in sorted(set().union(*maps)):
            seen = [m.get(test, "absent") for m in maps]
            if len(set(seen)) > 1:
                flaky[test] = "; ".join(filter(None, [flaky.get(test), f"{name}: {', '.join(seen)}"]))
    return flaky


def gold_reason(status: str, fail_to_pass: dict, pass_to_pass: dict, error: str | None, log_path: str | None) -> str:
    """Why an image on which the gold patch's full run is not `resolved` cannot judge."""
    failing = [*fail_to_pass.get("failure", []), *pass_to_pass.get("failure", [])]
    shown = f", failing {len(failing)} listed tests (e.g. {failing[0]})" if failing else ""
    why = f": {error}" if error else ""
    return (f"{GOLD_UNRESOLVED} ({status}{shown}{why}): a right candidate "
            f"cannot be told from a wrong one (gold log {log_path})")


class Store:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def by_image(self) -> dict[str, list[Health]]:
        """Every record on disk, by image tag (for `images list`)."""
        found: dict[str, list[Health]] = {}
        for path in sorted(self.root.glob("*.json")):
            h = self.load(path.stem)
            if h is not None:
                found.setdefault(h.image, []).append(h)
        return found

    def load(self, k: str) -> Health | None:
        try:
            data = json.loads((self.root / f"{k}.json").read_text())
            return Health(**{f.name: data[f.name] for f in dataclasses.fields(Health) if f.name in data})
        except (OSError, ValueError, TypeError):
            return None

    def save(self, k: str, health: Health) -> Health:
        """Write the record (atomically) with a copy of its log; returns it, log path updated."""
        if not health.persist:
            return health
        self.root.mkdir(parents=True, exist_ok=True)
        if health.log_path and os.path.exists(health.log_path):
            kept = self.root / f"{k}.log"
            shutil.copyfile(health.log_path, kept)
            junit = Path(health.log_path).with_suffix(".junit.xml")
            if junit.exists():  # the runner's own report, the witness judge() may have used
                shutil.copyfile(junit, kept.with_suffix(".junit.xml"))
            health.log_path = str(kept)
        fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(health.to_dict(), f, indent=1)
        os.replace(tmp, self.root / f"{k}.json")
        return health


def _tail(log_path: str | None, n: int = 3) -> str:
    """The last non-empty lines of the test command's output, for a one-line reason."""
    from harness import grading

    try:
        with open(log_path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except (OSError, TypeError):
        return ""
    section = text.split(grading.START_TEST_OUTPUT, 1)[-1].split(grading.END_TEST_OUTPUT, 1)[0]
    lines = [ln.strip() for ln in section.splitlines() if ln.strip()]
    return " | ".join(lines[-n:])[:300]


def junit_beside(log_path: str | None) -> bytes | None:
    """The runner's JUnit report kept beside a run's log (harness.verify writes it there)."""
    try:
        return Path(log_path).with_suffix(".junit.xml").read_bytes()
    except (OSError, TypeError):
        return None


def _refused(log_path: str | None) -> bool:
    """The log carries a marker for which swebench refuses any log (it would refuse the gold's)."""
    from harness import swebench_lib

    swebench_lib.load()
    from swebench.harness.constants import APPLY_PATCH_FAIL, RESET_FAILED, TESTS_ERROR, TESTS_TIMEOUT

    try:
        text = Path(log_path).read_text(encoding="utf-8", errors="replace")
    except (OSError, TypeError):
        return True
    return any(code in text for code in (APPLY_PATCH_FAIL, RESET_FAILED, TESTS_ERROR, TESTS_TIMEOUT))


def judge(instance, verdict, image: str, report=None, parsed_name=None) -> Health:
    """Health from the empty candidate's verdict (a harness.verify.PatchVerdict) and, for
    pytest, the runner's own report of that run (a harness.runners.RunnerReport; trusted
    here: the empty candidate is no model output). The report is the witness when the log
    parser read nothing because pytest crashed after its tests ran (an INTERNALERROR, exit 3,
    drops the -rA summary; the crash may be the very bug the instance fixes): the runner
    works if it reported passing tests, and a PASS_TO_PASS test passes if it passed there.
    `parsed_name`: JUnit names as the log parser writes them (harness.grading.parsed_name)."""
    from harness import runners

    now = time.time()
    base = dict(log_path=verdict.log_path, image=image, checked_at=now, full_cpu_s=verdict.test_cpu_s)

    def broken(reason: str, persist: bool = True) -> Health:
        return Health(False, reason, persist=persist, fault="environment", **base)

    if verdict.status == "timeout":
        return broken(f"the test command timed out without any patch ({verdict.error})", persist=False)
    if verdict.status == "error":  # the run itself failed (a killed sandbox, the daemon): not remembered
        return broken(verdict.error or "the validation run failed", persist=False)
    if verdict.status == "tampered":  # no candidate ran: the suite itself trips the integrity checks
        return broken(f"the empty candidate's run trips the tamper checks ({'; '.join(verdict.tamper)}): "
                      "they cannot tell a candidate's tampering from this suite's own behaviour")
    exit_note = f"exit {verdict.test_exit_code}"
    if instance.grade_by_exit_code:
        if not verdict.tests:
            return broken(f"the test command reported no test results ({exit_note}): {_tail(verdict.log_path)}")
        return Health(True, **base)
    p2p_failed = verdict.pass_to_pass.get("failure", [])
    if not verdict.tests:
        crashed = verdict.test_exit_code == PYTEST_INTERNAL_ERROR
        if not crashed or report is None or not report.passed or _refused(verdict.log_path):
            return broken(f"the test command reported no test results ({exit_note}): {_tail(verdict.log_path)}")
        index = runners.junit_index(report, parsed_name)
        p2p_failed = [t for t in instance.PASS_TO_PASS if "passed" not in (runners.junit_outcomes(index, t) or [])]
    elif verdict.error:  # swebench refused the log (e.g. a non-zero exit with every test passing)
        return broken(f"{verdict.error} ({exit_note}): {_tail(verdict.log_path)}")
    if p2p_failed:
        h = broken(f"{len(p2p_failed)} of {len(instance.PASS_TO_PASS)} PASS_TO_PASS tests do not pass "
                   f"without any patch (e.g. {p2p_failed[0]}): {_tail(verdict.log_path, 2)}")
        # Absent from the log, none reported failing: a log parser can lose a line that a failing
        # FAIL_TO_PASS test's output interrupts (swebench's django parser, django-12983). The gold
        # patch's run decides (harness.verify): healthy if it passes them all.
        h.p2p_missing_only = bool(verdict.tests) and all(t not in verdict.tests for t in p2p_failed)
        return h
    f2p_passed = verdict.fail_to_pass.get("success", [])
    if f2p_passed and len(f2p_passed) >= len(instance.FAIL_TO_PASS):  # nothing left to tell candidates apart
        h = broken(f"all {len(f2p_passed)} FAIL_TO_PASS tests already pass without any patch "
                   f"(e.g. {f2p_passed[0]}): no candidate can be told from no fix")
        h.fault = "instance"
        return h
    if f2p_passed:  # dataset noise (requests' digest tests vs httpbin.org in 2023) or an environment difference
        return Health(True, note=f"{len(f2p_passed)} of {len(instance.FAIL_TO_PASS)} FAIL_TO_PASS tests "
                                 f"already pass without any patch (e.g. {f2p_passed[0]}); the others decide", **base)
    return Health(True, **base)
