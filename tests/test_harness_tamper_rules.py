"""The tamper-proofing rules without Docker: what is reset, flagged, planted and compared."""
import subprocess

import pytest

from harness import canary, grading, integrity, protect, runners
from harness.patch import validate
from harness.specs import Spec

SPEC = Spec(install=(), test_cmd="python -m pytest -rA tests/test_ops.py", log_parser="parse_log_pytest",
            python=None, test_files=("tests/test_ops.py",))


@pytest.mark.parametrize("path,added,kind,why", [
    ("calc/ops.py", False, "pytest", None),
    ("tests/test_ops.py", False, "pytest", "test file"),
    ("pytest.ini", False, "pytest", "test-runner configuration"),
    ("src/pkg/pyproject.toml", True, "pytest", "test-runner configuration"),
    ("setup.cfg", False, "pytest", "test-runner configuration"),
    ("tox.ini", False, "pytest", "test-runner configuration"),
    ("pkg/conftest.py", False, "pytest", "test file"),
    ("pkg.egg-info/entry_points.txt", True, "pytest", "import hook"),
    ("x.dist-info/METADATA", True, "pytest", "import hook"),
    ("easy.pth", True, "pytest", "import hook"),
    ("sitecustomize.py", True, "pytest", "import hook"),
    ("pytest.py", True, "pytest", "shadows"),
    ("_pytest/__init__.py", True, "pytest", "shadows"),
    ("pluggy/__init__.py", True, "pytest", "shadows"),
    ("json.py", True, "pytest", "shadows"),  # the standard library too
    ("json.py", False, "pytest", None),  # a repository's own existing module is its own
    ("pkg/json.py", True, "pytest", None),  # not at the root: no shadowing
    ("sympy/utilities/runtests.py", False, "sympy", "test-runner code"),
    ("sympy/utilities/runtests.py", False, "pytest", None),
    ("bin/test", False, "sympy", "test-runner code"),
])
def test_reset_reasons(path, added, kind, why):
    got = protect.reset_reason(path, SPEC, added, kind)
    assert (got is None) if why is None else (why in got), got


def test_flags_name_what_only_a_tamperer_needs():
    diff = ("diff --git a/calc/ops.py b/calc/ops.py\n--- a/calc/ops.py\n+++ b/calc/ops.py\n@@ -1,1 +1,3 @@\n"
            " x = 1\n+import _pytest.reports\n+sys.settrace(f)\n")
    flags = protect.flags(diff, SPEC, "pytest")
    assert any("_pytest" in f for f in flags) and any("trace" in f for f in flags)
    clean = "diff --git a/calc/ops.py b/calc/ops.py\n--- a/calc/ops.py\n+++ b/calc/ops.py\n@@ -1,1 +1,1 @@\n-x = 1\n+x = 2\n"
    assert protect.flags(clean, SPEC, "pytest") == []


def test_symbolic_links_are_refused():
    link = ("diff --git a/l b/l\nnew file mode 120000\nindex 0000000..a9bf6f5\n--- /dev/null\n+++ b/l\n"
            "@@ -0,0 +1 @@\n+tests\n\\ No newline at end of file\n")
    assert any("symbolic link" in p for p in validate(link))
    deleted = link.replace("new file mode", "deleted file mode").replace("--- /dev/null\n+++ b/l", "--- a/l\n+++ /dev/null")
    deleted = deleted.replace("@@ -0,0 +1 @@\n+tests", "@@ -1 +0,0 @@\n-tests")
    assert not any("symbolic link" in p for p in validate(deleted))


def test_paths_through_links_in_the_tree_are_refused_before_anything_applies(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "t").symlink_to("../tests")
    script = grading.safe_paths(["pkg/ok.py", "pkg/t/new.py"]).replace("/testbed", str(tmp_path))
    run = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    assert run.returncode == grading.EXIT_UNSAFE_PATH and "pkg/t/new.py (through the link pkg/t)" in run.stdout
    ok = subprocess.run(["bash", "-c", grading.safe_paths(["pkg/ok.py"]).replace("/testbed", str(tmp_path))])
    assert ok.returncode == 0


