"""Files a size-limited mirror lacks, filled from the project's own PyPI source releases.

The repository snapshots that can be brought to an offline machine drop blobs of 4 MiB and
more (astropy's 4.9 MB IERS table `eopc04.1962-now`; CPython's `Misc/svnmap.txt`), so
`git archive` of such a commit fails. A source distribution of the same project ships most
of those files. For each missing path this looks at the sdists of the releases nearest the
commit (`git describe`'s tag first, then the ones after it, then before), prefers one whose
file has exactly the wanted git blob, and otherwise takes the nearest release that has the
path. Every substitution is reported (`Fill.notes`): the image labels and every verdict's
environment detail carry it, and validation (gold and empty runs) still decides whether the
environment can judge. A path no release ships stays missing and the build fails naming it.
"""
from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import re
import subprocess
import tarfile
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from packaging.version import InvalidVersion, Version

from harness import repos, specs

log = logging.getLogger(__name__)
SDISTS = repos.CACHE / "sdists"
PYPI_NAMES = {"pylint-dev/astroid": "astroid", "sphinx-doc/sphinx": "Sphinx", "psf/requests": "requests",
              "pvlib/pvlib-python": "pvlib"}
MAX_RELEASES = 5  # sdists looked at per fill, nearest first


@dataclass
class Fill:
    files: dict[str, bytes] = field(default_factory=dict)  # path -> content put in its place
    notes: list[str] = field(default_factory=list)  # one line per substituted path
    unfilled: list[str] = field(default_factory=list)


def blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def wanted_blobs(source: Path, commit: str, paths: list[str]) -> dict[str, str]:
    out = subprocess.run(["git", "--git-dir", str(repos.git_dir(source)), "ls-tree", "-z", commit, "--", *paths],
                         check=True, capture_output=True, timeout=120).stdout.decode()
    found = {}
    for entry in filter(None, out.split("\0")):
        meta, _, path = entry.partition("\t")
        found[path] = meta.split()[2]
    return found


def pypi_name(repo: str) -> str | None:
    """The project's name on PyPI: only for repositories of the spec table (SWE-bench's), so
    a user's own repository is never filled from an unrelated package of the same name."""
    if repo in PYPI_NAMES:
        return PYPI_NAMES[repo]
    return repo.rsplit("/", 1)[-1] if repo in specs.table()["specs"] else None


def index_url() -> str:
    """The package index's simple API (PEP 691 JSON): PIP_INDEX_URL's when set, else PyPI's."""
    return (os.environ.get("MONKEYS_SWE_INDEX_URL") or os.environ.get("PIP_INDEX_URL")
            or "https://pypi.org/simple").rstrip("/")


def releases(name: str) -> list[tuple[Version, str, str]]:
    """(version, sdist URL, upload time) of `name`'s final releases that have an sdist, oldest first."""
    req = urllib.request.Request(f"{index_url()}/{name.lower()}/",
                                 headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            files = json.load(resp).get("files", [])
    except (OSError, ValueError) as exc:
        log.warning("cannot list %s's releases at %s: %s", name, index_url(), exc)
        return []
    found = {}
    for f in files:
        m = re.match(rf"^{re.escape(name)}-(.+)\.(tar\.gz|zip)$", f.get("filename", ""), re.I)
        if not m or f.get("yanked"):
            continue
        try:
            v = Version(m.group(1))
        except InvalidVersion:
            continue
        if not v.is_prerelease:
            found.setdefault(v, (v, f["url"], f.get("upload-time") or ""))
    return [found[v] for v in sorted(found)]


def nearest(found: list[tuple[Version, str, str]], date: str | None) -> list[tuple[Version, str, str]]:
    """Releases in the order tried: the first new ones after `date` (ISO; a backport to an older
    branch is not new), then the last ones before it."""
    if not date:
        return list(reversed(found))
    before = [r for r in reversed(found) if r[2] < date]
    after = sorted((r for r in found if r[2] >= date and (not before or r[0] > before[0][0])), key=lambda r: r[2])
    return after[:3] + before[:2] + after[3:] + before[2:]


def sdist(name: str, version: Version, url: str) -> Path | None:
    """The release's source distribution, downloaded once into the cache."""
    target = SDISTS / f"{name.lower()}-{version}" / url.rsplit("/", 1)[-1].split("#")[0]
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=300) as resp:
            data = resp.read()
    except OSError as exc:
        log.info("cannot download %s: %s", url, exc)
        return None
    tmp = target.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(target)
    return target


