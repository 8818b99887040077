"""Stop at the first failure (harness.failfast): the rules are pure functions, tested directly;
on the fixture instance (real Docker, the fixture's image reused) the stage gives full grading's
verdicts and says which stage decided, including the rerun when it stops outside the lists."""
import pytest

from harness import failfast, health as healths, images
from harness.sandbox import Limits
from harness.verify import Verifier
from harness_fixture import GOLD_EDIT, gold_source, make_fixture_instance, make_patch

F2P = ["t.py::test_fix"]
P2P = ["t.py::test_keep", "t.py::test_p[a-1]", "t.py::test_cut[a"]
BOTH = {"t.py::test_fix", "t.py::test_keep", "t.py::test_p[a-1]", "t.py::test_cut[a"}


def outcome(status="not_resolved", tests=None, exit_code=1, junit=None):
    tests = tests or {}
    junit = {t for t, s in tests.items() if s in ("FAILED", "ERROR")} if junit is None else junit
    return failfast.outcome(status, tests, exit_code, junit, F2P, P2P)


def test_commands():
    assert failfast.command("pytest -rA testing/test_x.py") == "pytest --maxfail=1 -rA testing/test_x.py"
    assert failfast.command("python -m pytest -rA t.py") == "python -m pytest --maxfail=1 -rA t.py"
    for other in ("bin/test -C --verbose sympy/core/tests/test_x.py", "./tests/runtests.py --verbosity 2 x",
                  "pytest a.py; pytest b.py", "make test"):
        assert failfast.command(other) is None, other


def test_complete_run_is_final_and_graded_as_the_full_run():
    passing = {"t.py::test_fix": "PASSED", "t.py::test_keep": "PASSED", "other.py::test_x": "PASSED"}
    assert outcome("resolved", passing, 0) == (failfast.FINAL, None)
    # exit 0 with a listed test missing is still the full run (graded not_resolved by it)
    assert outcome("not_resolved", {"t.py::test_keep": "PASSED"}, 0) == (failfast.FINAL, None)
    assert outcome("not_resolved", {}, 0) == (failfast.RERUN, None)  # no results: nothing known


def test_stopped_on_a_listed_test_is_not_resolved():
    for listed in ("t.py::test_fix", "t.py::test_keep", "t.py::test_p[a-1]"):
        for status in ("FAILED", "ERROR"):
            tests = {"t.py::test_keep": "PASSED", listed: status}
            assert outcome(tests=tests) == (failfast.LISTED, listed), (listed, status)


def test_stopped_outside_the_lists_or_unsure_means_rerun():
    assert outcome(tests={"t.py::test_keep": "PASSED", "other.py::test_y": "FAILED"}) == (failfast.RERUN, None)
    # a printed FAILED line the runner's own report does not confirm
    assert outcome(tests={"t.py::test_keep": "FAILED"}, junit=set()) == (failfast.RERUN, None)
    # an id the dataset cut short may name several tests: never decisive
    assert outcome(tests={"t.py::test_cut[a": "FAILED"}) == (failfast.RERUN, None)
    assert outcome(tests={"t.py::test_fix": "SKIPPED"}, exit_code=2) == (failfast.RERUN, None)
    # the verifier failed, or the log contradicts the runner: rerun, never a judgement from it
    assert outcome("error", {"t.py::test_keep": "FAILED"}) == (failfast.RERUN, None)


def test_timeouts_and_refused_patches_are_final():
    assert outcome("timeout") == (failfast.FINAL, None)
    assert outcome("apply_failed") == (failfast.FINAL, None)


def test_validation_rule_from_the_gold_full_run():
    assert failfast.note("resolved", 0, []) is None
    off = failfast.note("resolved", 1, ["other.py::test_env"])
    assert off and "other.py::test_env" in off and "rerun" in off
    assert failfast.note("resolved", 1, []) is not None  # exit 1: something failed, even if unnamed
    assert "not_resolved" in failfast.note("not_resolved", 1, [])
    assert failfast.note(None, None, []) is not None  # no gold patch


def test_the_stop_first_command_is_part_of_the_validation_key():
    args = ("sha256:img", "x__y-1", "pytest -rA t.py", "pytest -rA t.py::a")
    keys = {healths.key(*args), healths.key(*args, stop_first_cmd="pytest --maxfail=1 -rA t.py")}
    assert len(keys) == 2


@pytest.mark.docker
def test_fixture_fixes_fail_to_pass_but_breaks_pass_to_pass(tmp_path):
    inst, mirror = make_fixture_instance(tmp_path)
    image = images.ensure_image(inst, repo_mirror=mirror)
    limits = Limits(memory="512m", cpus=1, pids=128, timeout_s=90)
    breaks = make_patch(mirror, {GOLD_EDIT[0]: gold_source().replace("a + b", "a * b")})  # test_add fails

    def verifier(instance, **kw) -> Verifier:
        return Verifier(instance, image=image, pool_size=1, limits=limits, cache_dir=tmp_path / "cache",
                        log_dir=tmp_path / "logs", fail_fast_max_share=None, **kw)

    with verifier(inst) as new, verifier(inst, fail_fast=False) as full:
        h = new.health()
        assert h.stop_first_cmd.endswith("pytest --maxfail=1 -rA tests/test_ops.py") and h.stop_first_note is None, h
        got = {}
        for patch, want in ((breaks, "not_resolved"), (inst.patch, "resolved")):
            a, b = got[want] = new.verify(patch), full.verify(patch)
            assert a.status == b.status == want and b.decided_by == "full"
            # failing PASS_TO_PASS tests only: one rerun (harness.verify._steady), the same verdict
            reran = ["rerun-1"] if want == "not_resolved" else []
            assert a.decided_by == "stop-first" and [s["stage"] for s in a.stages] == ["fail-fast", "stop-first", *reran]
        assert a.pass_to_pass == b.pass_to_pass and a.fail_to_pass == b.fail_to_pass  # gold: the same full run
        broke = got["not_resolved"][0]
        assert broke.stages[1]["stopped_on"] == "tests/test_ops.py::test_add"
        assert broke.pass_to_pass["failure"] == ["tests/test_ops.py::test_add"]
        assert broke.pass_to_pass["not_run"] == ["tests/test_ops.py::test_add_negative"]

    # test_add outside the lists: the run stops there, nothing is known, the full command decides
    unlisted = inst.model_copy(update={"PASS_TO_PASS": ["tests/test_ops.py::test_add_negative"]})
    with verifier(unlisted) as new, verifier(unlisted, stop_first=False) as old:
        assert new.health().stop_first_cmd and old.health().stop_first_cmd is None
        a, b = new.verify(breaks), old.verify(breaks)
        assert a.status == b.status == "not_resolved" and a.decided_by == b.decided_by == "full"
        assert [s["stage"] for s in a.stages] == ["fail-fast", "stop-first (rerun)", "full", "rerun-1"]
        assert [s["stage"] for s in b.stages] == ["fail-fast", "full", "rerun-1"]
        # the stage is part of the verdict cache key: a verdict of one is not served to the other
        assert new._cache_fields("k")["stop_first_cmd"] and old._cache_fields("k")["stop_first_cmd"] is None
