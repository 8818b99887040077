"""harness.verify end to end on the fixture instance: real images, containers, git, pytest."""
import os
import time

import docker
import pytest

from harness.instance import SWEInstance
from harness.sandbox import Limits
from harness.verify import Verifier
from harness_fixture import GOLD_EDIT, INSTALL, OPS, TEST_CMD, git, gold_source, make_fixture_instance, make_patch

pytestmark = pytest.mark.docker
# Generous: this machine may be shared and loaded. Hostile loops get their own short limit.
LIMITS = Limits(memory="512m", cpus=1, pids=128, timeout_s=90)
SHORT = Limits(memory="512m", cpus=1, pids=128, timeout_s=6)
OPS_FILE = GOLD_EDIT[0]


@pytest.fixture(scope="module")
def calc(tmp_path_factory):
    return make_fixture_instance(tmp_path_factory.mktemp("calc"))


@pytest.fixture(scope="module")
def verifier(calc):
    inst, mirror = calc
    with Verifier(inst, repo_mirror=mirror, pool_size=2, limits=LIMITS) as v:
        v.ensure_image()
        yield v


def with_mean_body(mirror, body: str) -> str:
    """A candidate whose mean() runs `body` (hostile code) instead of the fix."""
    src = OPS.replace(GOLD_EDIT[1], "".join(f"    {line}\n" for line in body.splitlines()))
    return make_patch(mirror, {OPS_FILE: src})


def test_gold_resolves_and_empty_does_not(calc, verifier):
    inst, _ = calc
    gold = verifier.verify(inst.patch)
    assert gold.status == "resolved" and gold.resolved, gold
    assert gold.fail_to_pass["success"] == inst.FAIL_TO_PASS and gold.pass_to_pass["failure"] == []
    assert gold.tests["tests/test_ops.py::test_mean"] == "PASSED" and os.path.exists(gold.log_path)
    assert gold.apply_method == "git-apply" and gold.patch_hash
    env = gold.environment  # what judged it travels with the verdict
    assert env["image"] and env["python"] and env["substituted"] in (True, False) and "validation_note" in env
    empty = verifier.verify("")
    assert empty.status == "not_resolved" and empty.fail_to_pass["failure"]
    # all of them fail; a stop-at-first-failure run reaches the first only (the others: not_run)
    assert empty.fail_to_pass["failure"] + empty.fail_to_pass.get("not_run", []) == inst.FAIL_TO_PASS


def test_fix_that_breaks_pass_to_pass_does_not_resolve(calc, verifier):
    _, mirror = calc
    v = verifier.verify(make_patch(mirror, {OPS_FILE: gold_source().replace("a + b", "a - b")}))
    assert v.status == "not_resolved"
    assert v.fail_to_pass["failure"] == [] and "tests/test_ops.py::test_add" in v.pass_to_pass["failure"]


def test_bad_diffs(calc, verifier):
    inst, mirror = calc
    assert verifier.verify("this is not a diff\n").status == "malformed"
    outside = inst.patch.replace("a/calc/ops.py", "a/../calc/ops.py").replace("b/calc/ops.py", "b/../calc/ops.py")
    assert verifier.verify(outside).status == "malformed"
    absolute = inst.patch.replace("a/calc/ops.py", "/etc/passwd").replace("b/calc/ops.py", "/etc/passwd")
    assert verifier.verify(absolute).status == "malformed"
    stale = inst.patch.replace("-    return sum(values) / (len(values) + 1)", "-    return 42")
    v = verifier.verify(stale)
    assert v.status == "apply_failed" and v.log_path, v


def test_fallback_and_binary(calc, verifier):
    inst, mirror = calc
    # context whitespace mangled, as models often do: git apply refuses, patch -l takes it
    mangled = inst.patch.replace('    """Arithmetic mean', '  """Arithmetic mean')
    v = verifier.verify(mangled)
    assert v.status == "resolved" and v.apply_method == "patch-fuzz", v
    binary = make_patch(mirror, {OPS_FILE: gold_source(), "calc/table.bin": bytes(range(256)) * 4})
    assert "GIT binary patch" in binary
    assert verifier.verify(binary).status == "resolved"


