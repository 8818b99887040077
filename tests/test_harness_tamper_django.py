"""Canaries with a django-style runner (`tests/runtests.py LABEL`, verbose unittest output read by
swebench's django parser), on a tiny real repository: an honest fix resolves with both canaries
seen as planted, and a candidate that turns every failure into a success is `tampered`.
(pytest's path is tests/test_harness_tamper.py; sympy's runs in benchmarks/lite_gold.py.)"""
from pathlib import Path

import pytest

from harness.instance import SWEInstance
from harness.sandbox import Limits
from harness.verify import Verifier
from harness_fixture import BUGGY, FIXED, OPS, git, make_repo

pytestmark = pytest.mark.docker
LIMITS = Limits(memory="512m", cpus=1, pids=128, timeout_s=90)
RUNTESTS = '''import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
args, labels = sys.argv[1:], []
while args:
    arg = args.pop(0)
    if arg == "--verbosity":
        args.pop(0)
    elif not arg.startswith("-"):
        labels.append(arg)
result = unittest.TextTestRunner(verbosity=2).run(unittest.defaultTestLoader.loadTestsFromNames(labels))
sys.exit(not result.wasSuccessful())
'''
TESTS = '''import unittest

from calc.ops import add, mean


class OpsTests(unittest.TestCase):
    def test_add(self):
        self.assertEqual(add(2, 3), 5)
'''
NEW_TEST = '''
    def test_mean(self):
        self.assertEqual(mean([1, 2, 3, 4]), 2.5)
'''
FLIP_FAILURES = '''
import unittest.runner as _runner

_runner.TextTestResult.addFailure = lambda self, test, err: self.addSuccess(test)
'''


def _ids(name: str) -> str:
    return f"{name} (ops_tests.tests.OpsTests.{name})"  # Python 3.11's unittest, as django's parser reads it


@pytest.fixture(scope="module")
def calcdj(tmp_path_factory):
    root = tmp_path_factory.mktemp("calcdj")
    work = root / "src"
    base, gold, test_patch, flip = make_repo(
        work, {"calc/__init__.py": "", "calc/ops.py": OPS, "tests/runtests.py": RUNTESTS,
               "tests/ops_tests/__init__.py": "", "tests/ops_tests/tests.py": TESTS},
        {"calc/ops.py": OPS.replace(BUGGY, FIXED)}, {"tests/ops_tests/tests.py": TESTS + NEW_TEST},
        {"calc/ops.py": OPS + FLIP_FAILURES})
    mirror = root / "mirror"
    mirror.mkdir()
    git(mirror, "clone", "-q", "--bare", str(work), "monkeys__calcdj.git")
    inst = SWEInstance(instance_id="monkeys__calcdj-1", repo="monkeys/calcdj", base_commit=base, patch=gold,
                       test_patch=test_patch, FAIL_TO_PASS=[_ids("test_mean")], PASS_TO_PASS=[_ids("test_add")],
                       version="0.1", environment_setup_commit=base, install=["true"],
                       test_cmd="python tests/runtests.py --verbosity 2 ops_tests.tests",
                       log_parser="parse_log_django", problem_statement="mean is wrong",
                       created_at="2024-01-01T00:00:00Z")
    return inst, Path(mirror), flip


def test_django_style_runner_canaries(calcdj, tmp_path):
    inst, mirror, flip = calcdj
    with Verifier(inst, repo_mirror=mirror, pool_size=1, limits=LIMITS, cache_dir=tmp_path) as v:
        gold = v.verify(inst.patch)
        assert gold.status == "resolved" and gold.test_exit_code == 0, gold
        assert set(gold.tests) == {_ids("test_add"), _ids("test_mean")}
        seen = gold.canaries["seen"]
        assert seen[gold.canaries["must_pass"]] == "PASSED" and seen[gold.canaries["must_fail"]] == "FAILED"
        assert v.health().canary_note is None  # required on this image from now on
        assert v.verify("").status == "not_resolved"
        forged = v.verify(flip)
        assert forged.status == "tampered" and "must-fail canary" in forged.tamper[0], forged
