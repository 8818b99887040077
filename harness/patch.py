"""Candidate patches: parse and validate (unidiff), normalize and hash for dedupe, filter files.

unidiff drops the payload of `GIT binary patch` sections when it re-serializes, so
every operation that must give back an applicable diff slices the *raw* text at the
file boundaries unidiff reports (`diff_line_no`) instead of calling `str(PatchSet)`.
"""
from __future__ import annotations

import functools
import hashlib
import posixpath
import re
from dataclasses import dataclass
from typing import Callable

from unidiff import PatchedFile, PatchSet
from unidiff.errors import UnidiffParseError


class PatchError(ValueError):
    """The diff cannot be parsed, or touches paths outside the repository."""


@dataclass(frozen=True)
class FileDiff:
    path: str  # repository-relative path (the target for renames)
    paths: tuple[str, ...]  # every repository path the block reads or writes
    raw: str  # the block exactly as it came, binary payloads included
    parsed: PatchedFile


_HEADER_PATHS = re.compile(r"^(?:rename|copy) (?:from|to) (.+)$", re.M)
# a block that creates a symbolic link or changes one (deleting one is harmless)
_LINK_MODE = re.compile(r"^(?:new file mode|new mode|old mode) 120000$|^index \S+ 120000$", re.M)
_TEST_DIRS = {"test", "tests", "testing", "unittests"}
_TEST_FILE = re.compile(r"(^test_.*\.py$)|(.*_tests?\.py$)|(^conftest\.py$)|(^tests\.py$)")


def _strip_prefix(path: str) -> str:
    path = path.strip().strip('"')
    if path == "/dev/null":
        return ""
    return path[2:] if re.match(r"^[abciow12]/", path) else path


@functools.lru_cache(maxsize=512)  # hash, validate and filter all split the same candidate
def split(diff: str) -> tuple[FileDiff, ...]:
    """The diff's per-file blocks. Raises PatchError when unidiff cannot parse it."""
    if not diff.strip():
        return ()
    text = diff.replace("\r\n", "\n")
    if not text.endswith("\n"):
        text += "\n"
    try:
        parsed = PatchSet(text)
    except (UnidiffParseError, UnicodeDecodeError) as exc:
        raise PatchError(f"unparseable diff: {exc}") from exc
    if not parsed:
        raise PatchError("no file diffs found (expected unified diff headers --- a/... +++ b/...)")
    lines = text.splitlines(keepends=True)
    starts = [(f.diff_line_no or 1) - 1 for f in parsed] + [len(lines)]
    starts[0] = 0  # a preamble (commit message, prose) travels with the first block
    blocks = []
    for i, f in enumerate(parsed):
        raw = "".join(lines[starts[i]:starts[i + 1]])
        names = {_strip_prefix(f.source_file), _strip_prefix(f.target_file)}
        names |= {_strip_prefix(m) for m in _HEADER_PATHS.findall(raw)}
        names.discard("")
        blocks.append(FileDiff(_strip_prefix(f.path), tuple(sorted(names)), raw, f))
    return tuple(blocks)


def validate(diff: str) -> list[str]:
    """Reasons to refuse the diff ([] when it may be applied). The empty diff is valid."""
    try:
        blocks = split(diff)
    except PatchError as exc:
        return [str(exc)]
    problems = []
    for block in blocks:
        header = block.raw.split("\n@@", 1)[0]
        if _LINK_MODE.search(header):
            problems.append(f"refused symbolic link: {block.path} (a link can point the next write at a "
                            "protected file)")
        for path in block.paths:
            parts = path.split("/")
            if path.startswith("/") or ".." in parts or parts[0] in ("~", ".git") or "\\" in path:
                problems.append(f"refused path outside the repository: {path}")
    return problems


def touched_files(diff: str) -> list[str]:
    """Every repository path the diff reads or writes (renames give both), sorted."""
    return sorted({p for block in split(diff) for p in block.paths})


def is_test_path(path: str) -> bool:
    """SWE-bench-style guess at test files: test dirs, test_*.py, *_test.py, conftest.py."""
    parts = path.split("/")
    return bool(set(parts[:-1]) & _TEST_DIRS) or bool(_TEST_FILE.match(posixpath.basename(path)))


def drop_files(diff: str, drop: Callable[[str], bool]) -> tuple[str, list[str]]:
    """The diff without blocks whose any path satisfies `drop`, and the dropped paths."""
    kept, dropped = [], []
    for block in split(diff):
        if any(drop(p) for p in block.paths):
            dropped.append(block.path)
        else:
            kept.append(block.raw)
    return "".join(kept), dropped


def normalize(diff: str) -> str:
    """A canonical text for identity: files sorted by path, CRLF and trailing blanks gone,
    `index` lines and hunk section titles dropped. Two candidates that differ only in
    such noise normalize (and hash) alike and are verified once."""
    out = []
    for block in sorted(split(diff), key=lambda b: b.path):
        f = block.parsed
        if f.is_binary_file:
            body = [ln.rstrip() for ln in block.raw.splitlines() if not ln.startswith("index ")]
            out.append("\n".join(body).strip() + "\n")
            continue
        src = "/dev/null" if f.is_added_file else "a/" + _strip_prefix(f.source_file)
        tgt = "/dev/null" if f.is_removed_file else "b/" + _strip_prefix(f.target_file)
        out.append(f"--- {src}\n+++ {tgt}\n")
        for hunk in f:
            out.append(f"@@ -{hunk.source_start},{hunk.source_length} "
                       f"+{hunk.target_start},{hunk.target_length} @@\n")
            body = [(line.line_type or " ", line.value.rstrip()) for line in hunk
                    if line.line_type in ("+", "-", " ", "")]
            while body and body[-1] == (" ", ""):  # blank lines after the hunk are noise
                body.pop()
            out.extend(f"{kind}{value}\n" for kind, value in body)
    return "".join(out)


def patch_hash(diff: str) -> str:
    """sha256 (16 hex) of the normalized diff; unparseable text hashes as it stands."""
    try:
        canonical = normalize(diff)
    except PatchError:
        canonical = "\0raw\0" + diff
    return hashlib.sha256(canonical.encode("utf-8", "surrogateescape")).hexdigest()[:16]
