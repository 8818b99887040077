"""Candidate identity by meaning: one key for patches that make the same code.

`Normalizer(repo, commit, discard=...).key(patch)` is computed on the host, before any
container, from the repository mirror alone:
1. the edits the harness discards (`discard(path)`: protected test files) are dropped, so a
   candidate that only edits tests has the empty candidate's key;
2. the Python files the rest changes are rebuilt: their base-commit contents come from the
   mirror (`git cat-file`), the blocks are applied with `git apply` (the harness's first
   apply step), and each changed file is parsed; its key is `ast.dump` of the module, which
   knows nothing of whitespace, blank lines, comments or hunk layout (Agentless dedupes its
   samples the same way);
3. everything else (non-Python files, binary or mode changes, a file that does not parse
   or does not apply here, files the image's install edits: `text_only`) keeps today's
   textual normalization of its block (harness.patch.normalize).
Two patches with equal keys turn the base commit into the same programs, so they get one
verification. Limit: a test that reads source text (line numbers, `inspect.getsource`,
comments) could tell such patches apart; SWE-bench tests practically never do.
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Callable

from harness import patch as patches

_MODE_LINE = re.compile(r"^(?:old mode|new mode|new file mode|deleted file mode) \d+$", re.M)


def _digest(items: list) -> str:
    text = json.dumps(items, sort_keys=True, ensure_ascii=False)
    return "s" + hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


EMPTY_KEY = _digest([])  # the empty candidate's key (and that of test-only candidates)


class Normalizer:
    """Keys for candidates against one base commit of one repository (None: textual only)."""

    def __init__(self, repo: str | os.PathLike | None, commit: str, *,
                 discard: Callable[[str], bool] = lambda path: False,
                 text_only: Callable[[str], bool] = lambda path: False):
        self.repo = Path(repo) if repo is not None else None
        self.commit, self.discard, self.text_only = commit, discard, text_only
        self._blobs: dict[str, bytes | None] = {}
        self._lock = threading.Lock()
        self.semantic_files = 0  # Python files keyed by their AST (for reports and tests)
        self._memo: dict[str, str] = {}  # patch digest -> key (the loop and a worker both ask)

    def key(self, patch: str) -> str:
        """The candidate's identity; malformed text keeps a key of its own text."""
        digest = hashlib.sha256(patch.encode("utf-8", "surrogateescape")).hexdigest()
        with self._lock:
            found = self._memo.get(digest)
        if found is None:
            try:
                found = self._key(patch)
            except Exception:  # never let identity sink a batch: the textual key is always safe
                found = "text:" + patches.patch_hash(patch)
            with self._lock:
                if len(self._memo) > 4096:
                    self._memo.clear()
                self._memo[digest] = found
        return found

    def _key(self, patch: str) -> str:
        if patches.validate(patch):  # unparseable, or paths outside the repository: never applied
            return "raw:" + patches.patch_hash(patch)
        blocks = patches.split(patch)
        kept = [b for b in blocks if not any(self.discard(p) for p in b.paths)]
        items: list = []
        code = [b for b in kept if self._is_code(b)]
        rebuilt = self._rebuild(code) if code else None
        as_code = {id(b) for b in code} if rebuilt is not None else set()
        for b in kept:
            if id(b) in as_code:
                continue
            items.append(["text", patches.normalize(b.raw)])
        if rebuilt is not None:
            items.extend(rebuilt)
        items.sort(key=lambda item: json.dumps(item, ensure_ascii=False))
        return _digest(items)

    # ------------------------------------------------------------------------------------
    def _is_code(self, block: patches.FileDiff) -> bool:
        return (self.repo is not None and block.path.endswith(".py") and not block.parsed.is_binary_file
                and not _MODE_LINE.search(_header(block.raw)) and not any(self.text_only(p) for p in block.paths))

    def _base(self, path: str) -> bytes | None:
        with self._lock:
            if path not in self._blobs:
                proc = subprocess.run(["git", "--git-dir", str(_git_dir(self.repo)), "cat-file", "blob",
                                       f"{self.commit}:{path}"], capture_output=True, timeout=120)
                self._blobs[path] = proc.stdout if proc.returncode == 0 else None
            return self._blobs[path]

    def _rebuild(self, blocks: list[patches.FileDiff]) -> list | None:
        """[["ast", paths, dump], ...] for the blocks' files after applying them, or None when
        they do not apply or a result does not parse (the caller keys them as text)."""
        tmp = tempfile.mkdtemp(prefix="monkeys-normalize-")
        try:
            sources = {p for b in blocks for p in b.paths}
            for path in sources:
                data = self._base(path)
                if data is not None:
                    (Path(tmp) / path).parent.mkdir(parents=True, exist_ok=True)
                    (Path(tmp) / path).write_bytes(data)
            diff = "".join(b.raw for b in blocks).encode("utf-8", "surrogateescape")
            env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
            env["GIT_CEILING_DIRECTORIES"] = str(Path(tmp).parent)  # a plain directory, not a repo
            proc = subprocess.run(["git", "apply", "--whitespace=nowarn", "-"], input=diff, cwd=tmp,
                                  capture_output=True, timeout=120, env=env)
            if proc.returncode != 0:
                return None
            items, seen = [], set()
            for b in blocks:
                if b.path in seen:  # two blocks for one file: the file is keyed once, as it ends
                    continue
                seen.add(b.path)
                target = Path(tmp) / b.path
                if b.parsed.is_removed_file or not target.exists():
                    items.append(["deleted", list(b.paths)])
                    continue
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")  # SyntaxWarning for odd escapes in candidates
                        tree = ast.parse(target.read_bytes(), filename=b.path)
                except (SyntaxError, ValueError, RecursionError, MemoryError):
                    return None
                items.append(["ast", list(b.paths), ast.dump(tree)])
            with self._lock:
                self.semantic_files += len(items)
            return items
        except (OSError, subprocess.SubprocessError):
            return None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _header(raw: str) -> str:
    """The block's lines before its first hunk (where mode lines live)."""
    return raw.split("\n@@", 1)[0]


def _git_dir(path: Path) -> Path:
    return path / ".git" if (path / ".git").exists() else path


def for_instance(instance, repo_mirror: str | os.PathLike | None = None, spec=None) -> Normalizer:
    """The Normalizer the Verifier uses for `instance`: the harness's discarded test files,
    the files the image's install commands edit kept textual, the mirror found without
    cloning (none found: every file is keyed textually, test-file edits still dropped)."""
    from harness import repos, specs

    spec = spec or specs.resolve(instance)
    try:
        repo = repos.locate(instance.repo_path or instance.repo, repo_mirror, clone=False)
    except repos.RepoError:
        repo = None
    install = " ".join(spec.install)
    return Normalizer(repo, instance.base_commit, discard=lambda p: specs.is_protected(p, spec),
                      text_only=lambda p: p in install)
