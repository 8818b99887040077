"""How to install and test an instance's repository: swebench 4.1.0's spec table, offline.

The table (`harness/env/specs_swebench_4_1_0.json`) is generated from the swebench 4.1.0
wheel by `python -m harness.env.generate` (provenance inside); it gives per (repo, version)
the Python, the requirements (read from the mirror at environment_setup_commit), conda
packages as pip requirements, pip pins, pre-install edits, the install and the test command
(which runs the environment's own `python -m pytest`). The directives (which test files to
run) follow swebench's `get_test_directives`. An instance's own overrides (`install`,
`test_cmd`, `log_parser`, `python`) always win over the table.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from harness import swebench_lib
from harness.env import services as env_services
from harness.instance import SWEInstance
from harness.patch import touched_files

TABLE = Path(__file__).parent / "env" / "specs_swebench_4_1_0.json"
DEFAULT_TEST_CMD = "python -m pytest -rA"
DEFAULT_INSTALL = "python -m pip install -e ."
# Where the date rule (harness/env/script.py) is not enough, (repo, version) -> changes to
# the table entry, each with the reason. Empty until a measured failure needs one.
OVERRIDES: dict[tuple[str, str], dict] = {}
# sympy's bin/test draws a new random seed every run (its log's `random seed: N`) and reseeds
# `random` with it before every test; sympy's assumptions (`core/assumptions.py: _ask`) shuffle
# the facts they try with it, and some orders recurse without end: under a fixed PYTHONHASHSEED,
# sympy__sympy-13177's test_powers_Integer (FAIL_TO_PASS of sympy-14024) was `ok` in one run and
# `E` (RecursionError) in the next. The official harness draws one too (it would see the same
# flips); we pin it to the run's PYTHONHASHSEED, so the same candidate gets the same verdict and
# validation's seed search (harness.verify.HASH_SEEDS) chooses both. None: unpinned.
SYMPY_SEED: str | None = "--seed ${PYTHONHASHSEED:-0}"
# Debian packages a repo needs beyond the table's `apt` (swebench's conda images ship them).
APT_EXTRA = {
    # C extensions built by `pip install -e .`: a compiler and Python's headers.
    "astropy/astropy": ("build-essential", "python3-dev"),
}


@functools.lru_cache(maxsize=1)
def table() -> dict:
    return json.loads(TABLE.read_text())


def table_entry(repo: str, version: str) -> dict | None:
    entry = table()["specs"].get(repo, {}).get(version)
    if entry is None:
        return None
    return {**entry, **OVERRIDES.get((repo, version), {})}


def base_test_cmd(repo: str, version: str | None = None) -> str:
    """The repo's test runner without directives (the table's; any version when None)."""
    versions = table()["specs"].get(repo, {})
    entry = versions.get(version) if version else None
    entry = entry or (versions[max(versions)] if versions else None)
    return (entry or {}).get("test_cmd") or DEFAULT_TEST_CMD


# Kept for callers of the earlier module: repo -> test runner, and the default runner.
_PYTEST = DEFAULT_TEST_CMD
TEST_CMDS = {repo: base_test_cmd(repo) for repo in table()["specs"]}


@dataclass(frozen=True)
class EnvSpec:
    """The environment layer's recipe, shared by every instance of a (repo, version)."""
    requirements: dict | None = None  # {"kind": "requirements"|"environment.yml", "paths": [...]}
    packages: tuple[str, ...] = ()  # pip requirements (swebench's conda packages)
    pip_packages: tuple[str, ...] = ()  # swebench's pip pins
    apt: tuple[str, ...] = ()  # Debian packages
    pre_install: tuple[str, ...] = ()  # edits before the install (sed on setup.py, ...)
    install: str | None = None  # the package's own install (run again per instance)
    offline: tuple[str, ...] = ()  # what the offline translation changed
    services: tuple[str, ...] = ()  # local stand-ins for network services (harness.env.services)


