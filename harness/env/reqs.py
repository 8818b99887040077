"""An environment's requirements, read from the repository mirror (swebench downloads them).

Same rules as swebench 4.1.0's `get_requirements` / `get_environment_yml`: the first of the
spec's paths that exists at environment_setup_commit; `-r other.txt` lines are inlined;
`-e .`, comments and `.[test]` lines are dropped (the package itself is installed later);
an environment.yml's conda dependencies become pip requirements (`python`, `pip` and
packages that exist only on conda are left out, named in the returned notes).
"""
from __future__ import annotations

import posixpath
import re
import subprocess
from pathlib import Path

import yaml

from harness.env.generate import conda_to_pip
from harness.repos import git_dir

# conda-forge packages with no PyPI wheel installable here (system libraries or conda-only).
CONDA_ONLY = {"python", "pip", "hdf5", "cdms2", "pynio", "libnetcdf", "eccodes", "gdal", "proj",
              "geos", "ffmpeg", "graphviz", "pandoc", "compilers", "c-compiler", "cxx-compiler",
              "pkg-config", "nodejs", "qt", "pyqt", "wxpython", "cairo", "freetype", "libpng",
              "zlib", "mpl_sample_data", "ipykernel", "nomkl", "mkl", "blas", "openblas", "libblas",
              "tk", "sqlite", "cartopy", "iris", "scitools-iris", "pseudonetcdf", "cfgrib",
              "rasterio", "pydap", "numbagg"}
# swebench's replacement for a package yanked from PyPI.
REPLACE = {"types-pkg_resources": "types-setuptools"}


def _show(repo: Path, commit: str, path: str) -> str | None:
    try:
        return subprocess.run(["git", "--git-dir", str(git_dir(repo)), "show", f"{commit}:{path}"],
                              check=True, capture_output=True, text=True, timeout=60).stdout
    except subprocess.CalledProcessError:
        return None


def _clean(line: str) -> str | None:
    line = line.split(" #", 1)[0].strip()
    if not line or any(line.startswith(x) for x in ("-e .", "#", ".[test", "-c ", "--")):
        return None
    name = re.split(r"[<>=!~;\[ ]", line, 1)[0]
    if name in REPLACE:
        return REPLACE[name]
    return line


def requirements_txt(repo: Path, commit: str, paths: list[str]) -> tuple[str, list[str]] | None:
    """(requirements lines, the files read) from the first path present, or None."""
    for path in paths:
        text = _show(repo, commit, path)
        if text is None:
            continue
        lines, read = [], [path]
        for raw in text.splitlines():
            if raw.strip().startswith("-r"):
                sub = posixpath.normpath(posixpath.join(posixpath.dirname(path), raw.strip()[2:].strip()))
                inner = _show(repo, commit, sub) or ""
                read.append(sub)
                lines += [c for c in map(_clean, inner.splitlines()) if c]
            elif (c := _clean(raw)) is not None:
                lines.append(c)
        return "\n".join(lines) + "\n", read
    return None


def environment_yml(repo: Path, commit: str, paths: list[str]) -> tuple[str, list[str], list[str]] | None:
    """(pip requirements, the file read, conda-only packages left out) or None."""
    for path in paths:
        text = _show(repo, commit, path)
        if text is None:
            continue
        doc = yaml.safe_load(text) or {}
        out, skipped = [], []
        for dep in doc.get("dependencies") or []:
            if isinstance(dep, dict):
                out += [str(d) for d in dep.get("pip") or []]
                continue
            req = conda_to_pip(str(dep))
            name = re.split(r"[<>=!~ ]", req, 1)[0].lower()
            (skipped if name in CONDA_ONLY or str(dep).split("=")[0].lower() in CONDA_ONLY else out).append(req)
        return "\n".join(out) + "\n", [path], skipped
    return None
