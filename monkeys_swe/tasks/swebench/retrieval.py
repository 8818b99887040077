"""Which code to show the model: BM25 (bm25s) over the repository at the base commit.

Files are read with git from the mirror (or the user's repository), never from a container,
so retrieval costs no Docker time and sees exactly the tree the patch will apply to.
Files are cut into line windows; the issue text is the query; files are ranked by their best
window and added to the context whole while they fit the token budget, else as their best
windows. Test files are left out: edits to them are discarded by the harness anyway.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import git

from harness.patch import is_test_path
from harness.repos import git_dir

# Code only: docs and changelogs share the words but are rarely what a fix edits.
SOURCE_SUFFIXES = (".py", ".pyi", ".pyx", ".js", ".ts", ".c", ".h", ".cpp", ".go", ".rs", ".java", ".rb")
CHUNK_LINES = 40
MAX_FILE_BYTES = 400_000  # generated or vendored blobs are not what an issue is about
CHARS_PER_TOKEN = 3.2  # code tokenizes densely; erring low keeps prompts inside the window


def count_tokens(text: str) -> int:
    """A tokenizer-free estimate (prompts go to many different models)."""
    return int(len(text) / CHARS_PER_TOKEN) + 1


class RepoSnapshot:
    """Read-only view of one commit of a git repository (bare mirror or working repo).

    Reads go through GitPython: one persistent `git cat-file --batch` process
    per snapshot answers every file read (not a git process per file); a lock serializes the
    run loop's and the verify workers' reads on it. `close()` ends the process."""

    def __init__(self, repo: str | Path, commit: str):
        self.git_dir, self.commit = git_dir(Path(repo)), commit
        # GIT_DIR explicitly: snapshots may lack `core.bare`, and GitPython would then look upwards
        self._git = git.Git(str(self.git_dir))
        self._git.update_environment(GIT_DIR=str(self.git_dir))
        self._lock = threading.Lock()

    @cached_property
    def files(self) -> tuple[str, ...]:
        with self._lock:
            out = self._git.ls_tree("-r", "-z", "--name-only", self.commit)
        return tuple(p for p in out.split("\0") if p)

    @lru_cache(maxsize=4096)
    def read(self, path: str) -> str | None:
        """The file's text at the commit, None when it is not there (or is not a text file)."""
        if "\n" in path:  # the batch protocol is line-based
            return None
        with self._lock:
            try:
                _, kind, _, data = self._git.get_object_data(f"{self.commit}:{path}")
            except ValueError:  # "missing": no such path at this commit
                return None
        if kind != b"blob" or b"\0" in data[:8000]:
            return None
        return data.decode("utf-8", "surrogateescape")

    def read_many(self, paths: list[str]) -> dict[str, str]:
        """Many files through the same persistent `cat-file --batch` process."""
        texts = {p: self.read(p) for p in paths}
        return {p: t for p, t in texts.items() if t is not None}

    def close(self) -> None:
        with self._lock:
            self._git.clear_cache()  # ends the persistent cat-file process


def source_files(snapshot: RepoSnapshot) -> list[str]:
    return [p for p in snapshot.files if p.endswith(SOURCE_SUFFIXES) and not is_test_path(p)]


def _code_words(text: str) -> str:
    """Identifiers also as their parts (snake_case, CamelCase), so 'get_app' matches 'app'."""
    parts = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text)
    extra = [w for ident in parts if "_" in ident or ident != ident.lower()
             for w in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", ident)]
    return text + "\n" + " ".join(extra)


@dataclass
class Chunk:
    path: str
    start: int  # 0-based first line
    end: int  # exclusive


@dataclass
class Context:
    files: list[tuple[str, str]] = field(default_factory=list)  # (path, shown text)
    tokens: int = 0

    def render(self) -> str:
        return "".join(f"[start of {p}]\n{t}{'' if t.endswith(chr(10)) else chr(10)}[end of {p}]\n\n"
                       for p, t in self.files)

    @property
    def paths(self) -> list[str]:
        return [p for p, _ in self.files]


def rank_chunks(texts: dict[str, str], query: str, k: int = 200) -> list[tuple[Chunk, float]]:
    import bm25s

    chunks, corpus = [], []
    for path, text in texts.items():
        lines = text.splitlines(keepends=True)
        for start in range(0, max(len(lines), 1), CHUNK_LINES):
            chunk = Chunk(path, start, min(start + CHUNK_LINES, len(lines)))
            chunks.append(chunk)
            corpus.append(_code_words(path + "\n" + "".join(lines[chunk.start:chunk.end])))
    if not chunks:
        return []
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(corpus, stopwords="en", show_progress=False), show_progress=False)
    ids, scores = retriever.retrieve(bm25s.tokenize([_code_words(query)], stopwords="en", show_progress=False),
                                     k=min(k, len(chunks)), show_progress=False)
    return [(chunks[int(i)], float(s)) for i, s in zip(ids[0], scores[0]) if s > 0]


def rank_files(snapshot: RepoSnapshot, query: str) -> tuple[list[str], dict[str, str], list[tuple[Chunk, float]]]:
    """Files by their best chunk's score, the texts read, and the ranked chunks."""
    paths = source_files(snapshot)
    texts = {p: t for p, t in snapshot.read_many(paths).items() if len(t) <= MAX_FILE_BYTES}
    ranked = rank_chunks(texts, query)
    order = list(dict.fromkeys(c.path for c, _ in ranked))
    return order, texts, ranked


def build_context(snapshot: RepoSnapshot, query: str, budget_tokens: int,
                  prefer: list[str] | None = None) -> Context:
    """Fit the most relevant code into `budget_tokens`: the best windows across files, greedily,
    shown per file in file order (a file whose windows were all picked is shown whole).
    Files in `prefer` (the model's localization) go first, whole when they fit."""
    order, texts, ranked = rank_files(snapshot, query)
    preferred = [p for p in dict.fromkeys(prefer or []) if p in texts]
    picked: dict[str, set[int]] = {}
    used = 0

    def take(path: str, starts: list[int]) -> None:
        nonlocal used
        lines = texts[path].splitlines(keepends=True)
        for start in starts:
            if start in picked.get(path, set()):
                continue
            cost = count_tokens("".join(lines[start:start + CHUNK_LINES])) + 2
            cost += 0 if path in picked else count_tokens(path) + 8
            if used + cost > budget_tokens:
                continue
            picked.setdefault(path, set()).add(start)
            used += cost

    for path in preferred:
        n = len(texts[path].splitlines())
        take(path, list(range(0, max(n, 1), CHUNK_LINES)))
    for chunk, _ in ranked:
        if budget_tokens - used < 50:
            break
        take(chunk.path, [chunk.start])
    ctx = Context(tokens=used)
    for path in preferred + [p for p in order if p not in preferred]:
        if path not in picked:
            continue
        lines = texts[path].splitlines(keepends=True)
        parts, prev = [], 0
        for start in sorted(picked[path]):
            parts.append(("...\n" if start > prev else "") + "".join(lines[start:start + CHUNK_LINES]))
            prev = start + CHUNK_LINES
        ctx.files.append((path, "".join(parts) + ("...\n" if prev < len(lines) else "")))
    return ctx