@dataclass(frozen=True)
class Spec:
    install: tuple[str, ...]  # instance-layer commands, run in /testbed
    test_cmd: str  # full command, directives included
    log_parser: str
    python: str | None  # the Python the instance wants
    test_files: tuple[str, ...]  # files whose candidate edits are discarded
    env: EnvSpec = field(default_factory=EnvSpec)
    source: str = "default"  # "swebench-4.1.0", "override" (the instance's own) or "default"
    blackhole: tuple[str, ...] = ()  # addresses that never answer in the test sandbox (harness.netns)


def test_directives(instance: SWEInstance) -> list[str]:
    """What swebench passes to the test command: test_patch's files as they are after it (a
    renamed file by its new name: sqlfluff__sqlfluff-1733), django's as modules."""
    swebench_lib.load()
    from swebench.harness.constants import NON_TEST_EXTS

    files = [f for f in sorted(set(re.findall(r"diff --git a/.* b/(.*)", instance.test_patch)))
             if not any(f.endswith(ext) for ext in NON_TEST_EXTS)]
    if instance.repo == "django/django":
        files = [re.sub(r"^tests/", "", f[:-3] if f.endswith(".py") else f).replace("/", ".")
                 for f in files]
    return files


def resolve(instance: SWEInstance) -> Spec:
    entry = None if instance.repo_path else table_entry(instance.repo, instance.version)
    env = EnvSpec()
    if entry is not None:
        env = EnvSpec(requirements=entry.get("requirements"), packages=tuple(entry.get("packages", [])),
                      pip_packages=tuple(entry.get("pip_packages", [])),
                      apt=tuple(entry.get("apt", [])) + APT_EXTRA.get(instance.repo, ()),
                      pre_install=tuple(entry.get("pre_install", [])), install=entry.get("install"),
                      offline=tuple(entry.get("offline", [])), services=env_services.for_repo(instance.repo))
    if instance.install is not None:
        install, source = tuple(instance.install), "override"
        env = EnvSpec()  # the user's commands do it all, in the instance layer
    elif entry is not None:
        install, source = (*env.pre_install, env.install or DEFAULT_INSTALL), "swebench-4.1.0"
    else:
        install, source = (DEFAULT_INSTALL,), "default"
    if instance.test_cmd is not None:
        test_cmd = instance.test_cmd
    else:
        base = (entry or {}).get("test_cmd") or DEFAULT_TEST_CMD
        if SYMPY_SEED is not None and re.search(r"(^|\s)bin/test(\s|$)", base) and "--seed" not in base:
            base = f"{base} {SYMPY_SEED}"
        test_cmd = " ".join([base, *test_directives(instance)])
        setup = [*env_services.start_lines(env.services), *((entry or {}).get("eval_commands") or [])]
        if setup:
            test_cmd = "\n".join([*setup, test_cmd])
    parser = instance.log_parser
    if parser is None:
        swebench_lib.load()
        from swebench.harness.log_parsers.python import MAP_REPO_TO_PARSER_PY

        fn = MAP_REPO_TO_PARSER_PY.get(instance.repo)
        parser = fn.__name__ if fn is not None else "parse_log_pytest"
    test_files = set(instance.test_files or [])
    if instance.test_patch:
        test_files |= set(touched_files(instance.test_patch))
    python = instance.python or (entry or {}).get("python")
    blackhole = env_services.blackhole_for(instance.repo) if entry is not None else ()
    return Spec(install, test_cmd, parser, python, tuple(sorted(test_files)), env, source, blackhole)


def is_protected(path: str, spec: Spec) -> bool:
    """A candidate's edit to this path is discarded: the instance's test files, any file that
    looks like a test (a patch that rewrites tests proves nothing), the test runner's
    configuration and code, import hooks (harness.protect)."""
    from harness import protect, runners

    return protect.reset_reason(path, spec, kind=runners.kind_of(spec.test_cmd)) is not None
