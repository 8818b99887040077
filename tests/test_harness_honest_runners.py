"""harness.runners, harness.repos' missing-object and submodule paths: no Docker."""
import gzip
import os
import subprocess
from pathlib import Path

import pytest

from harness import grading, repos, runners
from harness_fixture import ENV, git


def test_instrument_adds_junit_to_both_pytest_forms():
    r = "/tmp/monkeys-report-x.xml"
    assert runners.instrument("pytest -rA tests/a.py", r) == f"pytest --junitxml={r} -rA tests/a.py"
    assert runners.instrument("python -m pytest -rA t.py", r) == f"python -m pytest --junitxml={r} -rA t.py"
    assert runners.instrument("FOO=1 python3.9 -m pytest -x", r) == f"FOO=1 python3.9 -m pytest --junitxml={r} -x"
    for cmd in ("bin/test -C --verbose a.py", "./tests/runtests.py --settings=test_sqlite x", "make check"):
        assert runners.instrument(cmd, r) == cmd
    assert [runners.kind_of(c) for c in ("pytest -rA", "python -m pytest", "bin/test -C", "./tests/runtests.py a",
                                         "tox -e py")] == ["pytest", "pytest", "sympy", "django", None]


JUNIT = b"""<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="4">
<testcase classname="tests.test_ops" name="test_add" /><testcase classname="tests.test_ops" name="test_mean">
<failure message="x">boom</failure></testcase><testcase classname="tests.test_ops.TestX" name="test_p[a b]" />
<testcase classname="tests.test_ops" name="test_x"><skipped type="pytest.xfail" message="" /></testcase>
</testsuite></testsuites>"""


def test_cross_check_against_junit():
    report = runners.read_report("pytest", "", JUNIT)
    assert report.total == 4 and report.passed == 2 and report.failed == 1
    honest = {"tests/test_ops.py::test_add": "PASSED", "tests/test_ops.py::test_mean": "FAILED",
              "tests/test_ops.py::TestX::test_p[a": "PASSED", "tests/test_ops.py::test_x": "XFAIL"}
    assert runners.cross_check(honest, report, 1, "pytest") is None
    faked = {**honest, "tests/test_ops.py::test_mean": "PASSED"}
    assert "test_mean is PASSED in the log but failed" in runners.cross_check(faked, report, 1, "pytest")
    absent = {"tests/test_ops.py::test_new": "PASSED", "tests/test_ops.py::test_ad": "PASSED"}
    assert "absent" in runners.cross_check(absent, report, 0, "pytest")
    assert "test_ad is PASSED in the log but absent" in runners.cross_check(  # not a cut-short test_add
        {"tests/test_ops.py::test_ad": "PASSED"}, report, 0, "pytest")
    # only the ids grading reads count: an inner pytest session's lines (pytester) are not faked
    # results of this run, but a faked listed test still is
    inner = {**honest, "test_one.py::test_this": "PASSED"}
    graded = {"tests/test_ops.py::test_add", "tests/test_ops.py::test_mean"}
    assert "test_this is PASSED in the log but absent" in runners.cross_check(inner, report, 1, "pytest")
    assert runners.cross_check(inner, report, 1, "pytest", relevant=graded) is None
    assert "test_mean is PASSED" in runners.cross_check({**inner, **faked}, report, 1, "pytest", relevant=graded)
    # no report at all: suspect only when the run claims success
    assert "no JUnit report" in runners.cross_check(honest, None, 0, "pytest")
    assert runners.cross_check(honest, None, 1, "pytest") is None
    assert runners.cross_check(honest, None, 0, None) is None  # unknown runner: nothing to check


