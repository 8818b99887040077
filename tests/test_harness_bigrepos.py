"""The sdist -> git path used for django, scikit-learn and matplotlib (tests/sdist_repos.py).

Their real builds take minutes (benchmarks/big_repos.py measures them); here the same
path runs on the fixture project, released as an sdist *after* its fix: the tarball holds
the fixed mean() and the new tests, the snapshot reverses gold patch and test_patch, and
the row pointed at that commit verifies through a mirror like any other instance.
"""
import io
import tarfile

import pytest

from harness.sandbox import Limits
from harness.verify import Verifier
from harness_fixture import BUGGY, FIXED, make_fixture_instance
import sdist_repos

LIMITS = Limits(memory="512m", cpus=1, pids=128, timeout_s=90)


def _released_sdist(src, out):
    """calc-0.2.tar.gz as a release would ship it: the fixed code and the new tests, plus
    an egg-info directory and PKG-INFO (generated, not in the repository)."""
    with tarfile.open(out, "w:gz") as tar:
        for path in sorted(p for p in src.rglob("*") if p.is_file() and ".git" not in p.parts):
            tar.add(path, arcname=f"calc-0.2/{path.relative_to(src)}")
        for name, data in {"PKG-INFO": b"Name: calc\n", "calc.egg-info/PKG-INFO": b"Name: calc\n"}.items():
            info = tarfile.TarInfo(f"calc-0.2/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    root = tmp_path_factory.mktemp("sdist")
    inst, mirror = make_fixture_instance(root)
    src = root / "calc-src"  # make_fixture_repo's working tree, at the base commit
    sdist_repos.git(src, "apply", stdin=inst.patch)
    sdist_repos.git(src, "apply", stdin=inst.test_patch)
    return inst, _released_sdist(src, root / "calc-0.2.tar.gz"), root


def test_snapshot_reverses_the_fix(released):
    inst, sdist, root = released
    work = root / "tree"
    sha = sdist_repos.snapshot(sdist, work, "2024-02-01T00:00:00Z")
    assert sdist_repos.snapshot(sdist, work, "2024-02-01T00:00:00Z") == sha  # reused, not redone
    row = {**inst.model_dump(), "created_at": "2024-03-01T00:00:00Z"}
    base = sdist_repos.before_fix(work, sha, row)
    files = sdist_repos.git(work, "ls-tree", "-r", "--name-only", base).split()
    assert "PKG-INFO" not in files and not any(f.startswith("calc.egg-info") for f in files)
    assert sdist_repos.git(work, "show", f"{base}:calc/ops.py").endswith(BUGGY)
    assert sdist_repos.git(work, "show", f"{sha}:calc/ops.py").endswith(FIXED)
    assert "def test_mean" not in sdist_repos.git(work, "show", f"{base}:tests/test_ops.py")
    assert sdist_repos.git(work, "log", "-1", "--format=%cI", base).strip().startswith("2024-03-01")
    # the same inputs give the same commit (image tags stay cached across runs)
    assert sdist_repos.before_fix(work, sha, row) == base


@pytest.mark.docker
def test_row_on_the_snapshot_verifies(released, tmp_path):
    inst, sdist, root = released
    work = tmp_path / "tree"
    sha = sdist_repos.snapshot(sdist, work, "2024-02-01T00:00:00Z")
    base = sdist_repos.before_fix(work, sha, inst.model_dump())
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    sdist_repos.git(mirror, "clone", "-q", "--bare", str(work), "monkeys__calc.git")
    row = inst.model_copy(update={"base_commit": base, "environment_setup_commit": sha,
                                  "instance_id": "monkeys__calc-sdist"})
    with Verifier(row, repo_mirror=mirror, pool_size=1, limits=LIMITS, log_dir=tmp_path / "logs") as v:
        gold, empty = v.verify(row.patch), v.verify("")
    assert gold.status == "resolved", gold
    assert empty.status == "not_resolved" and empty.fail_to_pass["failure"]  # stop-at-first-failure may
    assert empty.fail_to_pass["failure"] + empty.fail_to_pass.get("not_run", []) == row.FAIL_TO_PASS  # not reach all


def test_django_subtest_failures_count_once():
    """django-12983's empty run: one test (test_slugify) fails four subTests; the summary says
    failures=4, the runner ran 16 tests, 15 passed. A test counts once in the cross-check."""
    from harness import runners

    lines = [f"test_{n} (utils_tests.test_text.TestUtilsText) ... ok" for n in "abcdefghijklmno"]
    fails = [f"FAIL: test_slugify (utils_tests.test_text.TestUtilsText) (value='v{i}')\n----\nAssertionError"
             for i in range(4)]
    log = "\n".join([*lines, "test_slugify (utils_tests.test_text.TestUtilsText) ... ", "=" * 70, *fails,
                     "-" * 70, "Ran 16 tests in 0.444s", "", "FAILED (failures=4)"])
    report = runners.read_report("django", log, None)
    assert (report.total, report.failed, report.passed) == (16, 1, 15)
    tests = {f"test_{n} (utils_tests.test_text.TestUtilsText)": "PASSED" for n in "abcdefghijklmno"}
    assert runners.cross_check(tests, report, 1, "django") is None
    tests["test_slugify (utils_tests.test_text.TestUtilsText)"] = "PASSED"  # a faked pass is still caught
    assert "16 passing" in runners.cross_check(tests, report, 1, "django")
