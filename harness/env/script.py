"""The bash that installs an environment: dependencies as of a date, resolved by uv.

Date rule: every requirement resolves with `uv pip install --exclude-newer DATE`, so an
old repository gets the packages that were current when it was (uv reproduced the hand pins
found for flask 2.3 exactly). Explicit pins are kept only where the date rule is not enough:
- `name==version` pins from swebench's spec table: swebench found them working with the
  official images; they may postdate DATE, so each is exempted from it
  (`--exclude-newer-package name=...`).
- build tools (setuptools, wheel, pip, setuptools_scm, ...) are not dated: editable installs
  need a setuptools with PEP 660 (>= 64, 2022), and 2016's setuptools does not run on 3.9+.
- compiled packages (numpy, scipy, pandas, ...) install only from wheels (`--only-binary`):
  the images have no compiler, and a date from before our Python's wheels existed then fails
  to resolve instead of failing a source build.
Python older than 3.8 (a source-built 3.6 for astropy 1.3, django 2-3): uv does not run on
it, so pip (the newest release for that Python) installs instead, without the date rule: the
spec's `==` pins carry those environments (`LEGACY_PIP`).
When nothing resolves as of DATE (old code on a newer Python), the script tries DATE + 1 and
+ 2 years, then no date; the date that worked is written to /opt/monkeys-env/exclude-newer.
"""
from __future__ import annotations

import datetime as dt
import re
import shlex

from harness.env import services as env_services

FAR = "2999-01-01T00:00:00Z"
BUILD_TOOLS = ("setuptools", "wheel", "pip", "setuptools-scm", "setuptools_scm", "cython",
               "extension-helpers", "hatchling", "flit-core", "poetry-core", "versioneer")
BINARY_ONLY = ("numpy", "scipy", "pandas", "matplotlib", "contourpy", "kiwisolver", "pillow",
               "h5py", "netcdf4", "cftime", "numba", "llvmlite", "numexpr", "bottleneck", "lxml",
               "pyerfa", "scikit-learn", "shapely", "pyproj", "cryptography", "zarr", "numcodecs",
               "fonttools", "psutil", "pyarrow")
# The test runner must run on the image's Python, which can be newer than the instance's
# date (3.9 for a 2014 instance): pytest of 2014 dies at startup on 3.9 (INTERNALERROR in
# warn_about_missing_assertion, seen on psf__requests-1963). So pytest and its own
# dependencies resolve as of max(DATE, the date our Python's wheels/support arrived).
# Its dependencies too: with `packaging` or `toml` dated 2014, uv backtracks to the newest
# pytest whose requirements existed then (3.2.5, which prints no PASSED lines for -rA).
TEST_TOOLS = ("pytest", "pluggy", "py", "iniconfig", "attrs", "more-itertools", "atomicwrites",
              "packaging", "pyparsing", "toml", "tomli", "exceptiongroup",
              # pytest 4.6-5.x needs importlib-metadata; its 2019 releases call the 3.8+ stdlib
              # finders the old way ('str' object has no attribute 'name': pytest-dev__pytest-5495)
              "importlib-metadata", "zipp",
              "pytest-cov", "pytest-xdist", "pytest-timeout", "pytest-mock", "coverage", "execnet")
PYTHON_FLOOR = {"3.9": "2021-01-01T00:00:00Z", "3.11": "2023-01-01T00:00:00Z",
                "3.13": "2025-01-01T00:00:00Z"}
