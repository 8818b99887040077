"""Repository sources: a local mirror directory, a local working repo, or a clone URL.

Mirror convention (`--repo-mirror DIR`): for SWE-bench repo "owner/name", the first of
  DIR/owner__name.git, DIR/owner__name, DIR/name.git, DIR/name, DIR/owner/name.git, DIR/owner/name
that is a git repository (bare or not). `owner__name` is the prefix of SWE-bench
instance ids, so `git clone --mirror https://github.com/pallets/flask DIR/pallets__flask.git`
serves every pallets__flask-* instance. Without a mirror, repositories are cloned once
into ~/.cache/monkeys-swe/mirrors/ (needs network).
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

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


def archive(repo_path: Path, commit: str) -> bytes:
    """The tree at `commit` as a tar stream (tracked files only)."""
    try:
        return _git(repo_path, "archive", "--format=tar", commit, text=False)
    except subprocess.CalledProcessError as exc:
        raise RepoError(f"commit {commit} not found in {repo_path}") from exc


def describe(repo_path: Path, commit: str) -> str | None:
    """The nearest tag, for setuptools_scm (the image's repo has no history or tags)."""
    try:
        tag = _git(repo_path, "describe", "--tags", "--abbrev=0", commit).strip()
    except subprocess.CalledProcessError:
        return None
    return tag.lstrip("v") or None
