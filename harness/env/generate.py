"""Generate harness/env/specs_swebench_4_1_0.json from swebench 4.1.0's own spec table.

    python -m harness.env.generate                 # pip-downloads the wheel (PyPI only)
    python -m harness.env.generate --wheel FILE    # or reads a wheel you have

swebench 5.x no longer ships MAP_REPO_VERSION_TO_SPECS_PY; 4.1.0 does, in
swebench/harness/constants/python.py, a file that imports nothing. It is executed on its
own (never installed), and each (repo, version) entry is written out with these offline
translations, each recorded in the entry (`offline` notes) so nothing is silently changed:
- packages "requirements.txt" / "environment.yml": swebench downloads them from GitHub at
  environment_setup_commit; we record where to read them in the repository mirror instead.
- other `packages` strings are conda package specs: converted to pip requirements.
- `pre_install` lines that run apt-get become an `apt` package list (installed from Debian's
  mirror); downloads from other hosts (qhull.org) are dropped (not reachable offline).
- the test command runs the environment's own runner: `pytest ...` -> `python -m pytest ...`
  (a bare `pytest` can be a system one outside the venv); sphinx's `tox --current-env -epy39
  -v --` runs what its tox.ini runs, `python -X dev -m pytest -rA` (the pre_install sed adds
  -rA there), without needing tox.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import re
import shlex
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

SWEBENCH_VERSION = "4.1.0"
SOURCE_FILE = "swebench/harness/constants/python.py"
OUT = Path(__file__).with_name("specs_swebench_4_1_0.json")

# conda package names whose pip name differs (the rest are the same on PyPI).
CONDA_TO_PIP = {"matplotlib-base": "matplotlib", "pytables": "tables", "dask-core": "dask",
                "pytorch": "torch", "py-xgboost": "xgboost", "iris": "scitools-iris"}


def conda_to_pip(spec: str) -> str:
    """`numpy=1.19` (conda: 1.19.*) -> `numpy==1.19.*`; `numpy==1.19.2` stays; names mapped."""
    spec = spec.strip().strip("'\"")
    m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", spec)
    if not m:
        return spec
    name, rest = m.group(1), m.group(2).strip()
    name = CONDA_TO_PIP.get(name.lower(), name)
    if re.match(r"^=[^=]", rest):  # conda's single '=' is a prefix match
        version = rest[1:].split("=")[0]  # drop a build string
        rest = f"=={version}" if version.count(".") >= 2 else f"=={version}.*"
    return name + rest


def _translate_test_cmd(cmd: str) -> str:
    if cmd.startswith("tox --current-env"):
        return "python -X dev -m pytest -rA"
    return re.sub(r"(^|&&\s*|;\s*)pytest(\s|$)", r"\1python -m pytest\2", cmd)


def translate(repo: str, version: str, spec: dict, reqs_paths: dict, yml_paths: dict) -> dict:
    out: dict = {"python": spec.get("python"), "install": spec.get("install"),
                 "pip_packages": list(spec.get("pip_packages") or []),
                 "test_cmd": _translate_test_cmd(spec.get("test_cmd", "")),
                 "eval_commands": list(spec.get("eval_commands") or []), "offline": []}
    if out["test_cmd"] != spec.get("test_cmd", ""):
        out["swebench_test_cmd"] = spec.get("test_cmd")
        out["offline"].append("test command runs the environment's python -m pytest")
    packages = spec.get("packages", "")
    if packages == "requirements.txt":
        out["requirements"] = {"kind": "requirements", "paths": reqs_paths.get(repo, [])}
        out["offline"].append("requirements read from the repository mirror at environment_setup_commit")
    elif packages == "environment.yml":
        out["requirements"] = {"kind": "environment.yml", "paths": yml_paths.get(repo, [])}
        out["offline"].append("environment.yml read from the mirror; conda packages installed with pip")
    elif packages:
        out["packages"] = [conda_to_pip(p) for p in shlex.split(packages)]
        out["swebench_packages"] = packages
        out["offline"].append("conda packages installed as their pip equivalents")
    apt, pre = [], []
    for cmd in spec.get("pre_install") or []:
        if "apt-get install" in cmd:
            words = cmd.split("apt-get install", 1)[1].replace("DEBIAN_FRONTEND=noninteractive", "").split()
            apt += [w for w in words if not w.startswith("-") and w not in ("&&",)]
        elif re.search(r"https?://|wget |QHULL_", cmd) and "pypi" not in cmd:
            out["offline"].append(f"dropped (needs the internet): {cmd}")
        elif cmd.startswith("apt-get update") or cmd.startswith("apt-get -y update"):
            continue
        else:
            pre.append(cmd)
    out["apt"], out["pre_install"] = sorted(set(apt)), pre
    for key in ("no_use_env", "execute_test_as_nonroot", "nano_cpus"):
        if key in spec:
            out[key] = spec[key]
    return out


def load_module(wheel: Path) -> dict:
    with zipfile.ZipFile(wheel) as zf:
        source = zf.read(SOURCE_FILE).decode()
    namespace: dict = {"__name__": "swebench_4_1_0_constants_python"}
    exec(compile(source, f"{wheel.name}/{SOURCE_FILE}", "exec"), namespace)  # the file imports nothing
    return namespace


def download_wheel(dest: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                    f"swebench=={SWEBENCH_VERSION}", "-d", str(dest)], check=True)
    return next(dest.glob(f"swebench-{SWEBENCH_VERSION}-*.whl"))


def generate(wheel: Path) -> dict:
    ns = load_module(wheel)
    table = ns["MAP_REPO_VERSION_TO_SPECS_PY"]
    reqs, ymls = ns["MAP_REPO_TO_REQS_PATHS"], ns["MAP_REPO_TO_ENV_YML_PATHS"]
    specs = {repo: {version: translate(repo, version, spec, reqs, ymls)
                    for version, spec in sorted(versions.items())}
             for repo, versions in sorted(table.items())}
    return {"provenance": {"package": f"swebench=={SWEBENCH_VERSION}", "wheel": wheel.name,
                           "wheel_sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
                           "file": SOURCE_FILE, "table": "MAP_REPO_VERSION_TO_SPECS_PY",
                           "generated": dt.date.today().isoformat(),
                           "generator": "python -m harness.env.generate"},
            "specs": specs}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help=f"a swebench-{SWEBENCH_VERSION} wheel (else pip-downloaded)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or download_wheel(Path(tmp))
        data = generate(wheel)
    args.out.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    n = sum(len(v) for v in data["specs"].values())
    print(f"wrote {args.out}: {n} (repo, version) specs from {data['provenance']['wheel']}")


if __name__ == "__main__":
    main()
