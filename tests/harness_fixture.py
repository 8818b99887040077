"""A tiny SWE-bench-style instance for tests: real git repo, real bug, real tests.

    inst, mirror = make_fixture_instance(tmp_path)
    Verifier(inst, repo_mirror=mirror).verify(inst.patch).resolved  # True

The repository `monkeys/calc` has `calc/ops.py` whose `mean` divides by len + 1.
- gold patch (`inst.patch`, also GOLD_EDIT as (file, old_text, new_text) for
  SEARCH/REPLACE-style edits): divide by len(values).
- test_patch adds tests/test_ops.py::test_mean and ::test_mean_single (FAIL_TO_PASS);
  tests/test_ops.py::test_add and ::test_add_negative already pass (PASS_TO_PASS).
- No PyPI needed: pytest comes from the offline python base image (Debian's python3-pytest);
  the install step pip-installs it only on bases without it (python:3.11-slim). The image
  builds in about 3 s once the base exists.
Commits use fixed dates and authors, so SHAs, and hence image tags, are the same on every
run and the instance image is built once per machine.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from harness.instance import SWEInstance

REPO = "monkeys/calc"
INSTANCE_ID = "monkeys__calc-1"
BUGGY = "    return sum(values) / (len(values) + 1)\n"
FIXED = "    return sum(values) / len(values)\n"
GOLD_EDIT = ("calc/ops.py", BUGGY, FIXED)
FAIL_TO_PASS = ["tests/test_ops.py::test_mean", "tests/test_ops.py::test_mean_single"]
PASS_TO_PASS = ["tests/test_ops.py::test_add", "tests/test_ops.py::test_add_negative"]
TEST_CMD = "pytest -rA tests/test_ops.py"
# The offline base has pytest; python:3.11-slim (used where a registry answers) has not.
INSTALL = ["python -c 'import pytest' 2>/dev/null || python -m pip install pytest"]

OPS = f'''"""Small arithmetic helpers."""


def add(a, b):
    return a + b


def mean(values):
    """Arithmetic mean of a non-empty sequence."""
{BUGGY}'''
TESTS = '''from calc.ops import add


def test_add():
    assert add(2, 3) == 5


def test_add_negative():
    assert add(-2, -3) == -5
'''
NEW_TESTS = '''

def test_mean():
    from calc.ops import mean
    assert mean([1, 2, 3, 4]) == 2.5


def test_mean_single():
    from calc.ops import mean
    assert mean([7]) == 7
'''
ENV = {"GIT_AUTHOR_NAME": "fixture", "GIT_AUTHOR_EMAIL": "fixture@example.com",
       "GIT_COMMITTER_NAME": "fixture", "GIT_COMMITTER_EMAIL": "fixture@example.com",
       "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z",
       "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, **ENV}).stdout


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def make_repo(path: Path, files: dict[str, str], fixed: dict[str, str], tests: dict[str, str],
              *others: dict[str, str], message: str = "base") -> tuple[str, ...]:
    """A git repo at `path` holding `files` at its base commit; returns (base_commit, gold patch
    (`fixed` written), test_patch (`tests` written), and a diff for each of `others`)."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    _write(path, files)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", message)
    diffs = []
    for change in (fixed, tests, *others):
        _write(path, change)
        git(path, "add", "-N", ".")
        diffs.append(git(path, "diff"))
        git(path, "reset", "-q")
        git(path, "checkout", "-q", "--", ".")
        git(path, "clean", "-qfd")
    return (git(path, "rev-parse", "HEAD").strip(), *diffs)


def make_fixture_repo(path: Path) -> tuple[str, str, str]:
    """A working repo at `path` at its base commit; returns (base_commit, gold patch, test_patch)."""
    return make_repo(path, {"calc/__init__.py": "", "calc/ops.py": OPS, "tests/test_ops.py": TESTS,
                            "pytest.ini": "[pytest]\npythonpath = .\n", "README.md": "calc: tiny arithmetic\n"},
                     {"calc/ops.py": OPS.replace(BUGGY, FIXED)}, {"tests/test_ops.py": TESTS + NEW_TESTS},
                     message="calc with a buggy mean")


def make_fixture_instance(tmp_path: Path) -> tuple[SWEInstance, Path]:
    """(instance, mirror_dir): the mirror holds `monkeys__calc.git` (the --repo-mirror layout)."""
    work = Path(tmp_path) / "calc-src"
    base, gold, test_patch = make_fixture_repo(work)
    mirror = Path(tmp_path) / "mirror"
    mirror.mkdir(exist_ok=True)
    git(mirror, "clone", "-q", "--bare", str(work), "monkeys__calc.git")
    inst = SWEInstance(instance_id=INSTANCE_ID, repo=REPO, base_commit=base, patch=gold,
                       test_patch=test_patch, FAIL_TO_PASS=FAIL_TO_PASS, PASS_TO_PASS=PASS_TO_PASS,
                       version="0.1", environment_setup_commit=base,
                       install=INSTALL,
                       problem_statement="calc.ops.mean returns the wrong value: mean([1, 2, 3, 4]) "
                                         "gives 2.0 instead of 2.5.",
                       created_at="2024-01-01T00:00:00Z")
    return inst, mirror


def make_patch(mirror: Path, files: dict[str, str | bytes | None]) -> str:
    """A real `git diff --binary` of the base commit with `files` written (None deletes)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="calc-edit-") as tmp:
        work = Path(tmp) / "w"
        git(Path(tmp), "clone", "-q", str(Path(mirror) / "monkeys__calc.git"), str(work))
        for rel, content in files.items():
            target = work / rel
            if content is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content if isinstance(content, bytes) else content.encode())
        git(work, "add", "-A")
        return git(work, "diff", "--cached", "--binary")


def gold_source() -> str:
    """calc/ops.py with the gold fix applied (a base for candidates that fix and then some)."""
    return OPS.replace(BUGGY, FIXED)
