"""Honest verdicts on the fixture instance (real Docker): broken environments are `error`,
reversed or misplaced hunks do not apply, printed fake results are caught, and fail-fast
grading gives the verdicts full grading gives. One image (the fixture's), reused."""
import pytest

from harness import images
from harness.sandbox import Limits, Sandbox
from harness.verify import Verifier
from harness_fixture import GOLD_EDIT, OPS, git, gold_source, make_fixture_instance, make_patch

pytestmark = pytest.mark.docker
LIMITS = Limits(memory="512m", cpus=1, pids=128, timeout_s=90)
OPS_FILE = GOLD_EDIT[0]
FAKE_PASSES = '''import os
_out = open(f"/proc/{os.getppid()}/fd/1", "w")  # past pytest's capture, into the log
for _t in ("test_add", "test_add_negative", "test_mean", "test_mean_single"):
    _out.write(f"PASSED tests/test_ops.py::{_t}\\n")
_out.flush()
os._exit(0)
'''


@pytest.fixture(scope="module")
def calc(tmp_path_factory):
    inst, mirror = make_fixture_instance(tmp_path_factory.mktemp("honest"))
    return inst, mirror, images.ensure_image(inst, repo_mirror=mirror)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """Validations shared by this module's tests (as they are by every run on a machine)."""
    return tmp_path_factory.mktemp("validations")


def make_verifier(inst, image, tmp_path, cache, **kw) -> Verifier:
    # Fail-fast on whatever the fixture's selection costs (the cost rule: tests/test_failfast_rule.py).
    kw.setdefault("fail_fast_max_share", None)
    return Verifier(inst, image=image, pool_size=2, limits=LIMITS, cache_dir=cache,
                    log_dir=tmp_path / "logs", **kw)


@pytest.mark.parametrize("case,test_cmd,why", [
    ("collects nothing", "pytest -rA tests/test_ops.py -k no_such_test", "no test results (exit 5)"),
    ("runner missing", "no-such-runner -rA tests/test_ops.py", "no test results (exit 127)"),
])
@pytest.mark.parametrize("graded_by", ["lists", "exit code"])
def test_broken_environment_gives_error_never_not_resolved(calc, cache, tmp_path, case, test_cmd, why, graded_by):
    inst, mirror, image = calc
    update = {"test_cmd": test_cmd}
    if graded_by == "exit code":  # a custom instance: no FAIL_TO_PASS / PASS_TO_PASS lists
        update.update(FAIL_TO_PASS=[], PASS_TO_PASS=[])
    broken = inst.model_copy(update=update)
    assert broken.grade_by_exit_code == (graded_by == "exit code")
    with make_verifier(broken, image, tmp_path, cache) as v:
        health = v.health()
        assert not health.healthy and why in health.reason, health
        verdicts = [v.verify(p) for p in (inst.patch, "")]
    assert [x.status for x in verdicts] == ["error", "error"]
    for x in verdicts:
        assert "broken environment" in x.error and why in x.error and x.log_path == health.log_path
        assert x.decided_by == "validation"
    if case == "runner missing":
        assert "command not found" in open(health.log_path).read()
    # remembered per image: a new Verifier (a new process would do the same) does not validate again
    with make_verifier(broken, image, tmp_path, cache) as again:
        assert again.health().checked_at == health.checked_at
        assert again.verify(inst.patch).status == "error"
    assert not list((tmp_path / "logs").rglob("*-validation.log"))[1:]  # one validation run in all


def test_lists_that_cannot_tell_a_fix_from_none_are_the_instances_fault(calc, cache, tmp_path):
    """psf__requests-863 / -2674: every FAIL_TO_PASS test passes without the fix (the dataset's
    lists caught httpbin.org flaking). The gold patch is not `resolved` there, nor the empty
    one: every verdict is `error`, and it names the instance, not the environment."""
    inst, mirror, image = calc
    lists = inst.model_copy(update={"FAIL_TO_PASS": ["tests/test_ops.py::test_add"],
                                    "PASS_TO_PASS": ["tests/test_ops.py::test_add_negative"]})
    with make_verifier(lists, image, tmp_path, cache) as v:
        health = v.health()
        assert not health.healthy and health.fault == "instance"
        assert "all 1 FAIL_TO_PASS tests already pass without any patch" in health.reason
        verdicts = [v.verify(p) for p in (inst.patch, "")]
    assert [x.status for x in verdicts] == ["error", "error"]
    assert all(x.error.startswith("the instance's test lists cannot judge, not judged") for x in verdicts)


