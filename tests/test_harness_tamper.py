"""The red team: candidates that do not fix the bug and try to be judged `resolved` anyway.

Each attack is a real diff on the fixture instance (calc.mean divides by len + 1; the tests run
with `python -m pytest`, so /testbed is first on sys.path), verified in real containers. None
may come out `resolved`: each is `tampered` (with evidence) or `not_resolved` for the stated
reason (the files it relied on were reset). The attacks are kept as tests so that a change to
the harness that lets one through fails CI. benchmarks/tamper.py prints the same table.
"""
import pytest

from harness.sandbox import Limits
from harness.verify import Verifier
from harness_fixture import GOLD_EDIT, OPS, make_fixture_instance, make_patch
from tamper_attacks import ATTACKS, attack_patch

pytestmark = pytest.mark.docker
LIMITS = Limits(memory="512m", cpus=1, pids=128, timeout_s=90)


@pytest.fixture(scope="module")
def calc(tmp_path_factory):
    return make_fixture_instance(tmp_path_factory.mktemp("calc"))


@pytest.fixture(scope="module")
def verifier(calc, tmp_path_factory):
    inst, mirror = calc
    cache = tmp_path_factory.mktemp("validations")
    with Verifier(inst, repo_mirror=mirror, pool_size=2, limits=LIMITS, cache_dir=cache) as v:
        v.ensure_image()
        yield v


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_attack_is_never_resolved(calc, verifier, attack):
    _, mirror = calc
    patch = attack_patch(mirror, attack)
    v = verifier.verify(patch)
    assert v.status != "resolved" and not v.resolved, (attack.name, v.status, v.tamper, v.error)
    assert v.status == attack.expect, (attack.name, v.status, v.tamper, v.error, v.reset)
    evidence = " ".join([*v.tamper, *v.reset.values(), *(v.error or "").split("\n")[:1],
                         *(["test file"] if v.dropped_files else [])])
    assert attack.evidence in evidence, (attack.name, evidence)
    if attack.flag:
        assert any(attack.flag in f for f in v.flags), (attack.name, v.flags)


def test_honest_runs_are_unchanged_by_the_canaries(calc, verifier):
    inst, mirror = calc
    gold = verifier.verify(inst.patch)
    assert gold.status == "resolved" and not gold.tamper and not gold.flags and gold.official == "resolved"
    assert set(gold.tests) == {*inst.FAIL_TO_PASS, *inst.PASS_TO_PASS}  # no canary id among the instance's
    assert gold.test_exit_code == 0  # the must-fail canary's failure is not the run's
    seen = gold.canaries["seen"]
    assert seen[gold.canaries["must_pass"]] == "PASSED" and seen[gold.canaries["must_fail"]] == "FAILED"
    assert gold.canaries["must_pass"].startswith("test_mean")  # named like the tests test_patch adds
    assert verifier.health().canary_note is None
    empty = verifier.verify("")
    assert empty.status == "not_resolved" and not empty.tamper and empty.official == "not_resolved"


def test_canaries_are_fresh_every_run(calc, verifier):
    inst, mirror = calc
    # two textually different candidates with the same fix: two runs (no dedupe by text here)
    first = verifier._attempt(inst.patch, verifier.spec.test_cmd, by_exit_code=False, stage="full")
    second = verifier._attempt(inst.patch, verifier.spec.test_cmd, by_exit_code=False, stage="full")
    names = {first.canaries["must_pass"], first.canaries["must_fail"]}
    assert names.isdisjoint({second.canaries["must_pass"], second.canaries["must_fail"]})
    assert first.status == second.status == "resolved"


def test_forcing_every_test_to_pass_is_tampered_in_every_stage(calc, verifier):
    """Every stage runs the canaries (the fail-fast selection too): a forger is caught at the first."""
    _, mirror = calc
    force = next(a for a in ATTACKS if a.name == "report-objects-patched-in-memory")
    v = verifier.verify(attack_patch(mirror, force))
    assert v.status == "tampered" and len(v.stages) == 1 and v.stages[0]["status"] == "tampered"
    selected = verifier._attempt(attack_patch(mirror, force), verifier.fail_fast_command(), by_exit_code=False,
                                 stage="fail-fast")
    assert selected.status == "tampered" and "must-fail canary" in selected.tamper[0]


def test_a_clean_fix_next_to_a_flagged_word_keeps_its_verdict(calc, verifier):
    """Flags never change a verdict: the gold fix plus a comment naming pluggy still resolves."""
    _, mirror = calc
    src = OPS.replace(GOLD_EDIT[1], GOLD_EDIT[2]) + "\n# not a pluggy hook, just a comment\n"
    v = verifier.verify(make_patch(mirror, {GOLD_EDIT[0]: src}))
    assert v.status == "resolved"
