"""Repository sources: a local mirror directory, a local working repo, or a clone URL.

Mirror convention (`--repo-mirror DIR`): for SWE-bench repo "owner/name", the first of
  DIR/owner__name.git, DIR/owner__name, DIR/name.git, DIR/name, DIR/owner/name.git, DIR/owner/name
that is a git repository (bare or not). `owner__name` is the prefix of SWE-bench
instance ids, so `git clone --mirror https://github.com/pallets/flask DIR/pallets__flask.git`
serves every pallets__flask-* instance. Without a mirror, repositories are cloned once
into ~/.cache/monkeys-swe/mirrors/ (needs network).
"""
from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
CACHE = Path(os.environ.get("MONKEYS_SWE_CACHE", "~/.cache/monkeys-swe")).expanduser()


class RepoError(RuntimeError):
    pass


def _git(repo: Path, *args: str, text: bool = True, timeout: float = 300):
    return subprocess.run(["git", "--git-dir", str(git_dir(repo)), *args], check=True,
                          capture_output=True, text=text, timeout=timeout).stdout


def git_dir(path: Path) -> Path:
    return path / ".git" if (path / ".git").exists() else path


def _is_repo(path: Path) -> bool:
    return path.is_dir() and ((path / ".git").exists() or (path / "objects").is_dir())


def candidates(repo: str, mirror_dir: Path) -> list[Path]:
    owner, _, name = repo.partition("/")
    return [mirror_dir / f"{owner}__{name}.git", mirror_dir / f"{owner}__{name}",
            mirror_dir / f"{name}.git", mirror_dir / name,
            mirror_dir / owner / f"{name}.git", mirror_dir / owner / name]


def locate(repo: str, mirror_dir: str | os.PathLike | None, *, clone: bool = True) -> Path:
    """A local git repository holding `repo`'s history."""
    if os.path.isabs(repo) and _is_repo(Path(repo)):
        return Path(repo)
    if mirror_dir is not None:
        found = [p for p in candidates(repo, Path(mirror_dir).expanduser()) if _is_repo(p)]
        if found:
            return found[0]
        raise RepoError(f"no mirror of {repo} in {mirror_dir} (expected e.g. "
                        f"{candidates(repo, Path(mirror_dir))[0]})")
    cached = CACHE / "mirrors" / f"{repo.replace('/', '__')}.git"
    if _is_repo(cached):
        return cached
    if not clone:
        raise RepoError(f"no local copy of {repo}; pass --repo-mirror DIR")
    cached.parent.mkdir(parents=True, exist_ok=True)
    url = f"https://github.com/{repo}.git"
    try:
        subprocess.run(["git", "clone", "--mirror", "--quiet", url, str(cached)], check=True,
                       capture_output=True, text=True, timeout=900)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        raise RepoError(f"cannot clone {url}; pass --repo-mirror DIR with a local mirror") from exc
    return cached


def archive(repo_path: Path, commit: str, *, mirror_dir: str | os.PathLike | None = None,
            replace: dict[str, bytes | None] | None = None) -> bytes:
    """The tree at `commit` as a tar stream (tracked files), submodules included when their
    commits can be found (see `submodules`). Raises RepoError naming what is missing: the
    commit, or the files whose objects the mirror lacks. `replace`: paths whose content is
    given here instead (None: left out), for files the mirror lacks (`harness.blobs`)."""
    try:
        _git(repo_path, "cat-file", "-e", f"{commit}^{{commit}}")
    except subprocess.CalledProcessError as exc:
        raise RepoError(f"commit {commit} not found in {repo_path}") from exc
    try:
        data = (_archive_replaced(repo_path, commit, replace) if replace
                else _git(repo_path, "archive", "--format=tar", commit, text=False))
    except subprocess.CalledProcessError as exc:
        raise RepoError(_missing_objects(repo_path, commit, exc)) from exc
    subs = submodules(repo_path, commit, mirror_dir=mirror_dir)
    found = [s for s in subs if s.source is not None]
    for s in subs:
        if s.source is None:
            log.warning("%s@%s: submodule %s (%s @ %s) is not in the mirror directory; the tree is "
                        "built without it", repo_path.name, commit[:12], s.path, s.url, s.commit[:12])
    return _with_submodules(data, found) if found else data