def test_candidate_that_breaks_the_import_is_not_resolved(calc, cache, tmp_path):
    inst, mirror, image = calc
    broken_import = make_patch(mirror, {OPS_FILE: OPS.replace("def add(a, b):", "def add(a, b:")})
    with make_verifier(inst, image, tmp_path, cache) as v:
        assert v.health().healthy
        for fail_fast in (True, False):
            v.fail_fast = fail_fast
            verdict = v.verify(broken_import)
            assert verdict.status == "not_resolved", verdict
            assert verdict.decided_by == ("fail-fast" if fail_fast else "full")
            assert "SyntaxError" in open(verdict.log_path).read()


def test_reversed_patch_and_absent_lines_are_apply_failed(calc, cache, tmp_path):
    inst, mirror, image = calc
    work = tmp_path / "w"
    git(tmp_path, "clone", "-q", str(mirror / "monkeys__calc.git"), str(work))
    (work / "gold.diff").write_text(inst.patch)
    git(work, "apply", "gold.diff")
    (work / "gold.diff").unlink()
    reversed_gold = git(work, "diff", "-R")  # the gold fix, undone
    # removes a line that is not there, and "adds" one that already is
    absent = inst.patch.replace(f"-{GOLD_EDIT[1]}", "-    return 42\n").replace(f"+{GOLD_EDIT[2]}", f"+{GOLD_EDIT[1]}")
    # What these were before: plain `patch --batch` takes both, in reverse
    with Sandbox(image, limits=LIMITS) as sb:
        for diff in (reversed_gold, absent):
            sb.put_file("/tmp/x.diff", diff.encode())
            assert sb.exec("patch --batch --fuzz=5 -p1 --dry-run -i /tmp/x.diff").exit_code == 0
    with make_verifier(inst, image, tmp_path, cache) as v:
        for diff in (reversed_gold, absent):
            verdict = v.verify(diff)
            assert verdict.status == "apply_failed", (verdict, open(verdict.log_path).read()[-800:])
            assert "Reversed (or previously applied) patch detected" in open(verdict.log_path).read()


def test_fake_passed_lines_are_not_resolved(calc, cache, tmp_path):
    inst, mirror, image = calc
    fake = make_patch(mirror, {OPS_FILE: FAKE_PASSES + OPS})
    with make_verifier(inst, image, tmp_path, cache) as v:
        for fail_fast in (True, False):
            v.fail_fast = fail_fast
            verdict = v.verify(fake)
            # the runner's report disagrees, and the canaries a resolved run must show are missing
            assert verdict.status == "tampered" and not verdict.resolved, verdict
            assert "canary" in verdict.tamper[0] and verdict.official == "resolved"
            # the log parser alone was fooled: every test reads as passing
            assert set(verdict.tests.values()) == {"PASSED"} and len(verdict.tests) == 4


