"""Flaky tests never decide a verdict (real Docker, the fixture instance): validation runs the
empty and the gold patch more than once and records the tests whose status varied; a verdict
hinging on one is rerun and ends `error` naming it; a stable fixture pays no rerun; an image on
which the gold patch does not resolve judges nothing."""
import pytest

from harness import health as healths, images
from harness.sandbox import Limits
from harness.verify import Verifier
from harness_fixture import GOLD_EDIT, OPS, gold_source, make_fixture_instance, make_patch

pytestmark = pytest.mark.docker
LIMITS = Limits(memory="512m", cpus=1, pids=128, timeout_s=90)
OPS_FILE = GOLD_EDIT[0]
# A coin outside the hash seed: os.urandom, read afresh in every run. It flips only once mean()
# is fixed, so the empty candidate's runs are stable and the gold patch's are not.
COIN_TEST = '''import os

from calc.ops import mean


def test_coin():
    if mean([2]) == 2:
        assert os.urandom(1)[0] % 2 == 0, "tails"
'''
COIN = "tests/test_coin.py::test_coin"


@pytest.fixture(scope="module")
def calc(tmp_path_factory):
    inst, mirror = make_fixture_instance(tmp_path_factory.mktemp("flaky"))
    return inst, mirror, images.ensure_image(inst, repo_mirror=mirror)


def verifier(inst, image, tmp_path, **kw) -> Verifier:
    kw.setdefault("fail_fast_max_share", None)
    return Verifier(inst, image=image, pool_size=2, limits=LIMITS, cache_dir=tmp_path / "cache",
                    log_dir=tmp_path / "logs", **kw)


def test_varied_names_the_tests_whose_status_changed():
    runs = {"empty": [{"a": "PASSED", "b": "FAILED"}, {"a": "PASSED", "b": "PASSED"}],
            "gold": [{"a": "PASSED", "c": "FAILED"}, {"a": "FAILED"}], "once": [{"d": "PASSED"}]}
    assert healths.varied(runs) == {"a": "gold: PASSED, FAILED", "b": "empty: FAILED, PASSED",
                                    "c": "gold: FAILED, absent"}


def test_a_random_test_is_found_flaky_and_never_decides(calc, tmp_path):
    inst, mirror, image = calc
    coin = make_patch(mirror, {"tests/test_coin.py": COIN_TEST})
    flaky = inst.model_copy(update={"test_patch": inst.test_patch + coin, "PASS_TO_PASS": [*inst.PASS_TO_PASS, COIN],
                                    "test_cmd": "pytest -rA tests/test_ops.py tests/test_coin.py"})
    # A fair coin: 10 gold runs miss it (all heads or all tails) 1 time in 512, and 10 reruns of a
    # candidate keep agreeing 1 time in 1024 (the defaults, 2 and 2, are for real suites' cost).
    with verifier(flaky, image, tmp_path, validation_runs=10, reruns=10) as v:
        h = v.health()
        assert h.healthy and list(h.flaky) == [COIN] and h.flaky[COIN].startswith("gold: "), h
        assert len(h.runs["empty"]) == len(h.runs["gold"]) == 10 and set(h.runs["empty"]) == {"not_resolved"}
        gold = v.verify(inst.patch)
        empty = v.verify("")
    assert gold.status == "error" and not gold.resolved, gold
    assert gold.error.startswith(f"flaky: {COIN}") and "hinges on known-flaky" in gold.rerun_note
    assert [s["stage"] for s in gold.stages if s["stage"].startswith("rerun-")], gold.stages
    assert gold.environment["flaky_tests"] == h.flaky
    # the empty candidate fails FAIL_TO_PASS tests, as every empty run did: that decides, no rerun
    assert (empty.status, empty.rerun_note) == ("not_resolved", None)
    # shown where images are listed
    from monkeys_swe.cli import images as images_cli

    assert "flaky: " + COIN in images_cli._validations(tmp_path / "cache" / "validations")[image]


def test_a_stable_instance_pays_no_rerun_and_labels_stages(calc, tmp_path):
    inst, mirror, image = calc
    breaks_add = make_patch(mirror, {OPS_FILE: gold_source().replace("a + b", "a * b")})  # fixes, breaks P2P
    no_fix = make_patch(mirror, {OPS_FILE: OPS.replace("a + b", "b + a")})
    with verifier(inst, image, tmp_path) as v:
        h = v.health()
        assert h.healthy and h.flaky == {} and h.runs == {"empty": ["not_resolved"] * 2, "gold": ["resolved"] * 2}
        gold, empty, wrong = v.verify(inst.patch), v.verify(""), v.verify(no_fix)
        broke = v.verify(breaks_add)
    for x, status in ((gold, "resolved"), (empty, "not_resolved"), (wrong, "not_resolved")):
        assert (x.status, x.rerun_note) == (status, None), x
        assert not any(s["stage"].startswith("rerun") for s in x.stages)
    # a stage that did not decide says what it found, not a verdict
    assert [(x["stage"], x["status"]) for x in gold.stages] == [
        ("fail-fast", "passed (full run decides)"), ("stop-first", "resolved")]
    # failing only PASS_TO_PASS tests, which passed in every validation run: one rerun, same status kept
    assert broke.status == "not_resolved" and broke.rerun_note.endswith("rerun 1x, the same not_resolved each time")
    assert [s["stage"] for s in broke.stages][-1] == "rerun-1"


@pytest.mark.parametrize("why", ["wrong gold", "FAIL_TO_PASS skipped here"])
def test_an_image_on_which_the_gold_patch_does_not_resolve_judges_nothing(calc, tmp_path, why):
    """pallets__flask-4992 on Python 3.9: its FAIL_TO_PASS test is skipped there, so the gold
    patch is not_resolved and no candidate can be judged: every verdict is `error`, naming it."""
    inst, mirror, image = calc
    if why == "wrong gold":
        update = {"patch": make_patch(mirror, {"README.md": "calc: tiny arithmetic, documented\n"})}
    else:
        skip = make_patch(mirror, {"conftest.py": (
            "import pytest\n\n\ndef pytest_collection_modifyitems(items):\n"
            "    for item in items:\n        if item.name == 'test_mean':\n"
            "            item.add_marker(pytest.mark.skip(reason='not on this Python'))\n")})
        update = {"test_patch": inst.test_patch + skip}
    broken = inst.model_copy(update=update)
    with verifier(broken, image, tmp_path) as v:
        h = v.health()
        assert not h.healthy and h.fault == "environment", h
        assert h.reason.startswith("the gold patch does not resolve on this image (not_resolved"), h.reason
        verdicts = [v.verify(p) for p in (inst.patch, broken.patch, "")]
    assert [x.status for x in verdicts] == ["error"] * 3
    assert all("broken environment, not judged: the gold patch does not resolve" in x.error for x in verdicts)