def read_member(archive: Path, path: str) -> bytes | None:
    """`path` (relative to the project root) from an sdist (.tar.gz or .zip), or None."""
    try:
        if archive.suffix == ".zip":
            with zipfile.ZipFile(archive) as z:
                names = [n for n in z.namelist() if n.split("/", 1)[-1] == path]
                return z.read(names[0]) if names else None
        with tarfile.open(archive) as t:
            for member in t:
                if member.isfile() and member.name.split("/", 1)[-1] == path:
                    return t.extractfile(member).read()
    except (OSError, tarfile.TarError, zipfile.BadZipFile) as exc:
        log.warning("cannot read %s: %s", archive, exc)
    return None


def fill_missing(repo: str, source: Path, commit: str, missing: list[str]) -> Fill:
    """Content for the files of `commit` that the mirror lacks, from the project's sdists."""
    fill = Fill()
    want = wanted_blobs(source, commit, missing)
    name = pypi_name(repo)
    date = subprocess.run(["git", "--git-dir", str(repos.git_dir(source)), "show", "-s", "--format=%cI", commit],
                          capture_output=True, text=True, timeout=60).stdout.strip()
    if date:
        date = datetime.datetime.fromisoformat(date).astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    best: dict[str, tuple[bytes, str]] = {}
    for version, url, _ in nearest(releases(name), date or None)[:MAX_RELEASES]:
        if all(p in best and best[p][1].startswith("exact") for p in missing):
            break
        archive = sdist(name, version, url)
        if archive is None:
            continue
        for path in missing:
            if path in best and best[path][1].startswith("exact"):
                continue
            data = read_member(archive, path)
            if data is None:
                continue
            exact = blob_sha(data) == want.get(path)
            if exact or path not in best:
                best[path] = (data, f"{'exact' if exact else 'nearest'} copy from {archive.name}")
    for path in missing:
        if path not in best:
            fill.unfilled.append(path)
            continue
        data, how = best[path]
        fill.files[path] = data
        fill.notes.append(f"{path}: the mirror lacks blob {want.get(path, '?')[:12]}; {how}"
                          + ("" if how.startswith("exact") else f" (blob {blob_sha(data)[:12]})"))
    return fill


def archive_filled(repo: str, source: Path, commit: str, *, mirror_dir: str | os.PathLike | None = None
                   ) -> tuple[bytes, list[str]]:
    """(tar of `commit`, notes): `repos.archive`, and when the mirror lacks files, the same
    tree with each filled from a release (`fill_missing`); RepoError when one cannot be, or
    when `repo` is not a known project ("" for a user's own repository: never filled)."""
    try:
        return repos.archive(source, commit, mirror_dir=mirror_dir), []
    except repos.RepoError:
        missing = repos.missing_files(source, commit)
        if not missing or pypi_name(repo) is None:
            raise
    fill = fill_missing(repo, source, commit, missing)
    if fill.unfilled:
        more = f" and {len(fill.unfilled) - 1} more" if len(fill.unfilled) > 1 else ""
        raise repos.RepoError(f"the mirror {source} lacks the content of {fill.unfilled[0]}{more} at "
                              f"{commit[:12]} and no {pypi_name(repo)} source release ships it; "
                              f"fetch the full repository")
    for note in fill.notes:
        log.warning("%s@%s: %s", repo, commit[:12], note)
    return repos.archive(source, commit, mirror_dir=mirror_dir, replace=fill.files), fill.notes
