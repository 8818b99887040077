"""Environments for every SWE-bench instance: the generated spec table, the offline
translations, the date rule, and the Python substitutions (no Docker here; see
test_harness_env_docker.py for the layers)."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness import specs
from harness.base_images import SUBSTITUTES, SUITES, python_base_for
from harness.env import generate, reqs, script
from harness.instance import SWEInstance, load_instances

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "swebench"
if not DATA.exists():  # the lead's checkout: /work/main -> /work/shared
    DATA = Path("/work/shared/data/swebench")


def _rows(name: str) -> list[dict]:
    path = DATA / name
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rt") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.mark.parametrize("name", ["swe_bench_lite_test.jsonl.gz", "swe_bench_lite_dev.jsonl"])
def test_table_covers_every_lite_repo_version(name):
    rows = _rows(name)
    missing = sorted({(r["repo"], r["version"]) for r in rows} -
                     {(repo, v) for repo, vs in specs.table()["specs"].items() for v in vs})
    assert len(rows) >= 23 and missing == []
    for r in rows:  # and every instance resolves to a table spec with a Python we can serve
        spec = specs.resolve(SWEInstance.model_validate(r))
        assert spec.source == "swebench-4.1.0" and python_base_for(spec.python) in SUITES


def test_table_is_generated_from_the_swebench_4_1_0_wheel(tmp_path):
    """The committed file is what the generator makes from the wheel (not hand-edited)."""
    prov = specs.table()["provenance"]
    assert prov["package"] == "swebench==4.1.0" and len(prov["wheel_sha256"]) == 64
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "swebench==4.1.0", "-d",
                    str(tmp_path)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("swebench-4.1.0-*.whl"))
    fresh = generate.generate(wheel)
    assert fresh["provenance"]["wheel_sha256"] == prov["wheel_sha256"]
    assert fresh["specs"] == specs.table()["specs"]


def test_test_commands_run_the_environments_own_pytest():
    """A bare `pytest` finds Debian's /usr/bin/pytest outside the venv (ModuleNotFoundError for
    every pylint/sphinx candidate): every table command runs `python -m pytest`."""
    for repo, versions in specs.table()["specs"].items():
        for version, entry in versions.items():
            cmd = entry["test_cmd"]
            assert not cmd.startswith("pytest") and " pytest " not in f" {cmd} ".replace("-m pytest", ""), (repo, version, cmd)
    [pylint] = load_instances(DATA / "swe_bench_lite_test.jsonl.gz", ids=["pylint-dev__pylint-7993"])
    assert specs.resolve(pylint).test_cmd.startswith("python -m pytest -rA tests/")
    [sphinx] = load_instances(DATA / "swe_bench_lite_test.jsonl.gz", ids=["sphinx-doc__sphinx-8435"])
    assert specs.resolve(sphinx).test_cmd.startswith("python -X dev -m pytest -rA ")  # tox, without tox


def test_overrides_win_and_unknown_repos_get_defaults():
    base = dict(instance_id="o__r-1", repo="o/r", base_commit="0" * 40, version="1.0")
    assert specs.resolve(SWEInstance(**base)).source == "default"
    lite = dict(base, repo="sympy/sympy", version="1.1")
    spec = specs.resolve(SWEInstance(**lite, install=["make"], test_cmd="make test", python="3.13"))
    assert (spec.install, spec.test_cmd, spec.python, spec.source) == (("make",), "make test", "3.13", "override")
    table_spec = specs.resolve(SWEInstance(**lite))
    assert table_spec.python == "3.9" and "mpmath==1.3.0" in table_spec.env.pip_packages
    assert specs.TEST_CMDS["sympy/sympy"].endswith("bin/test -C --verbose")  # the older callers' view


def test_offline_translations():
    entry = specs.table_entry("matplotlib/matplotlib", "3.5")
    assert entry["requirements"] == {"kind": "environment.yml", "paths": ["environment.yml"]}
    assert "texlive" in entry["apt"] and not any("qhull" in c.lower() for c in entry["pre_install"])
    assert any("dropped (needs the internet)" in n for n in entry["offline"])
    assert specs.table_entry("pylint-dev/pylint", "2.15")["requirements"]["paths"] == ["requirements_test.txt"]
    assert generate.conda_to_pip("numpy=1.19") == "numpy==1.19.*"
    assert generate.conda_to_pip("'numpy==1.19.2'") == "numpy==1.19.2"
    assert generate.conda_to_pip("matplotlib-base") == "matplotlib"


def test_python_substitutes():
    assert [python_base_for(v) for v in ("3.5", "3.6", "3.8", "3.9", "3.10", "3.11", "3.12")] == \
        ["3.9", "3.9", "3.9", "3.9", "3.9", "3.11", "3.13"]
    assert python_base_for(None) == "3.11" and set(SUBSTITUTES.values()) <= set(SUITES)
    with pytest.raises(ValueError, match="no offline base for Python 4.0"):
        python_base_for("4.0")


def test_date_rule_and_pins():
    assert script.iso_date("2016-07-15 12:00:00+02:00") == "2016-07-15T10:00:00Z"
    chain = script.date_chain("2016-07-15T10:00:00Z")
    assert chain[0] == "2016-07-15T10:00:00Z" and chain[1].startswith("2017-07-15") and chain[-1] == ""
    flags = script.uv_flags(["mpmath==1.3.0", "flake8-comprehensions", "Jinja2[i18n]==3.0.3"])
    assert f"--exclude-newer-package mpmath={script.FAR}" in flags  # explicit pins beat the date
    assert "Jinja2=" in flags and "flake8-comprehensions=" not in flags  # unpinned: dated
    assert "--only-binary numpy," in flags
    # pytest of 2014 does not start on 3.9: the test runner is floored at our Python's date
    old = script.uv_flags(["pluggy==0.13.1"], "2014-07-27T13:59:08Z", "3.9")
    assert f"--exclude-newer-package pytest={script.PYTHON_FLOOR['3.9']}" in old
    assert f"pluggy={script.FAR}" in old and f"pluggy={script.PYTHON_FLOOR['3.9']}" not in old
    # and so is pytest 4.6's importlib-metadata, whose 2019 releases break on 3.9 (pytest-dev__pytest-5495)
    assert f"--exclude-newer-package importlib-metadata={script.PYTHON_FLOOR['3.9']}" in old
    assert "pytest=" not in script.uv_flags([], "2022-01-01T00:00:00Z", "3.9")  # recent: the date rules
    assert script.to_uv("python -m pip install -e .[test] --verbose") == "uv_dated -C editable_mode=compat -e '.[test]'"
    assert script.to_uv("python -m pip install .") == "uv_dated ."  # not editable: no compat mode
    keep = "python -m pip install -v --no-use-pep517 --no-build-isolation -e ."
    assert script.to_uv(keep) == keep  # uv has no --no-use-pep517: left to pip
    sh = script.env_script(date=chain[0], requirements=True, packages=["mpmath"], pins=["mpmath==1.3.0"],
                           pre_install=["sed -i s/a/b/ setup.py"], install="python -m pip install -e .",
                           needs_pytest=True)
    subprocess.run(["bash", "-n"], input=sh, text=True, check=True)
    assert "--exclude-newer \"$d\"" in sh and "uv_dated -C editable_mode=compat -e ." in sh and "git checkout -q -- ." in sh


def test_requirements_read_from_the_mirror(tmp_path):
    """requirements files come from the repository at the env commit (swebench downloads them):
    `-r` includes are inlined, `-e .` and comments dropped; conda-only yml entries named."""
    repo = tmp_path / "r"
    (repo / "requirements").mkdir(parents=True)
    (repo / "requirements" / "dev.txt").write_text("-r tests.txt\n-e .\n# c\nblack==22.1 # pinned\n")
    (repo / "requirements" / "tests.txt").write_text("pytest>=7\ntypes-pkg_resources\n")
    (repo / "environment.yml").write_text("name: t\ndependencies:\n  - python=3.9\n  - numpy=1.21\n"
                                          "  - hdf5\n  - pip:\n    - numbagg==0.1\n")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"}
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "x"]):
        subprocess.run(["git", *cmd], cwd=repo, check=True, env=env)
    text, read = reqs.requirements_txt(repo, "HEAD", ["missing.txt", "requirements/dev.txt"])
    assert read == ["requirements/dev.txt", "requirements/tests.txt"]
    assert text.split() == ["pytest>=7", "types-setuptools", "black==22.1"]
    text, read, skipped = reqs.environment_yml(repo, "HEAD", ["environment.yml"])
    assert text.split() == ["numpy==1.21.*", "numbagg==0.1"] and skipped == ["python==3.9.*", "hdf5"]
    assert reqs.requirements_txt(repo, "HEAD", ["nope.txt"]) is None


def test_requests_tests_get_a_local_httpbin():
    """requests' tests call httpbin.org; the sandbox has no network, so the env layer installs
    httpbin and each test run serves it on 127.0.0.1 under that name (harness.env.services)."""
    from harness.env import services

    inst = load_instances(DATA / "swe_bench_lite_test.jsonl.gz", ids=["psf__requests-1963"])[0]
    spec = specs.resolve(inst)
    assert spec.env.services == ("httpbin",)
    assert spec.blackhole == ("10.255.255.1/32",)  # its connect-timeout tests' host that never answers
    first, last = spec.test_cmd.splitlines()
    assert "httpbin.org" in first and "REQUESTS_CA_BUNDLE" in first and last.endswith("test_requests.py")
    sh = script.env_script(date="2014-07-27T13:59:08Z", requirements=False, packages=["pytest"], pins=[],
                           pre_install=[], install="python -m pip install .", needs_pytest=True,
                           python="3.9", services=spec.env.services)
    assert f"{services.DIR}/httpbin/venv" in sh and "openssl req -x509" in sh
    subprocess.run(["bash", "-n"], input=sh, text=True, check=True)
    other = load_instances(DATA / "swe_bench_lite_test.jsonl.gz", ids=["pallets__flask-4992"])[0]
    assert specs.resolve(other).env.services == () and "httpbin" not in specs.resolve(other).test_cmd
    assert specs.resolve(other).blackhole == ()


def test_versioneer_trees_get_their_nearest_tag(tmp_path):
    """versioneer reads `git describe` in /testbed (one commit, no tags): "0+untagged" broke
    pvfactors' pvlib>=0.7 bound on pvlib__pvlib-python-1072. Such trees get the mirror's
    nearest tag on the image's commit; setuptools_scm trees keep the pretend version only."""
    from harness import images

    repo = tmp_path / "r"
    repo.mkdir()
    run = lambda *a: subprocess.run(["git", *a], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()  # noqa: E731
    run("init", "-q")
    (repo / "setup.py").write_text("")
    run("add", "-A")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "a")
    run("tag", "v0.8.0")
    plain = run("rev-parse", "HEAD")
    (repo / "versioneer.py").write_text("")
    run("add", "-A")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "b")
    assert images.versioneer_tag(repo, plain) is None
    assert images.versioneer_tag(repo, run("rev-parse", "HEAD")) == "v0.8.0"
    text = script.instance_script(date=None, pins=[], pre_install=[], install=[], base_commit="abc", tag="v0.8.0")
    assert "git tag v0.8.0 $c" in text.splitlines()
    assert text.index("git tag v0.8.0 $c") < text.index("git prune")  # the env commit's tag is gone first
    assert "git tag" not in script.instance_script(date=None, pins=[], pre_install=[], install=[], base_commit="abc")


def test_directives_name_a_renamed_test_file_by_its_new_path():
    """sqlfluff__sqlfluff-1733's test_patch renames std_L016_L36_combo.py to ..._test.py: the
    old path no longer exists after it (pytest: "file or directory not found", no results)."""
    row = next(r for r in _rows("swe_bench_lite_dev.jsonl") if r["instance_id"] == "sqlfluff__sqlfluff-1733")
    assert specs.test_directives(SWEInstance.model_validate(row)) == [
        "test/rules/std_L003_L036_L039_combo_test.py", "test/rules/std_L016_L36_combo_test.py"]