ENV_DIR = "/opt/monkeys-env"
_PIN = re.compile(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*===?\s*[A-Za-z0-9_.+!*\-]+\s*$")


def iso_date(text: str) -> str:
    """'2016-07-15T12:00:00Z' / '2016-07-15 12:00:00+02:00' -> '2016-07-15T12:00:00Z' (UTC)."""
    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def date_chain(date: str | None) -> list[str]:
    """The dates tried in turn: DATE, +1 and +2 years, then "" (no limit)."""
    if not date:
        return [""]
    d = dt.datetime.strptime(date, "%Y-%m-%dT%H:%M:%SZ")
    later = [d.replace(year=d.year + n, day=min(d.day, 28)) for n in (1, 2)]
    return [date] + [x.strftime("%Y-%m-%dT%H:%M:%SZ") for x in later if x < dt.datetime.now()] + [""]


def pinned_names(reqs: list[str]) -> list[str]:
    return [m.group(1) for r in reqs if (m := _PIN.match(r))]


def uv_flags(pins: list[str], date: str | None = None, python: str | None = None) -> str:
    pinned = pinned_names(pins)
    exempt = list(dict.fromkeys([*BUILD_TOOLS, *pinned]))
    flags = ["--only-binary", ",".join(BINARY_ONLY)]
    flags += [f"--exclude-newer-package {shlex.quote(n + '=' + FAR)}" for n in exempt]
    floor = PYTHON_FLOOR.get(python or "")
    if date and floor and date < floor:
        low = {n.lower() for n in pinned}
        flags += [f"--exclude-newer-package {shlex.quote(n + '=' + floor)}" for n in TEST_TOOLS
                  if n not in low]
    return " ".join(flags)


def to_uv(cmd: str) -> str:
    """swebench's `python -m pip install ARGS` -> `uv_dated ARGS` when uv understands every
    argument (-e, ., extras, --no-build-isolation); otherwise the command is kept as it is."""
    m = re.match(r"^python -m pip install (.*)$", cmd.strip())
    if not m:
        return cmd
    args = [a for a in shlex.split(m.group(1)) if a not in ("-v", "--verbose")]
    ok = all(a in ("-e", "--no-build-isolation") or a == "." or a.startswith(".[") for a in args)
    if not ok:
        return cmd
    # An editable install puts /testbed itself on sys.path (setuptools' "compat" mode, what
    # `setup.py develop` did when these repos were written): the default import-hook finder
    # hides the tree from tools that map files to modules (astroid in pylint's subprocesses).
    compat = ["-C", "editable_mode=compat"] if "-e" in args else []
    return "uv_dated " + " ".join(shlex.quote(a) for a in [*compat, *args])


PRELUDE = """\
set -uo pipefail
cd /testbed
[ -s @ENV@/ca.crt ] && export SSL_CERT_FILE=@ENV@/ca.crt PIP_CERT=@ENV@/ca.crt
export UV_CACHE_DIR=/tmp/monkeys-uv-cache UV_HTTP_TIMEOUT=120 UV_LINK_MODE=copy
# Compile .pyc at install, as pip does: else the first import compiles them, and a repo whose
# pytest config says `filterwarnings = error` dies on a dependency's invalid escape sequence
# (blinker 1.4 under flask 2.0: SyntaxError before a single test, seen on pallets__flask-4045).
export UV_COMPILE_BYTECODE=1
UV_FLAGS=(@FLAGS@)
UV_FLAGS_LATE=(@LATE_FLAGS@)  # without the test runner's floor: for dates past it, and no date
uv_dated() {  # uv pip install as of the first date in the chain that resolves and installs
  for d in @DATES@; do
    f=("${UV_FLAGS[@]}"); if [ -z "$d" ] || [[ "$d" > "@FLOOR@" ]]; then f=("${UV_FLAGS_LATE[@]}"); fi
    if uv pip install "${f[@]}" ${d:+--exclude-newer "$d"} "$@"; then
      echo "${d:-none}" > @ENV@/@RECORD@; return 0; fi
    echo "[monkeys-env] nothing installable as of ${d:-today}: $*" >&2
  done
  return 1
}
"""


LEGACY_PIP = """\
# uv does not run on Python < 3.8: pip installs (uv-only options dropped), with no date rule.
uv_dated() {
  local a=() skip=0 x
  for x in "$@"; do
    if [ $skip = 1 ]; then skip=0; continue; fi
    if [ "$x" = -C ]; then skip=1; continue; fi
    a+=("$x")
  done
  python -m pip install "${a[@]}" && echo "none (pip: uv does not run Python @PY@)" > @ENV@/@RECORD@
}
"""


def legacy(python: str | None) -> bool:
    """Pythons uv cannot run (< 3.8): their environments install with pip."""
    try:
        return bool(python) and tuple(int(x) for x in python.split(".")[:2]) < (3, 8)
    except ValueError:
        return False


def prelude(date: str | None, pins: list[str], record: str = "exclude-newer", python: str | None = None) -> str:
    if legacy(python):
        return (PRELUDE.split("UV_FLAGS=(")[0] + LEGACY_PIP).replace("@ENV@", ENV_DIR) \
            .replace("@RECORD@", record).replace("@PY@", python)
    return (PRELUDE.replace("@ENV@", ENV_DIR).replace("@RECORD@", record)
            .replace("@FLAGS@", uv_flags(pins, date, python)).replace("@LATE_FLAGS@", uv_flags(pins))
            .replace("@FLOOR@", PYTHON_FLOOR.get(python or "", ""))
            .replace("@DATES@", " ".join(shlex.quote(d) for d in date_chain(date))))


def env_script(*, date: str | None, requirements: bool, packages: list[str], pins: list[str],
               pre_install: list[str], install: str | None, needs_pytest: bool,
               python: str | None = None, services: tuple[str, ...] = ()) -> str:
    """The env layer: a clean venv, then requirements + packages + pins, then the package
    itself (so its own dependencies are in the shared layer), then the tree restored."""
    lines = [prelude(date, pins, python=python),
             # the system interpreter (python3 on PATH may be the venv's own, which --clear would break)
             'PY=$(readlink -f /opt/venv/bin/python3 2>/dev/null || command -v python3)',
             '"$PY" -m venv --clear /opt/venv || exit 1']
    if legacy(python):  # the venv's bundled pip is too old for manylinux2010+ wheels
        lines.append("python -m pip install -U 'pip<22' || exit 1")
    deps = " ".join(shlex.quote(p) for p in [*packages, *pins])
    if requirements:
        # All at once; if that cannot resolve, the spec's own packages, then each
        # requirement on its own (best effort: one that does not install is named and skipped).
        lines += [f"if ! uv_dated -r {ENV_DIR}/requirements.txt {deps}; then",
                  f"  {'uv_dated ' + deps + ' || exit 1' if deps else ':'}",
                  f"  while read -r req; do [ -z \"$req\" ] || uv_dated \"$req\" "
                  f"|| echo \"[monkeys-env] skipped requirement: $req\"; done < {ENV_DIR}/requirements.txt",
                  "fi"]
    elif deps:
        lines.append(f"uv_dated {deps} || exit 1")
    if not legacy(python):  # pip < 22 installs editables with `setup.py develop`: the spec's setuptools stays
        lines.append("uv_dated setuptools wheel || true")  # undated (BUILD_TOOLS): PEP 660 editables
    if install:
        lines += [*pre_install, f"{to_uv(install)} || {{ echo '[monkeys-env] package install failed at the env commit'; "
                  f"touch {ENV_DIR}/package-not-installed; }}",
                  "git checkout -q -- . 2>/dev/null || true"]
    if needs_pytest:
        lines.append("python -c 'import pytest' 2>/dev/null || uv_dated pytest || exit 1")
    lines += env_services.install_lines(services)
    lines += [f"{{ uv pip freeze 2>/dev/null || python -m pip freeze; }} > {ENV_DIR}/freeze.txt || true",
              f"rm -rf /tmp/monkeys-uv-cache {ENV_DIR}/ca.crt"]
    return "\n".join(lines) + "\n"


def _install_lines(install: list[str], reuse: bool) -> list[str]:
    """The package's install. `reuse`: the env layer installed it (editable, pointing at
    /testbed), so it is redone only when a build input changed since the env commit."""
    cmds = [_fast(to_uv(c)) for c in install]
    if not reuse or not cmds:
        return cmds
    return [f"if [ -e {ENV_DIR}/package-not-installed ] || tr '\\0' '\\n' < $M/changed "
            f"| grep -qE '{BUILD_INPUTS}'; then", *[f"  {c}" for c in cmds],
            "else echo '[monkeys-env] editable install of the env layer reused'; fi"]


def _fast(cmd: str) -> str:
    """The env layer has the dependencies: reinstall the package without a build environment
    (new dependencies resolved as of the date); the full dated install if that fails."""
    if not cmd.startswith("uv_dated "):
        return cmd
    args = cmd[len("uv_dated "):]
    # Dependencies resolved (as of the date) but no build environment: a changed pyproject may
    # add one (pylint 2.15 -> dill), and the env layer's packages satisfy the rest at once.
    fast = f"uv_dated --no-build-isolation {args}"
    # A venv with Debian's setuptools 44 has no PEP 660 hook, and a pinned build-system of
    # setuptools < 64 has none either (pylint 2.15+: "no attribute 'build_editable'"); uv has no
    # `setup.py develop` fallback, so give the venv a PEP 660 setuptools, only when it is needed.
    return (f"{fast} || {{ uv pip install 'setuptools>=64' wheel && {fast}; }} || uv_dated {args}"
            if "-e" in args.split() else f"{fast} || uv_dated {args}")


# Changes that make the env layer's editable install stale (metadata, compiled sources).
BUILD_INPUTS = r"(^|/)(setup\.py|setup\.cfg|pyproject\.toml|MANIFEST\.in)$|\.(pyx|pxd|c|cc|cpp|h)$"


def instance_script(*, date: str | None, pins: list[str], pre_install: list[str],
                    install: list[str], base_commit: str, reuse_env_install: bool = False,
                    python: str | None = None, tag: str | None = None) -> str:
    """The thin instance layer: the changed files are already copied over the env tree;
    delete the removed ones, make /testbed one commit (base_commit's tree, no history,
    unreachable env objects pruned), then pre-install edits and the editable install."""
    lines = [prelude(date, pins, record="instance-exclude-newer", python=python),
             "M=/tmp/monkeys-inst",
             '[ -s $M/deleted ] && xargs -0 rm -f -- < $M/deleted',
             *pre_install,
             # Stage only what changed: re-adding every file would rewrite (freshen) every object
             # of the env layer into this one. core.checkStat=minimal keeps the rest clean.
             "G='git --literal-pathspecs'",
             "[ -s $M/deleted ] && { $G rm -q --cached --ignore-unmatch --pathspec-from-file=$M/deleted --pathspec-file-nul || exit 1; }",
             "[ -s $M/changed ] && { $G add -f --pathspec-from-file=$M/changed --pathspec-file-nul || exit 1; }",
             "git add -u || exit 1  # pre-install edits of tracked files",
             f"c=$(git commit-tree $(git write-tree) -m {shlex.quote('base ' + base_commit)}) || exit 1",
             "git update-ref refs/heads/main $c && git symbolic-ref HEAD refs/heads/main",
             # versioneer's tag moves to the new commit (left on the env commit, it would keep it alive)
             *(["git tag -l | xargs -r git tag -d >/dev/null", f"git tag {shlex.quote(tag)} $c"] if tag else []),
             "git reflog expire --expire=now --all; git prune --expire=now",
             "set -e", *_install_lines(install, reuse_env_install), "set +e",
             "git ls-files --others --exclude-standard >> .git/info/exclude",
             f"rm -rf /tmp/monkeys-uv-cache {ENV_DIR}/ca.crt $M"]
    return "\n".join(lines) + "\n"
