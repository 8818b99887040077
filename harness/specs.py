"""How to install and test an instance's repository: swebench's conventions, offline.

swebench 5.x (pinned for its grading and log parsers) no longer ships
MAP_REPO_VERSION_TO_SPECS, and 4.x's environment builds need conda and GitHub downloads.
So the per-repo test commands below are transcribed from swebench 4.x's specs, the
directives (which test files to run) follow its `get_test_directives`, and installs are
`pip install -e .` plus pins known to work on Python 3.11. An instance's own overrides
(`install`, `test_cmd`, `log_parser`, `python`) always win.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from harness.instance import SWEInstance
from harness.patch import is_test_path, touched_files

_PYTEST = "pytest -rA"
TEST_CMDS = {
    "astropy/astropy": "pytest -rA -vv -o console_output_style=classic --tb=no",
    "django/django": "./tests/runtests.py --verbosity 2 --settings=test_sqlite --parallel 1",
    "mwaskom/seaborn": "pytest --no-header -rA",
    # swebench runs sphinx through `tox --current-env -epy39 -v --`, which ends in pytest -rA
    "sphinx-doc/sphinx": _PYTEST,
    "sympy/sympy": "PYTHONWARNINGS='ignore::UserWarning,ignore::SyntaxWarning' bin/test -C --verbose",
}

# (repo, version) -> extra pip pins. flask 2.3 was checked by hand on Debian's 3.11
# (ENVIRONMENT.md): the instance's date pins; newer Werkzeug breaks its tests.
PIP_PINS = {
    ("pallets/flask", "2.3"): [
        "Werkzeug==2.2.3", "Jinja2==3.1.2", "itsdangerous==2.1.2", "click==8.1.3",
        "MarkupSafe==2.1.2", "blinker==1.6.2", "pytest==7.3.0", "pluggy==1.0.0",
        "iniconfig==2.0.0", "packaging==23.0", "asgiref==3.6.0", "python-dotenv==1.0.0"],
    # pytest tests itself: no second pytest from PyPI; its own deps at the instance's date.
    ("pytest-dev/pytest", "8.0"): ["pluggy==1.2.0", "iniconfig==2.0.0", "packaging==23.1",
                                   "attrs==23.1.0", "pygments==2.15.1"],
    ("sympy/sympy", "1.12"): ["mpmath==1.3.0"],
}
PYTHON_VERSIONS = {("pallets/flask", "2.3"): "3.11"}


@dataclass(frozen=True)
class Spec:
    install: tuple[str, ...]
    test_cmd: str  # full command, directives included
    log_parser: str
    python: str | None
    test_files: tuple[str, ...]  # files whose candidate edits are discarded


def test_directives(instance: SWEInstance) -> list[str]:
    """What swebench passes to the test command: test_patch's files (django: as modules)."""
    from swebench.harness.constants import NON_TEST_EXTS  # swebench imports are slow: only when needed

    files = [f for f in touched_files(instance.test_patch)
             if not any(f.endswith(ext) for ext in NON_TEST_EXTS)]
    if instance.repo == "django/django":
        files = [re.sub(r"^tests/", "", f[:-3] if f.endswith(".py") else f).replace("/", ".")
                 for f in files]
    return files


def resolve(instance: SWEInstance) -> Spec:
    key = (instance.repo, instance.version)
    if instance.install is not None:
        install = tuple(instance.install)
    else:
        pins = PIP_PINS.get(key, ["pytest"])
        install = ("python -m pip install -e . " + " ".join(pins),)
    if instance.test_cmd is not None:
        test_cmd = instance.test_cmd
    else:
        test_cmd = " ".join([TEST_CMDS.get(instance.repo, _PYTEST), *test_directives(instance)])
    parser = instance.log_parser
    if parser is None:
        from swebench.harness.log_parsers.python import MAP_REPO_TO_PARSER_PY

        fn = MAP_REPO_TO_PARSER_PY.get(instance.repo)
        parser = fn.__name__ if fn is not None else "parse_log_pytest"
    test_files = set(instance.test_files or [])
    if instance.test_patch:
        test_files |= set(touched_files(instance.test_patch))
    return Spec(install, test_cmd, parser, instance.python or PYTHON_VERSIONS.get(key),
                tuple(sorted(test_files)))


def is_protected(path: str, spec: Spec) -> bool:
    """A candidate's edit to this path is discarded: the instance's test files, or any
    file that looks like a test (a patch that rewrites tests proves nothing)."""
    return path in spec.test_files or is_test_path(path)