def _archive_replaced(repo_path: Path, commit: str, replace: dict[str, bytes | None]) -> bytes:
    """`git archive` of `commit`'s tree with some paths' content replaced or left out. The new
    objects go to a temporary object directory (the mirror itself is never written)."""
    with tempfile.TemporaryDirectory(prefix="monkeys-swe-tree-") as tmp:
        env = {**os.environ, "GIT_INDEX_FILE": os.path.join(tmp, "index"),
               "GIT_OBJECT_DIRECTORY": os.path.join(tmp, "objects"),
               "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(git_dir(repo_path) / "objects")}
        os.makedirs(env["GIT_OBJECT_DIRECTORY"])

        def git(*args: str, data: bytes | None = None) -> bytes:
            return subprocess.run(["git", "--git-dir", str(git_dir(repo_path)), *args], check=True, env=env,
                                  input=data, capture_output=True, timeout=300).stdout

        git("read-tree", commit)
        for path, content in replace.items():
            if content is None:
                git("update-index", "--force-remove", "--", path)
                continue
            sha = git("hash-object", "-w", "--stdin", data=content).decode().strip()
            git("update-index", "--add", "--cacheinfo", f"100644,{sha},{path}")
        tree = git("write-tree").decode().strip()
        return git("archive", "--format=tar", tree)


def missing_files(repo_path: Path, commit: str) -> list[str] | None:
    """Files of `commit` whose content the mirror lacks ([] when the tree is whole; None when
    the tree itself cannot be listed)."""
    try:
        listing = _git(repo_path, "ls-tree", "-r", "-z", commit)
    except subprocess.CalledProcessError:
        return None
    blobs = {}
    for entry in listing.split("\0"):
        meta, _, path = entry.partition("\t")
        parts = meta.split()
        if len(parts) == 3 and parts[1] == "blob":
            blobs.setdefault(parts[2], []).append(path)
    checked = subprocess.run(["git", "--git-dir", str(git_dir(repo_path)), "cat-file", "--batch-check"],
                             input="\n".join(blobs) + "\n", capture_output=True, text=True, timeout=300).stdout
    return [blobs[line.split()[0]][0] for line in checked.splitlines() if line.endswith(" missing")]


def _missing_objects(repo_path: Path, commit: str, exc: subprocess.CalledProcessError) -> str:
    """Which files of `commit` the mirror lacks (partial clones, snapshots without big blobs)."""
    stderr = (exc.stderr or b"").decode("utf-8", "replace").strip().splitlines()
    missing = missing_files(repo_path, commit)
    if missing is None:
        return (f"cannot archive {commit} from {repo_path}: the mirror lacks one of its tree objects "
                f"({stderr[-1] if stderr else 'git archive failed'})")
    if not missing:
        return f"cannot archive {commit} from {repo_path}: {stderr[-1] if stderr else 'git archive failed'}"
    more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
    return (f"the mirror {repo_path} lacks the content of {missing[0]}{more} at {commit[:12]} "
            f"(a partial or size-limited copy); fetch the full repository")


@dataclass
class Submodule:
    path: str
    commit: str
    url: str
    source: Path | None  # a local repository holding `commit`, None when none was found


def submodules(repo_path: Path, commit: str, *, mirror_dir: str | os.PathLike | None = None) -> list[Submodule]:
    """The commit's submodules (gitlinks named in .gitmodules), each with a local repository
    holding its commit: the mirror's own `modules/<name>`, or the mirror directory's copy of
    the submodule's repository (`owner__name.git` from its URL, as for `locate`)."""
    try:
        links = [line.split(None, 3) for line in _git(repo_path, "ls-tree", "-r", commit).splitlines()
                 if line.startswith("160000 ")]
    except subprocess.CalledProcessError:
        return []
    if not links:
        return []
    try:
        config = _git(repo_path, "config", "--blob", f"{commit}:.gitmodules", "--list")
    except subprocess.CalledProcessError:
        config = ""
    names, urls = {}, {}
    for line in config.splitlines():
        k, _, v = line.partition("=")
        m = re.match(r"submodule\.(.+)\.(path|url)$", k)
        if m:
            (names if m.group(2) == "path" else urls)[m.group(1)] = v
    by_path = {p: n for n, p in names.items()}
    mirror_dir = Path(mirror_dir) if mirror_dir else Path(repo_path).parent
    found = []
    for _, _, sha, path in links:
        name = by_path.get(path, path)
        url = urls.get(name, "")
        places = [git_dir(repo_path) / "modules" / name]
        m = re.search(r"[:/]([^/:]+)/([^/]+?)(?:\.git)?/?$", url)
        if m:
            places += candidates(f"{m.group(1)}/{m.group(2)}", mirror_dir)
        source = next((p for p in places if _is_repo(p) and _has_commit(p, sha)), None)
        found.append(Submodule(path, sha, url, source))
    return found


def _has_commit(repo: Path, sha: str) -> bool:
    try:
        _git(repo, "cat-file", "-e", f"{sha}^{{commit}}")
        return True
    except subprocess.CalledProcessError:
        return False


def _with_submodules(data: bytes, subs: list[Submodule]) -> bytes:
    """One tar: the superproject's members, then each submodule's tree under its path."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        streams = [(data, "")] + [(archive(s.source, s.commit), s.path.rstrip("/") + "/") for s in subs]
        for stream, prefix in streams:
            with tarfile.open(fileobj=io.BytesIO(stream), mode="r") as src:
                for member in src:
                    if prefix and member.name in ("pax_global_header",):
                        continue
                    fobj = src.extractfile(member) if member.isfile() else None
                    member.name = prefix + member.name
                    if member.islnk():
                        member.linkname = prefix + member.linkname
                    tar.addfile(member, fobj)
    return out.getvalue()


def nearest_tag(repo_path: Path, commit: str) -> str | None:
    """The name of the nearest tag reachable from `commit`."""
    try:
        return _git(repo_path, "describe", "--tags", "--abbrev=0", commit).strip() or None
    except subprocess.CalledProcessError:
        return None


def describe(repo_path: Path, commit: str) -> str | None:
    """The nearest tag's version, for setuptools_scm (the image's repo has no history or tags)."""
    tag = nearest_tag(repo_path, commit)
    return (tag.lstrip("v") or None) if tag else None
