"""Fail-fast only where it pays: validation records the test CPU seconds of the full command
(empty candidate) and of the FAIL_TO_PASS selection (gold patch), and turns fail-fast off for
an instance whose selection costs more than half the full run. The rule is a pure function of
those two figures (tested directly); on the fixture instance (real Docker) the figures, the
note and the grading path follow it, and verdicts do not change."""
import pytest

from harness import health as healths, images
from harness.sandbox import Limits
from harness.verify import Verifier
from harness_fixture import make_fixture_instance


@pytest.mark.parametrize("full,ff,pays", [
    (10.0, 1.0, True),   # a cheap selection in a large file: fail-fast pays
    (10.0, 5.0, True),   # exactly half: still on
    (10.0, 5.01, False),
    (2.0, 1.9, False),   # the selection is most of the file (flask-5063-like)
    (6.78, 11.99, False),  # the selection costs more than the file (sympy-24152 measured so)
    (0.0, 0.1, False),
])
def test_rule_is_a_pure_function_of_the_two_costs(full, ff, pays):
    note = healths.fail_fast_cost_note(full, ff)
    assert (note is None) == pays
    if note:  # says why, with both figures
        assert f"{ff:.2f}" in note and f"{full:.2f}" in note and "full grading only" in note


def test_rule_keeps_fail_fast_when_it_cannot_tell_or_is_told_not_to_weigh():
    assert healths.fail_fast_cost_note(None, 3.0) is None
    assert healths.fail_fast_cost_note(3.0, None) is None
    assert healths.fail_fast_cost_note(1.0, 100.0, max_share=None) is None
    assert healths.fail_fast_cost_note(10.0, 8.0, max_share=0.9) is None
    assert healths.fail_fast_cost_note(10.0, 8.0, max_share=0.5) is not None


def test_the_share_is_part_of_the_validation_key():
    args = ("sha256:img", "x__y-1", "pytest -rA t.py", "pytest -rA t.py::a")
    assert len({healths.key(*args), healths.key(*args, 0.5), healths.key(*args, None), healths.key(*args, 0.0)}) == 3
    assert healths.key(*args) == healths.key(*args, healths.FAIL_FAST_MAX_SHARE)


@pytest.mark.docker
def test_fixture_records_both_costs_and_follows_the_rule(tmp_path):
    inst, mirror = make_fixture_instance(tmp_path)
    image = images.ensure_image(inst, repo_mirror=mirror)
    limits = Limits(memory="512m", cpus=1, pids=128, timeout_s=90)

    def verifier(share) -> Verifier:
        return Verifier(inst, image=image, pool_size=1, limits=limits, cache_dir=tmp_path / "cache",
                        log_dir=tmp_path / "logs", fail_fast_max_share=share)

    statuses = {}
    # default share: whichever way the fixture's figures fall, the record follows the rule;
    # share 0: any selection costs more (the off path, deterministically); None: never weighed.
    for share in (healths.FAIL_FAST_MAX_SHARE, 0.0, None):
        with verifier(share) as v:
            h = v.health()
            assert h.healthy and h.full_cpu_s > 0 and h.fail_fast_cpu_s > 0, h
            expected = healths.fail_fast_cost_note(h.full_cpu_s, h.fail_fast_cpu_s, share)
            assert h.fail_fast_note == expected and (h.fail_fast_cmd is None) == (expected is not None)
            if share == 0.0:
                assert expected and f"{h.fail_fast_cpu_s:.2f}" in expected and f"{h.full_cpu_s:.2f}" in expected
            if share is None:
                assert h.fail_fast_cmd
            empty = v.verify("")
            assert empty.decided_by == ("stop-first" if expected else "fail-fast")  # then the --maxfail=1 run
            assert [s["stage"] for s in empty.stages] == [empty.decided_by]
            statuses[share] = (empty.status, v.verify(inst.patch).status)
        with verifier(share) as again:  # remembered on disk, figures included
            assert again.health().to_dict() == h.to_dict()
    assert set(statuses.values()) == {("not_resolved", "resolved")}