def test_canaries_are_fresh_named_like_the_new_tests_and_settled_out():
    test_patch = "+def test_mean():\n+    pass\n"
    a = canary.make("python -m pytest -rA tests/test_ops.py", ["tests/test_ops.py"], test_patch)
    b = canary.make("python -m pytest -rA tests/test_ops.py", ["tests/test_ops.py"], test_patch)
    assert a.file == "tests/test_ops.py" and a.must_pass.startswith("test_mean_")
    assert len({a.must_pass, a.must_fail, b.must_pass, b.must_fail}) == 4 and a.source != b.source
    ns: dict = {}
    exec(a.source, ns)  # the planted tests do what they say
    ns[a.must_pass]()
    with pytest.raises(AssertionError):
        ns[a.must_fail]()
    tests = {"tests/test_ops.py::test_mean": "PASSED", f"tests/test_ops.py::{a.must_pass}": "PASSED",
             f"tests/test_ops.py::{a.must_fail}": "FAILED"}
    report = runners.RunnerReport("pytest", {("tests.test_ops", "test_mean"): "passed",
                                             ("tests.test_ops", a.must_pass): "passed",
                                             ("tests.test_ops", a.must_fail): "failed"})
    s = canary.settle(a, tests, 1, report)
    assert s.tests == {"tests/test_ops.py::test_mean": "PASSED"} and s.exit_code == 0
    assert s.evidence(a, would_resolve=True) is None
    assert canary.without(report, a, s).outcomes == {("tests.test_ops", "test_mean"): "passed"}
    forged = canary.settle(a, {k: "PASSED" for k in tests}, 0, report)
    assert "must-fail canary" in forged.evidence(a, would_resolve=False)
    missing = canary.settle(a, {"tests/test_ops.py::test_mean": "PASSED"}, 0, None)
    assert "absent" in missing.evidence(a, would_resolve=True) and missing.evidence(a, would_resolve=False) is None
    early = runners.RunnerReport("pytest", {("tests.test_ops", a.must_pass): "passed",
                                            ("tests.test_ops", a.must_fail): "failed",
                                            ("tests.test_ops", "test_mean"): "passed"})
    assert canary.settle(a, tests, 1, early).exit_code == 1  # reordered to run early: it may have stopped the run
    other = canary.settle(a, {**tests, "tests/test_ops.py::test_add": "FAILED"}, 1, report)
    assert other.exit_code == 1  # a real failure keeps the runner's status


def test_canaries_for_sympy_and_django():
    s = canary.make("bin/test -C --verbose sympy/core/tests/test_a.py", ["sympy/core/tests/test_a.py"],
                    "+def test_pow():\n")
    assert s.kind == "sympy" and s.file == "sympy/core/tests/test_a.py" and s.matches(s.must_fail, s.must_fail)
    helper = canary.make("bin/test -C --verbose sympy/parsing/tests/test_m.py sympy/testing/quality_unicode.py",
                         ["sympy/parsing/tests/test_m.py", "sympy/testing/quality_unicode.py"], "")
    assert helper.file == "sympy/parsing/tests/test_m.py"  # a helper test_patch touches collects no tests
    pylint = canary.make("pytest -rA tests/reporters/unittest_reporting.py", [], "")
    assert pylint.file == "tests/reporters/unittest_reporting.py"
    assert canary.make("pytest -rA tests/checks.py", [], "").file == "tests/checks.py"  # pytest collects it
    assert canary.make("bin/test sympy/testing/quality_unicode.py", [], "") is None  # sympy's runner would not
    assert canary.with_selection("bin/test x.py -k test_pow", s).endswith(f"-k test_pow {s.must_pass} {s.must_fail}")
    d = canary.make("./tests/runtests.py --verbosity 2 admin_views.tests", ["admin_views.tests"], "+    def test_x(self):\n")
    assert d.kind == "django" and d.file == "tests/admin_views/tests.py" and f"class {d.cls}(" in d.source
    assert d.matches(f"{d.must_pass} (admin_views.tests.{d.cls})", d.must_pass)
    assert d.matches(f"{d.must_pass} (admin_views.tests.{d.cls}.{d.must_pass})", d.must_pass)
    assert canary.make("make check", [], "") is None


def test_manifest_catches_rewrites_even_when_restored(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text("x = 1\n")
    script = integrity.manifest_script(["tests/test_a.py"])

    def manifest():
        return integrity.read_manifest(subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True,
                                                      text=True).stdout)

    before = manifest()
    assert set(before) == {"tests/test_a.py"}
    assert integrity.compare(before, manifest()) == []
    (tmp_path / "tests" / "test_a.py").write_text("x = 1\n")  # same bytes, written again
    assert "rewritten" in integrity.compare(before, manifest())[0]
    (tmp_path / "conftest.py").write_text("")
    assert any("conftest.py was created" in e for e in integrity.compare(before, manifest()))
    fake = f"{integrity.MANIFEST} begin\n{integrity.MANIFEST} end\n"
    assert integrity.read_manifest("log\n" + subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True,
                                                            text=True).stdout + fake) == manifest()  # first one counts


def test_engine_diff_rules():
    changes = [{"Path": "/usr/lib/python3/dist-packages/_pytest/reports.py", "Kind": 0},
               {"Path": "/usr/lib/python3/dist-packages/_pytest/__pycache__/reports.cpython-311.pyc", "Kind": 1},
               {"Path": "/usr/local/bin/sha256sum", "Kind": 1}, {"Path": "/testbed/calc/ops.py", "Kind": 0},
               {"Path": "/tmp/x.py", "Kind": 1}, {"Path": "/usr/local/bin", "Kind": 0},
               {"Path": "/opt/venv/lib/python3.11/site-packages/evil.pth", "Kind": 1}]
    found = integrity.suspicious(changes)
    assert len(found) == 3 and "reports.py changed" in found[0] and "sha256sum added" in found[1]
    assert integrity.suspicious(None) == []
