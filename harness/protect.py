"""What a candidate may not change, and what in its diff is worth a second look.

A candidate is an adversary: anything it can write that decides how the tests run is a way to
look right without being right. So before a candidate is applied, every file block of its diff
that touches one of these is reset to the base commit (dropped from the diff, named in the
verdict's `reset` with the reason):

- test files: the instance's test files and anything that looks like a test (harness.patch);
- test-runner configuration at any level: pytest.ini, .pytest.ini, pytest.toml, tox.ini,
  setup.cfg, pyproject.toml, conftest.py (pytest reads the first of them found walking up from
  the test paths, so a new one beside the package can win over the root's);
- the runner's own code where it lives in the repository (sympy's bin/test and runtests.py,
  django's tests/runtests.py);
- import hooks: *.pth, sitecustomize.py, usercustomize.py, and package metadata (*.dist-info/,
  *.egg-info/: an `entry_points.txt` there registers a pytest plugin that autoloads);
- a new top-level module or package at the repository root named like the runner, one of its
  dependencies or a standard-library module (`python -m pytest` puts /testbed first on sys.path,
  and pytest's rootdir insertion does the same for packages without a src/ layout).

`flags(diff)` lists what the candidate's added lines reference that only a tamperer needs (the
runner's internals, report hooks, tracing, other processes' files). Flags never change a verdict.
"""
from __future__ import annotations

import posixpath
import re
import sys

from harness import patch as patches

RUNNER_CONFIG = {"pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml", "tox.ini", "setup.cfg",
                 "pyproject.toml", "conftest.py"}
IMPORT_HOOKS = {"sitecustomize.py", "usercustomize.py"}
RUNNER_CODE = {
    "sympy": {"bin/test", "bin/get_sympy.py", "sympy/utilities/runtests.py", "sympy/testing/runtests.py"},
    "django": {"tests/runtests.py"},
}
# The test runners, their dependencies and the usual suspects; the standard library is added below.
RUNNER_MODULES = {
    "pytest", "_pytest", "py", "pluggy", "iniconfig", "packaging", "attr", "attrs", "more_itertools", "tomli",
    "exceptiongroup", "colorama", "atomicwrites", "six", "importlib_metadata", "zipp", "typing_extensions",
    "pkg_resources", "setuptools", "_distutils_hack", "hypothesis", "xdist", "execnet", "coverage", "nose",
    "mock", "pytest_cov", "pytest_asyncio", "pytest_timeout", "pytest_randomly", "pytest_xdist",
}
SHADOWED = RUNNER_MODULES | set(sys.stdlib_module_names)


def reset_reason(path: str, spec, added: bool = False, kind: str | None = None) -> str | None:
    """Why a candidate's edit to `path` is reset to the base commit, or None when it is kept.
    `spec`: the instance's harness.specs.Spec; `added`: the diff creates the file; `kind`: the
    test runner (harness.runners.kind_of of the test command)."""
    name = posixpath.basename(path)
    parts = path.split("/")
    if path in spec.test_files or patches.is_test_path(path):
        return "test file"
    if name in RUNNER_CONFIG:
        return "test-runner configuration"
    if path in RUNNER_CODE.get(kind or "", ()):
        return "test-runner code"
    if name in IMPORT_HOOKS or name.endswith(".pth") or any(p.endswith((".dist-info", ".egg-info")) for p in parts[:-1]):
        return "import hook"
    if added:
        top = parts[0][:-3] if len(parts) == 1 and name.endswith(".py") else parts[0] if len(parts) > 1 else None
        if top in SHADOWED:
            return f"new top-level module {top!r} shadows the test runner or the standard library"
    return None


def reset(diff: str, spec, kind: str | None = None) -> tuple[str, dict[str, str]]:
    """(the diff without the blocks to reset, {path: reason} of what was reset)."""
    kept, why = [], {}
    for block in patches.split(diff):
        added = block.parsed.is_added_file
        reasons = [r for p in block.paths if (r := reset_reason(p, spec, added, kind))]
        if reasons:
            why[block.path] = reasons[0]
        else:
            kept.append(block.raw)
    return "".join(kept), why


# What only a tamperer needs, in the candidate's added lines (outside the files that are reset).
_SUSPECT = [
    (re.compile(r"\b_pytest\b"), "references pytest's internals (_pytest)"),
    (re.compile(r"\bpluggy\b"), "references the plugin manager (pluggy)"),
    (re.compile(r"\bpytest_(runtest_\w+|report_\w+|collection\w*|sessionfinish|terminal_summary|configure)\b"),
     "defines or calls a pytest report/run hook"),
    (re.compile(r"\b(TestReport|CollectReport|TestResult|TextTestResult|addFailure|addSuccess|wasSuccessful)\b"),
     "references test report objects"),
    (re.compile(r"\bsys\.(settrace|setprofile)\b|\bthreading\.settrace\b"), "installs a trace or profile hook"),
    (re.compile(r"/proc/"), "reads /proc (other processes' state)"),
    (re.compile(r"\b(sympy\.(utilities|testing)\.runtests|django\.test\.runner)\b"), "references the test runner"),
    (re.compile(r"\bos\._exit\b"), "exits without cleanup (os._exit)"),
    (re.compile(r"\bjunit|--junitxml|>>>>> "), "references the runner's report or the harness's markers"),
    (re.compile(r"\bgc\.get_objects\b|\bsys\._getframe\b|\binspect\.stack\b"), "inspects other frames or objects"),
]


def flags(diff: str, spec, kind: str | None = None) -> list[str]:
    """Reasons to look twice at a candidate (never a verdict on their own)."""
    out: list[str] = []
    try:
        blocks = patches.split(diff)
    except patches.PatchError:
        return out
    for block in blocks:
        reason = reset_reason(block.path, spec, block.parsed.is_added_file, kind)
        if reason and reason != "test file":
            out.append(f"{block.path}: {reason} (reset)")
            continue
        if reason:
            continue
        added = "\n".join(line.value for hunk in block.parsed for line in hunk if line.is_added)
        for pattern, why in _SUSPECT:
            if pattern.search(added):
                out.append(f"{block.path}: {why}")
        if "120000" in block.raw.split("@@", 1)[0]:
            out.append(f"{block.path}: a symbolic link")
    return list(dict.fromkeys(out))