def test_edits_to_tests_are_discarded(calc, verifier):
    _, mirror = calc
    cheat_tests = make_patch(mirror, {"tests/test_ops.py": "def test_mean():\n    pass\n"
                                                           "def test_mean_single():\n    pass\n"})
    v = verifier.verify(cheat_tests)
    assert v.status == "not_resolved" and v.dropped_files == ["tests/test_ops.py"]
    conftest = ("import pytest\n\n@pytest.hookimpl(hookwrapper=True)\n"
                "def pytest_runtest_makereport(item, call):\n"
                "    outcome = yield\n    outcome.get_result().outcome = 'passed'\n")
    v = verifier.verify(make_patch(mirror, {"conftest.py": conftest}))
    assert v.status == "not_resolved" and v.dropped_files == ["conftest.py"]


def test_hostile_code_is_contained(calc, verifier):
    inst, mirror = calc
    with Verifier(inst, image=verifier.image, pool_size=1, limits=SHORT) as short:
        start = time.monotonic()
        v = short.verify(with_mean_body(mirror, "while True:\n    pass"))
        assert v.status == "timeout" and time.monotonic() - start < SHORT.timeout_s + 8, v
        bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
        assert short.verify(with_mean_body(mirror, bomb)).status in ("timeout", "not_resolved")
    hog = "x = 'x' * (1 << 31)\nreturn len(x)"
    assert verifier.verify(with_mean_body(mirror, hog)).status == "not_resolved"
    net = "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=2)\nreturn 2.5"
    v = verifier.verify(with_mean_body(mirror, net))
    assert v.status == "not_resolved" and "OSError" in open(v.log_path).read()
    assert verifier.verify(inst.patch).status == "resolved"  # later verdicts are unaffected


def test_verify_many_dedupes_and_streams(calc, verifier):
    inst, _ = calc
    patches = [inst.patch, "", inst.patch.replace("\n", "\r\n"), "garbage\n", inst.patch + "\n", ""]
    results = dict(verifier.verify_many(iter(patches)))
    assert sorted(results) == list(range(6))
    assert [results[i].status for i in range(6)] == ["resolved", "not_resolved", "resolved", "malformed",
                                                     "resolved", "not_resolved"]
    assert sum(v.duplicate_of is None for v in results.values()) == 3  # gold, empty, garbage


def test_run_tests_for_regression_selection(calc, verifier):
    inst, mirror = calc
    assert verifier.run_tests(inst.patch, "pytest -rA tests").status == "resolved"
    broken = make_patch(mirror, {OPS_FILE: gold_source().replace("a + b", "a * b")})
    v = verifier.run_tests(broken, "pytest -rA tests")
    assert v.status == "not_resolved" and v.tests["tests/test_ops.py::test_add"] == "FAILED"


def test_custom_local_repo_instance(calc, tmp_path):
    inst, mirror = calc
    work = tmp_path / "proj"
    git(tmp_path, "clone", "-q", str(mirror / "monkeys__calc.git"), str(work))
    (work / "issue.diff").write_text(inst.test_patch)
    git(work, "apply", "issue.diff")
    (work / "issue.diff").unlink()
    git(work, "commit", "-qam", "tests for the mean bug")
    custom = SWEInstance.from_local_repo(work, TEST_CMD, install=INSTALL)
    assert custom.grade_by_exit_code and custom.instance_id.startswith("local__proj-")
    with Verifier(custom, pool_size=1, limits=LIMITS) as v:
        assert v.verify(inst.patch).status == "resolved"
        assert v.verify("").status == "not_resolved"



def test_prebuilt_swebench_image_is_preferred(calc, verifier):
    from harness import images

    inst, mirror = calc
    client = docker.from_env()
    name = "swebench/sweb.eval.x86_64.monkeys_1776_calc-1"  # swebench's naming for monkeys__calc-1
    client.images.get(verifier.image).tag(name, "latest")
    try:
        assert images.ensure_image(inst, repo_mirror=mirror) == f"{name}:latest"
        with Verifier(inst, pool_size=1, limits=LIMITS) as v:
            assert v.ensure_image() == f"{name}:latest" and v.verify(inst.patch).resolved
    finally:
        client.images.remove(f"{name}:latest")