def test_summaries_of_sympy_and_django():
    sympy_log = "test_a ok\ntest_b ok\ntest_c F\n\n= tests finished: 2 passed, 1 failed,\nin 0.50 seconds =\n"
    rep = runners.read_report("sympy", sympy_log, None)
    assert (rep.passed, rep.failed) == (2, 1)
    assert runners.cross_check({"test_a": "PASSED", "test_b": "PASSED", "test_c": "FAILED"}, rep, 1, "sympy") is None
    fake = {"test_a": "PASSED", "test_b": "PASSED", "test_c": "PASSED"}
    assert "summary 2" in runners.cross_check(fake, rep, 0, "sympy")
    assert "no summary" in runners.cross_check(fake, None, 0, "sympy")
    django_log = "test_x (a.B) ... ok\n-----\nRan 3 tests in 0.1s\n\nFAILED (failures=1, skipped=1)\n"
    rep = runners.read_report("django", django_log, None)
    assert (rep.total, rep.passed, rep.failed) == (3, 1, 1)
    assert "summary 1" in runners.cross_check({"test_x (a.B)": "PASSED", "test_y (a.B)": "PASSED"}, rep, 1, "django")


def test_select_by_id_per_runner():
    ids = ["tests/test_cli.py::TestRoutes::test_host", 'tests/test_cli.py::test_locate[cliapp.factory-create_app2("foo",']
    cmd = runners.select("pytest", "python -m pytest -rA tests/test_cli.py", ["tests/test_cli.py"], ids)
    assert cmd == "python -m pytest -rA tests/test_cli.py::TestRoutes::test_host tests/test_cli.py::test_locate"
    sympy = runners.select("sympy", "PYTHONWARNINGS='ignore::UserWarning' bin/test -C --verbose sympy/a/tests/test_b.py",
                           ["sympy/a/tests/test_b.py"], ["test_tensor_product_expand"])
    assert sympy == ("PYTHONWARNINGS='ignore::UserWarning' bin/test -C --verbose sympy/a/tests/test_b.py "
                     "-k test_tensor_product_expand")
    django = runners.select("django", "./tests/runtests.py --verbosity 2 --settings=test_sqlite auth_tests.test_validators",
                            ["auth_tests.test_validators"],
                            ["test_ascii_validator (auth_tests.test_validators.UsernameValidatorsTests)",
                             "test_x (a.b.C.test_x)"])
    assert django == ("./tests/runtests.py --verbosity 2 --settings=test_sqlite "
                      "auth_tests.test_validators.UsernameValidatorsTests.test_ascii_validator a.b.C.test_x")
    assert runners.select("django", "./tests/runtests.py x", ["x"], ["A docstring line."]) is None
    assert runners.select(None, "make check", [], ids) is None
    # sympy marks a file's last test line with [OK]/[FAIL], which swebench's parser misses
    alone = "sympy/a/tests/test_b.py[1] \ntest_tensor_product_expand ok      [OK]\ntest_c F  [FAIL]\n"
    assert runners.selected_log("sympy", alone).splitlines()[1:] == ["test_tensor_product_expand ok", "test_c F"]


def test_cpu_and_report_lines_of_the_eval_script():
    log = ("x\n>>>>> Test Command CPU\n0m0.01s 0m0.00s\n0m0.100s 0m0.050s\n>>>>> Start Test Output\n"
           "...\n>>>>> End Test Output\n>>>>> Test Command CPU\n0m0.02s 0m0.00s\n1m2.100s 0m0.950s\n")
    assert grading.test_command_cpu_seconds(log) == pytest.approx(62.9)
    import base64

    packed = base64.b64encode(gzip.compress(JUNIT)).decode()
    rest, junit = grading.split_report(f"{log}>>>>> Runner Report: {packed}\n")
    assert junit == JUNIT and rest == log


def _repo(path: Path, files: dict[str, str]) -> str:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    for rel, text in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "c")
    return git(path, "rev-parse", "HEAD").strip()


def test_missing_blob_names_the_file(tmp_path):
    commit = _repo(tmp_path / "src", {"a.txt": "small\n", "data/big.h5": "pretend this is 4 MiB\n"})
    mirror = tmp_path / "m.git"
    git(tmp_path, "clone", "-q", "--bare", str(tmp_path / "src"), str(mirror))
    blob = git(mirror, "rev-parse", f"{commit}:data/big.h5").strip()
    os.remove(mirror / "objects" / blob[:2] / blob[2:])  # the mirrors here lack big blobs like this
    with pytest.raises(repos.RepoError, match=r"lacks the content of data/big\.h5"):
        repos.archive(mirror, commit)
    with pytest.raises(repos.RepoError, match="commit 0123456 not found"):
        repos.archive(mirror, "0123456")