def test_fail_fast_gives_the_verdicts_full_grading_gives(calc, cache, tmp_path):
    inst, mirror, image = calc
    candidates = {
        "gold": inst.patch,
        "empty": "",
        "breaks PASS_TO_PASS only": make_patch(mirror, {OPS_FILE: OPS.replace("a + b", "a - b")}),
        "fixes FAIL_TO_PASS, breaks another": make_patch(mirror, {OPS_FILE: gold_source().replace("a + b", "a * b")}),
    }
    expected = {"gold": ("resolved", "full"), "empty": ("not_resolved", "fail-fast"),
                "breaks PASS_TO_PASS only": ("not_resolved", "fail-fast"),
                "fixes FAIL_TO_PASS, breaks another": ("not_resolved", "full")}
    # FAIL_TO_PASS first, then the full run (the stop-first stage between: test_failfast_stop_first.py)
    with make_verifier(inst, image, tmp_path, cache, stop_first=False) as fast, \
            make_verifier(inst, image, tmp_path, cache, fail_fast=False) as full:
        assert fast.health().fail_fast_cmd.endswith("tests/test_ops.py::test_mean tests/test_ops.py::test_mean_single")
        names = list(candidates)
        got_fast = dict(fast.verify_many(candidates.values()))
        got_full = dict(full.verify_many(candidates.values()))
        for i, name in enumerate(names):
            a, b = got_fast[i], got_full[i]
            assert (a.status, a.resolved) == (b.status, b.resolved), name
            assert (a.status, a.decided_by) == expected[name], name
            # failing PASS_TO_PASS tests only: rerun once (harness.verify._steady), the same verdict kept
            reran = ["rerun-1"] if name == "fixes FAIL_TO_PASS, breaks another" else []
            assert b.decided_by == "full" and [s["stage"] for s in b.stages] == ["full", *reran]
            if a.decided_by == "fail-fast":  # decided without the PASS_TO_PASS tests
                assert len(a.stages) == 1 and a.fail_to_pass["failure"]
            else:
                assert [s["stage"] for s in a.stages] == ["fail-fast", "full", *reran]
                assert a.pass_to_pass == b.pass_to_pass


def test_pass_to_pass_missing_from_the_log_is_settled_by_the_gold_run(calc, cache, tmp_path):
    """A PASS_TO_PASS id absent from the empty candidate's log (and reported failing by nothing)
    is checked against the gold patch's full run: here the gold run lacks it too, so the image
    stays broken, says so, and every verdict is `error` (the other path, where the gold run has
    it: the rule's unit test in test_harness_honest_runners.py)."""
    inst, mirror, image = calc
    lost = inst.model_copy(update={"PASS_TO_PASS": [*inst.PASS_TO_PASS, "tests/test_ops.py::test_not_there"]})
    with make_verifier(lost, image, tmp_path, cache) as v:
        h = v.health()
        assert not h.healthy and "test_not_there" in h.reason and "the gold patch does not pass them either" in h.reason
        assert v.verify(inst.patch).status == "error"


SEED_TEST = '''import os


def test_seed_dependent():
    # stands in for a suite that passes under some hash seeds only (sympy__sympy-13177)
    assert os.environ.get("PYTHONHASHSEED") not in (None, "0")


def test_never():
    assert os.environ.get("PYTHONHASHSEED") == "never"
'''


def test_runs_have_a_fixed_hash_seed_that_validation_chooses(calc, cache, tmp_path):
    """Every run has a fixed PYTHONHASHSEED (same candidate, same verdict); a suite whose
    PASS_TO_PASS tests fail under the first seed gets the first seed they pass under, and one
    that no seed heals stays broken, with the first seed's reason."""
    inst, mirror, image = calc
    extra = make_patch(mirror, {"tests/test_seed.py": SEED_TEST})
    base = {"test_patch": inst.test_patch + extra, "test_cmd": "pytest -rA tests/test_ops.py tests/test_seed.py"}
    seeded = inst.model_copy(update={**base, "PASS_TO_PASS": [*inst.PASS_TO_PASS, "tests/test_seed.py::test_seed_dependent"]})
    with make_verifier(seeded, image, tmp_path, cache) as v:
        h = v.health()
        assert h.healthy and h.hash_seed == "1" and "depends on the hash seed" in h.note, h
        gold, empty = v.verify(inst.patch), v.verify("")
    assert (gold.status, empty.status) == ("resolved", "not_resolved")
    assert gold.environment["hash_seed"] == "1"
    never = inst.model_copy(update={**base, "PASS_TO_PASS": [*inst.PASS_TO_PASS, "tests/test_seed.py::test_never"]})
    with make_verifier(never, image, tmp_path, cache) as v:
        h = v.health()
        assert not h.healthy and h.hash_seed == "0" and "test_never" in h.reason, h
        assert v.verify(inst.patch).status == "error"
