"""Real SWE-bench Lite instances of repositories too big to mirror here, on their PyPI sdists.

django, scikit-learn and matplotlib (637-873 MB repositories) cannot be mirrored on this
machine, but their sdists ship the source and the tests. Many Lite fixes landed before a
release, so the release's sdist holds the fixed code and the new tests: reversing the gold
patch and the test_patch on it gives the tree as it was before the fix. That tree is
committed in a git mirror (`DIR/owner__name.git`, the --repo-mirror layout) and the real
Lite row, pointed at that commit, verifies as any mirrored instance does: the spec table
for (repo, version), the environment layer, the real FAIL_TO_PASS / PASS_TO_PASS.

    mirror, instances = lite_on_sdist("django__django-11099", mirror_dir=tmp)
    Verifier(instances[0], repo_mirror=mirror).verify(instances[0].patch)   # resolved

Commits use fixed authors and dates: the same sdist gives the same SHAs (and image tags)
on every run. Sdists are downloaded once into ~/.cache/monkeys-swe/sdists.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from pathlib import Path
from urllib.parse import urljoin

from harness.instance import SWEInstance

CACHE = Path(os.environ.get("MONKEYS_SWE_SDIST_CACHE", Path.home() / ".cache" / "monkeys-swe" / "sdists"))
LITE = Path(__file__).resolve().parents[2] / "shared" / "data" / "swebench" / "swe_bench_lite_test.jsonl.gz"
PYPI = os.environ.get("MONKEYS_SWE_PYPI_JSON", "https://pypi.org/pypi/{name}/json")

# repo -> (PyPI name, release whose sdist is the tree, spec version of the tree, release date).
# The date becomes the tree's commit date: environments resolve dependencies as of it.
SDISTS = {
    "django/django": ("Django", "3.2", "3.2", "2021-04-06T00:00:00Z"),
    "scikit-learn/scikit-learn": ("scikit-learn", "0.22", "0.22", "2019-12-03T00:00:00Z"),
    "matplotlib/matplotlib": ("matplotlib", "3.6.0", "3.6", "2022-09-15T00:00:00Z"),
}
# Lite instances whose gold patch and test_patch both reverse-apply on that sdist (checked
# with `git apply -R --check`); the spec version is the tree's, not the row's.
INSTANCES = {
    "django/django": ["django__django-11099", "django__django-12983", "django__django-13658",
                      "django__django-12286", "django__django-13660"],
    "scikit-learn/scikit-learn": ["scikit-learn__scikit-learn-15512", "scikit-learn__scikit-learn-15535",
                                  "scikit-learn__scikit-learn-13584"],
    "matplotlib/matplotlib": ["matplotlib__matplotlib-23299", "matplotlib__matplotlib-23562",
                              "matplotlib__matplotlib-23563"],
}
# FAIL_TO_PASS tests that already pass before the fix on the release's tree (code they test
# changed after the instance's date), found by the image validation run (harness.health):
# moved to PASS_TO_PASS, where they still must pass with the gold patch.
ALREADY_PASSING = {
    "django__django-11099": ["test_help_text (auth_tests.test_validators.UserAttributeSimilarityValidatorTest)"],
}
# Where the spec table's path does not build here yet, instance overrides (install, python).
# django needs none. scikit-learn and matplotlib compile C/C++ extensions: the images need a
# compiler and Python's headers (the table lists no apt packages for scikit-learn), swebench's
# numpy==1.19.2 / scipy==1.5.2 pins (for Python 3.6) have no wheels for the substitute 3.9, and
# matplotlib downloads freetype and qhull unless told to use the system's. pytest 8: the dataset's
# ids for duplicate parametrize ids are pytest 8's (`[100-100_0]`); pytest 7.4 writes `[100-1000]`.
_APT = "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
OVERRIDES = {
    "scikit-learn/scikit-learn": {"python": "3.9", "install": [
        _APT + "build-essential python3-dev >/dev/null",
        "python -m pip install 'setuptools<60' wheel numpy==1.19.5 scipy==1.5.4 cython==0.29.24 "
        "pytest==6.2.5 joblib==0.14.1 threadpoolctl==2.1.0",
        "python -m pip install -v --no-use-pep517 --no-build-isolation -e ."]},
    "matplotlib/matplotlib": {"python": "3.11", "install": [
        _APT + "build-essential python3-dev pkg-config libfreetype-dev libqhull-dev >/dev/null",
        # swebench's pins for matplotlib 3.6 (Python 3.11), plus the build's own requirements
        "python -m pip install contourpy==1.1.0 cycler==0.11.0 fonttools==4.42.1 kiwisolver==1.4.5 "
        "numpy==1.25.2 packaging==23.1 pillow==10.0.0 pyparsing==3.0.9 python-dateutil==2.8.2 six==1.16.0 "
        "setuptools==68.1.2 setuptools-scm==7.1.0 typing-extensions==4.7.1 pytest==8.2.2 certifi wheel",
        "printf '[libs]\\nsystem_freetype = true\\nsystem_qhull = true\\n' > /tmp/mplsetup.cfg",
        "MPLSETUPCFG=/tmp/mplsetup.cfg python -m pip install --no-build-isolation -e ."]},
}
ENV = {"GIT_AUTHOR_NAME": "sdist", "GIT_AUTHOR_EMAIL": "sdist@localhost",
       "GIT_COMMITTER_NAME": "sdist", "GIT_COMMITTER_EMAIL": "sdist@localhost",
       "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(cwd: Path, *args: str, stdin: str | None = None, date: str = "2024-01-01T00:00:00Z") -> str:
    env = {**os.environ, **ENV, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          input=stdin, env=env).stdout


def fetch_sdist(name: str, version: str, cache: Path = CACHE) -> Path:
    """The release's sdist (.tar.gz), from the cache or PyPI's JSON API (sha256 checked).
    pip download cannot be used: it builds metadata, which old setup.py files fail to do."""
    cache.mkdir(parents=True, exist_ok=True)
    for found in cache.glob("*.tar.gz"):
        if found.name.lower() in {f"{name}-{version}.tar.gz".lower(),
                                  f"{name.replace('-', '_')}-{version}.tar.gz".lower()}:
            return found
    url = PYPI.format(name=name)
    with urllib.request.urlopen(url, timeout=60) as resp:
        meta = json.load(resp)
    files = [f for f in meta["releases"].get(version, []) if f["packagetype"] == "sdist"]
    if not files:
        raise RuntimeError(f"PyPI has no sdist of {name} {version}")
    target = cache / files[0]["filename"]
    tmp = target.with_suffix(".part")
    with urllib.request.urlopen(urljoin(url, files[0]["url"]), timeout=600) as resp, open(tmp, "wb") as out:
        shutil.copyfileobj(resp, out)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    if digest != files[0]["digests"]["sha256"]:
        tmp.unlink()
        raise RuntimeError(f"sha256 mismatch for {target.name}")
    tmp.rename(target)
    return target


def snapshot(sdist: Path, work: Path, date: str) -> str:
    """The sdist's tree as a one-commit git repository at `work` (branch sdist, committed at
    `date`); its SHA."""
    if (work / ".git").exists():
        return git(work, "rev-parse", "sdist").strip()
    work.mkdir(parents=True)
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        tar.extractall(work.parent / (work.name + ".x"), filter="tar")
    src = work.parent / (work.name + ".x") / top
    for item in src.iterdir():
        shutil.move(str(item), work / item.name)
    shutil.rmtree(work.parent / (work.name + ".x"))
    for junk in work.glob("*.egg-info"):  # generated by sdist builds, not in the repository
        shutil.rmtree(junk)
    (work / "PKG-INFO").unlink(missing_ok=True)
    git(work, "init", "-q", "-b", "sdist")
    git(work, "add", "-A", "-f")
    git(work, "commit", "-q", "--no-verify", "-m", f"{sdist.name} as released", date=date)
    return git(work, "rev-parse", "HEAD").strip()


def before_fix(work: Path, sdist_sha: str, row: dict) -> str:
    """A commit on top of the sdist with the row's test_patch and gold patch reversed: the
    tree before the fix. Returns its SHA (a branch named after the instance points to it)."""
    git(work, "checkout", "-q", "-B", row["instance_id"], sdist_sha)
    for diff in (row["test_patch"], row["patch"]):
        git(work, "apply", "-R", "--whitespace=nowarn", "-", stdin=diff)
    git(work, "add", "-A", "-f")
    git(work, "commit", "-q", "--no-verify", "-m", f"before {row['instance_id']} (its fix and tests reversed)",
        date=row.get("created_at") or "2024-01-01T00:00:00Z")
    return git(work, "rev-parse", "HEAD").strip()


def lite_rows(ids: list[str], path: Path = LITE) -> dict[str, dict]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows = {r["instance_id"]: r for r in map(json.loads, f) if r["instance_id"] in ids}
    missing = sorted(set(ids) - set(rows))
    if missing:
        raise KeyError(f"not in {path}: {', '.join(missing)}")
    return rows


def lite_on_sdist(*ids: str, mirror_dir: Path, work_dir: Path | None = None,
                  table_only: bool = False) -> tuple[Path, list[SWEInstance]]:
    """(mirror_dir, instances): each Lite row re-based on its repository's sdist tree, and
    `mirror_dir/owner__name.git` holding those commits. OVERRIDES apply unless `table_only`."""
    rows = lite_rows(list(ids))
    work_dir = Path(work_dir or tempfile.mkdtemp(prefix="sdist-repos-"))
    Path(mirror_dir).mkdir(parents=True, exist_ok=True)
    work_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for repo in dict.fromkeys(r["repo"] for r in rows.values()):
        name, release, version, date = SDISTS[repo]
        work = work_dir / repo.replace("/", "__")
        sdist_sha = snapshot(fetch_sdist(name, release), work, date)
        for iid in ids:
            row = rows[iid]
            if row["repo"] != repo:
                continue
            base = before_fix(work, sdist_sha, row)
            moved = ALREADY_PASSING.get(iid, [])
            f2p = [t for t in json.loads(row["FAIL_TO_PASS"]) if t not in moved]
            p2p = json.loads(row["PASS_TO_PASS"]) + [t for t in moved if t not in json.loads(row["PASS_TO_PASS"])]
            out.append(SWEInstance.model_validate({**row, "base_commit": base, "version": version,
                                                   "environment_setup_commit": sdist_sha,
                                                   "FAIL_TO_PASS": f2p, "PASS_TO_PASS": p2p,
                                                   **({} if table_only else OVERRIDES.get(repo, {}))}))
        bare = Path(mirror_dir) / f"{repo.replace('/', '__')}.git"
        if bare.exists():
            shutil.rmtree(bare)
        git(Path(mirror_dir), "clone", "-q", "--bare", "--no-local", str(work), bare.name)
    return Path(mirror_dir), out