def test_submodules_come_from_the_mirror_dir(tmp_path, caplog):
    import io
    import tarfile

    mirrors = tmp_path / "mirrors"
    mirrors.mkdir()
    helper_commit = _repo(tmp_path / "helpers", {"ah/__init__.py": "HELP = 1\n"})
    git(tmp_path, "clone", "-q", "--bare", str(tmp_path / "helpers"), str(mirrors / "astropy__astropy-helpers.git"))
    main = tmp_path / "main"
    _repo(main, {"setup.py": "pass\n"})
    env = {**os.environ, **ENV}
    subprocess.run(["git", "-c", "protocol.file.allow=always", "submodule", "add", "-q",
                    str(tmp_path / "helpers"), "astropy_helpers"], cwd=main, check=True, env=env, capture_output=True)
    git(main, "config", "-f", ".gitmodules", "submodule.astropy_helpers.url",
        "https://github.com/astropy/astropy-helpers.git")
    git(main, "add", "-A")
    git(main, "commit", "-q", "-m", "helpers")
    commit = git(main, "rev-parse", "HEAD").strip()
    git(tmp_path, "clone", "-q", "--bare", str(main), str(mirrors / "astropy__astropy.git"))
    [sub] = repos.submodules(mirrors / "astropy__astropy.git", commit)
    assert sub.path == "astropy_helpers" and sub.commit == helper_commit and sub.source is not None
    names = tarfile.open(fileobj=io.BytesIO(repos.archive(mirrors / "astropy__astropy.git", commit))).getnames()
    assert "astropy_helpers/ah/__init__.py" in names and "setup.py" in names
    (mirrors / "astropy__astropy-helpers.git").rename(tmp_path / "gone.git")
    with caplog.at_level("WARNING"):
        names = tarfile.open(fileobj=io.BytesIO(repos.archive(mirrors / "astropy__astropy.git", commit))).getnames()
    assert "astropy_helpers/ah/__init__.py" not in names
    assert "submodule astropy_helpers" in caplog.text and "not in the mirror" in caplog.text


# -- real pytest runs on the host: how ids look in the log and in JUnit ----------------------
IDS_TESTS = '''import pytest


@pytest.mark.parametrize("p", ["/testbed/tests/mymodule.py", "a b", "x::y", "\\x1b[0m", "\\xfc", "a/b", "[x]"])
def test_param(p):
    pass


class TestRunTC:
    @pytest.mark.parametrize("q", ["/testbed/tests/mymodule.py-mymodule-/testbed/tests/mymodule.py"])
    def test_stdin(self, q):
        pass
'''


def _pytest_run(tmp_path: Path, files: dict[str, str], *args: str) -> tuple[str, bytes | None, int]:
    """(the log as the eval script frames it, the JUnit report, exit status) of a real pytest run."""
    import sys

    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    report = tmp_path / "report.xml"
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={report}",
                          *args], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    log = (f"{grading.START_TEST_OUTPUT}\n{run.stdout}{run.stderr}\n{grading.END_TEST_OUTPUT}\n"
           f"{grading.TEST_EXIT_CODE}: {run.returncode}\n")
    return log, (report.read_bytes() if report.exists() else None), run.returncode


@pytest.mark.parametrize("parser", ["parse_log_pytest", "parse_log_pytest_options", "parse_log_pytest_v2"])
def test_ids_pytest_rewrites_match_the_junit_report(tmp_path, parser):
    """Parametrized ids with `/`, spaces, `::`, escapes, brackets: what the repo's log parser
    reads (pylint's shortens `[/testbed/tests/mymodule.py-...]` to `[/mymodule.py]`) is found in
    the JUnit report, and a printed extra PASSED line still is not."""
    log, junit, rc = _pytest_run(tmp_path, {"tests/test_self.py": IDS_TESTS}, "-rA", "tests/test_self.py")
    assert rc == 0, log
    cmd = "python -m pytest -rA tests/test_self.py"
    tests = grading.PARSER_REGISTRY[parser](log, None)
    assert len(tests) == 8 and set(tests.values()) == {"PASSED"}, tests
    if parser == "parse_log_pytest_options":  # as in pylint-dev__pylint-7080's PASS_TO_PASS
        assert "tests/test_self.py::TestRunTC::test_stdin[/mymodule.py]" in tests
        assert "tests/test_self.py::test_param[/mymodule.py]" in tests
        # the comparison before: JUnit names as they are
        assert "absent" in runners.cross_check(tests, runners.read_report("pytest", "", junit), 0, "pytest")
    assert grading.runner_check(log, junit, cmd, tests, rc, parser) is None
    forged = {**tests, "tests/test_self.py::TestRunTC::test_stdin[/other.py]": "PASSED",
              "tests/test_self.py::test_new": "PASSED"}
    assert "absent in the runner's JUnit report" in grading.runner_check(log, junit, cmd, forged, rc, parser)


def test_junit_address_follows_pytest_mangling():
    assert runners.junit_address("a/b/test_x.py::TestA::()::test_b[p/q::r]") == ("a.b.test_x.TestA", "test_b[p/q::r]")
    assert runners.junit_address("t.py::test_c[\x01]") == ("t", "test_c[#x01]")
    assert runners.junit_address("test_docstring_style_id") is None


CRASH_TESTS = '''def test_a():
    pass


def test_b():
    pass


def test_crash():
    assert False


def test_after():
    pass
'''
# an INTERNALERROR while reporting test_crash's failure, as in pytest-dev__pytest-7168
CRASH_CONFTEST = '''def pytest_runtest_logreport(report):
    if report.when == "call" and report.nodeid.endswith("test_crash"):
        raise RuntimeError("boom while reporting")
'''


def _validation_verdict(tmp_path: Path, inst, files: dict[str, str], *args: str):
    """The empty candidate's verdict (graded as harness.verify grades it) and the runner's report."""
    from harness.verify import PatchVerdict

    log, junit, rc = _pytest_run(tmp_path, files, *args)
    log_path = tmp_path / "empty-validation.log"
    log_path.write_text(log)
    g = grading.grade(inst, "parse_log_pytest", str(log_path), rc)
    verdict = PatchVerdict("not_resolved", tests=g.tests, fail_to_pass=g.fail_to_pass, pass_to_pass=g.pass_to_pass,
                           log_path=str(log_path), test_exit_code=rc)
    return verdict, runners.read_report("pytest", "", junit) if junit else None


def test_validation_judges_a_crashed_run_by_the_runners_report(tmp_path):
    from harness import health
    from harness.instance import SWEInstance

    inst = SWEInstance(instance_id="x__y-1", repo="x/y", base_commit="0" * 40,
                       FAIL_TO_PASS=["tests/test_c.py::test_crash"],
                       PASS_TO_PASS=["tests/test_c.py::test_a", "tests/test_c.py::test_b"])
    files = {"tests/test_c.py": CRASH_TESTS, "tests/conftest.py": CRASH_CONFTEST}
    verdict, report = _validation_verdict(tmp_path, inst, files, "-rA", "tests/test_c.py")
    assert verdict.test_exit_code == 3 and not verdict.tests  # INTERNALERROR: no -rA summary to read
    assert "INTERNALERROR" in open(verdict.log_path).read()
    assert report.passed == 2 and report.outcomes[("pytest", "internal")] == "failed", report
    parsed = grading.parsed_name("parse_log_pytest")
    h = health.judge(inst, verdict, "img", report, parsed)
    assert h.healthy, h.reason
    # without the runner's report: nothing shows that the runner works
    assert "no test results (exit 3)" in health.judge(inst, verdict, "img").reason
    # a PASS_TO_PASS test the crash kept from running is not passing
    after = inst.model_copy(update={"PASS_TO_PASS": [*inst.PASS_TO_PASS, "tests/test_c.py::test_after"]})
    v2, _ = _validation_verdict(tmp_path, after, files, "-rA", "tests/test_c.py")
    why = health.judge(after, v2, "img", report, parsed).reason
    assert "1 of 3 PASS_TO_PASS tests do not pass" in why and "test_after" in why
    # the report is the witness only after a crash: a log that is unreadable otherwise (no -rA
    # summary at all) cannot grade the gold either
    quiet, quiet_report = _validation_verdict(tmp_path / "q", inst, {"tests/test_c.py": CRASH_TESTS},
                                              "tests/test_c.py", "--deselect", "tests/test_c.py::test_crash")
    assert quiet.test_exit_code == 0 and not quiet.tests and quiet_report.passed == 3
    assert "no test results (exit 0)" in health.judge(inst, quiet, "img", quiet_report, parsed).reason


def test_a_mismatch_counts_only_where_it_could_make_a_candidate_resolved(tmp_path):
    """A printed PASSED line fails the cross-check on a run graded resolved; on a run that is not
    resolved anyway the verdict stays not_resolved (a fake can only aim at `resolved`)."""
    from types import SimpleNamespace

    from harness.instance import SWEInstance
    from harness.verify import Verifier

    cmd = "pytest -rA tests/test_c.py"
    inst = SWEInstance(instance_id="x__y-1", repo="x/y", base_commit="0" * 40, test_cmd=cmd,
                       FAIL_TO_PASS=["tests/test_c.py::test_crash"],
                       PASS_TO_PASS=["tests/test_c.py::test_a", "tests/test_c.py::test_b"])
    me = SimpleNamespace(instance=inst, spec=SimpleNamespace(log_parser="parse_log_pytest"), limits=None)
    got = {}
    fakes = {"a test that does not exist": "test_ghost\\n')",
             "the failing FAIL_TO_PASS": "test_crash\\n')\n    os._exit(0)"}
    for name, fake in fakes.items():
        # after the summary and the JUnit report: the line the log parser reads last
        conftest = f"import os\n\n\ndef pytest_unconfigure(config):\n    os.write(1, b'PASSED tests/test_c.py::{fake}\n"
        work = tmp_path / name.replace(" ", "-")
        log, junit, rc = _pytest_run(work, {"tests/test_c.py": CRASH_TESTS, "tests/conftest.py": conftest},
                                     "-rA", "tests/test_c.py")
        (work / "run.log").write_text(log)
        result = SimpleNamespace(duration_s=1.0, timed_out=False, exit_code=rc)
        got[name] = (rc, Verifier._judge(me, result, log, junit, cmd, str(work / "run.log"), False))
    rc, ghost = got["a test that does not exist"]
    assert rc == 1 and ghost.tests["tests/test_c.py::test_ghost"] == "PASSED"
    assert ghost.status == "not_resolved" and ghost.error is None, ghost
    rc, aimed = got["the failing FAIL_TO_PASS"]
    assert rc == 0 and aimed.tests["tests/test_c.py::test_crash"] == "PASSED"  # the log parser alone: resolved
    assert aimed.status == "error" and not aimed.resolved, aimed
    assert "test_crash is PASSED in the log but failed in the runner's JUnit report" in aimed.error


def test_validation_tells_missing_pass_to_pass_lines_from_failing_ones(tmp_path):
    """A PASS_TO_PASS test absent from the empty candidate's log (a parser lost its line, as
    swebench's django parser does when a failing subTest interrupts it) is left to the gold
    patch's run (Verifier._confirm_with_gold); one reported failing is a broken environment."""
    from harness import health
    from harness.instance import SWEInstance

    files = {"tests/test_m.py": "def test_fix():\n    assert False\n\ndef test_ok():\n    pass\n"}
    base = dict(instance_id="x__y-2", repo="x/y", base_commit="0" * 40, FAIL_TO_PASS=["tests/test_m.py::test_fix"])
    lost = SWEInstance(**base, PASS_TO_PASS=["tests/test_m.py::test_ok", "tests/test_m.py::test_lost"])
    verdict, _ = _validation_verdict(tmp_path, lost, files, "-rA", "tests/test_m.py")
    h = health.judge(lost, verdict, "img")
    assert not h.healthy and h.p2p_missing_only and "1 of 2 PASS_TO_PASS" in h.reason
    files["tests/test_m.py"] = files["tests/test_m.py"].replace("def test_ok():\n    pass", "def test_ok():\n    assert 0")
    failing = SWEInstance(**base, PASS_TO_PASS=["tests/test_m.py::test_ok"])
    verdict, _ = _validation_verdict(tmp_path / "f", failing, files, "-rA", "tests/test_m.py")
    h = health.judge(failing, verdict, "img")
    assert not h.healthy and not h.p2p_missing_only
