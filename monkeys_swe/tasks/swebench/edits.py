"""Completions -> unified diffs: SEARCH/REPLACE blocks (Aider / Agentless style, the format
prompt.EDIT_FORMAT asks for: a path line, then SEARCH / ======= / REPLACE markers) or a raw diff.

Models quote code far more reliably than they count hunk lines, so SEARCH/REPLACE is the
format we ask for; the diff is then computed here against the real file at the base commit.
Every way an edit can be wrong (no block, search text not in the file, a Python syntax
error after the edit, a path outside the repository) raises EditError with a one-line
reason, which the task stores as a "malformed" verdict.
"""
from __future__ import annotations

import ast
import difflib
import re
from dataclasses import dataclass
from typing import Callable

from harness import patch as patches

ReadFile = Callable[[str], "str | None"]  # repo path -> text at the base commit, None if absent

_SEARCH = re.compile(r"^\s*<{5,9}\s*SEARCH\s*$")
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_REPLACE = re.compile(r"^\s*>{5,9}\s*REPLACE\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_DIFF_FENCE = re.compile(r"```(?:diff|patch)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_DIFF_START = re.compile(r"^(diff --git |--- (?:a/)?\S)", re.M)


class EditError(ValueError):
    """The completion holds no usable edit; the message says why (stored as the verdict's error)."""


@dataclass(frozen=True)
class SearchReplace:
    path: str
    search: str
    replace: str


def _clean_path(line: str) -> str | None:
    """The file name on the line above a block: `### a/b.py`, `a/b.py:`, `**File: a/b.py**`..."""
    name = line.strip().strip("#*`'\" ").strip()
    name = re.sub(r"^(?:file(?:name)?|path)\s*:\s*", "", name, flags=re.I).rstrip(":").strip("`'\" ")
    if name.startswith(("a/", "b/")) and "/" in name[2:]:
        name = name[2:]
    return name if name and " " not in name and re.search(r"[./]", name) else None


def parse_search_replace(text: str) -> list[SearchReplace]:
    lines = text.replace("\r\n", "\n").split("\n")
    blocks: list[SearchReplace] = []
    path: str | None = None
    i = 0
    while i < len(lines):
        if not _SEARCH.match(lines[i]):
            i += 1
            continue
        j = i - 1  # the path is the closest line above that is neither blank nor a fence
        while j >= 0 and (not lines[j].strip() or _FENCE.match(lines[j])):
            j -= 1
        named = _clean_path(lines[j]) if j >= 0 else None
        path = named or path
        if path is None:
            raise EditError("a SEARCH block without a file path above it")
        k = i + 1
        while k < len(lines) and not _DIVIDER.match(lines[k]):
            k += 1
        m = k + 1
        while m < len(lines) and not _REPLACE.match(lines[m]):
            m += 1
        if m >= len(lines):
            raise EditError(f"unterminated SEARCH/REPLACE block for {path}")
        search, replace = lines[i + 1:k], lines[k + 1:m]
        blocks.append(SearchReplace(path, "".join(s + "\n" for s in search), "".join(r + "\n" for r in replace)))
        i = m + 1
    return blocks


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _replace_once(content: str, search: str, replace: str) -> str | None:
    """Replace the first match of `search`; exact first, then tolerant of trailing whitespace
    and of a uniformly different indentation (small models often drop the leading spaces)."""
    if search in content:
        return content.replace(search, replace, 1)
    want = search.rstrip("\n").split("\n")
    while want and not want[0].strip():
        want.pop(0)
    if not want:
        return None
    have = content.splitlines(keepends=True)
    new_lines = replace.splitlines(keepends=True)
    for start in range(len(have) - len(want) + 1):
        window = have[start:start + len(want)]
        if all(w.rstrip() == s.rstrip() for w, s in zip(window, want)):
            return "".join(have[:start] + new_lines + have[start + len(want):])
        if all(w.strip() == s.strip() for w, s in zip(window, want)):
            have_ind, want_ind = _indent(window[0]), _indent(want[0])
            if have_ind.endswith(want_ind):
                extra = have_ind[: len(have_ind) - len(want_ind)]
                fixed = [extra + r if r.strip() else r for r in new_lines]
            elif want_ind.endswith(have_ind):
                cut = len(want_ind) - len(have_ind)
                fixed = [r[cut:] if r[:cut].strip() == "" else r.lstrip() for r in new_lines]
            else:
                continue
            return "".join(have[:start] + fixed + have[start + len(want):])
    return None


def _check_path(path: str) -> None:
    parts = path.split("/")
    if path.startswith("/") or ".." in parts or parts[0] in ("~", ".git") or "\\" in path:
        raise EditError(f"refused path outside the repository: {path}")


def _check_python(path: str, before: str | None, after: str) -> None:
    if not path.endswith(".py"):
        return
    if before is not None:
        try:
            compile(before, path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            return  # the file never compiled on this Python: nothing to hold the edit to
    try:
        compile(after, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        where = f" line {exc.lineno}" if getattr(exc, "lineno", None) else ""
        raise EditError(f"{path}:{where} syntax error after the edit: {getattr(exc, 'msg', exc)}") from None


def apply_search_replace(blocks: list[SearchReplace], read: ReadFile) -> dict[str, tuple[str | None, str]]:
    """{path: (text at base or None for a new file, text after all its edits)}."""
    files: dict[str, tuple[str | None, str]] = {}
    for n, block in enumerate(blocks, 1):
        _check_path(block.path)
        if block.path not in files:
            original = read(block.path)
            files[block.path] = (original, original if original is not None else "")
        original, current = files[block.path]
        if not block.search.strip():
            if original is not None or current:
                raise EditError(f"block {n}: empty SEARCH for existing file {block.path}")
            files[block.path] = (None, block.replace)
            continue
        if original is None:
            raise EditError(f"block {n}: file not in the repository: {block.path}")
        updated = _replace_once(current, block.search, block.replace)
        if updated is None:
            first = block.search.strip().split("\n")[0][:80]
            raise EditError(f"block {n}: SEARCH text not found in {block.path}: {first!r}")
        files[block.path] = (original, updated)
    for path, (before, after) in files.items():
        _check_python(path, before, after)
    return files


def file_diff(path: str, before: str | None, after: str) -> str:
    """A git-style unified diff of one file (3 lines of context), applicable with `git apply`."""
    a = before.splitlines(keepends=True) if before is not None else []
    b = after.splitlines(keepends=True)
    head = f"diff --git a/{path} b/{path}\n" + ("new file mode 100644\n" if before is None else "")
    body = difflib.unified_diff(a, b, "/dev/null" if before is None else f"a/{path}", f"b/{path}", n=3)
    out = []
    for line in body:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return head + "".join(out)


def extract_diff(text: str) -> str | None:
    """A unified diff written in the completion: a ```diff fence, else from the first header on."""
    fenced = [m.group(1) for m in _DIFF_FENCE.finditer(text) if _DIFF_START.search(m.group(1))]
    if fenced:
        return "".join(f if f.endswith("\n") else f + "\n" for f in fenced)
    m = _DIFF_START.search(text)
    if not m or "\n+++ " not in text[m.start():]:
        return None
    body = text[m.start():]
    fence = re.search(r"^```", body, re.M)
    return body[: fence.start()] if fence else body


_CODE_FENCE = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)```", re.S)
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _span(node: ast.AST) -> tuple[int, int]:
    """0-based [start, end) lines of a def, decorators included."""
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1
    return start, node.end_lineno


def _reindent(lines: list[str], old: int, new: int) -> list[str]:
    if new == old:
        return lines
    if new > old:
        return [" " * (new - old) + ln if ln.strip() else ln for ln in lines]
    cut = old - new
    return [ln[cut:] if ln[:cut].strip() == "" else ln.lstrip() for ln in lines]


def code_block_edits(text: str, read: ReadFile, paths: list[str]) -> dict[str, tuple[str | None, str]]:
    """Whole functions or classes written out in code blocks replace the same-named definition
    in the given files (the retrieved context), when exactly one definition has that name.
    Small models answer this way far more often than with any edit syntax."""
    blocks = _CODE_FENCE.findall(text) or ["".join(ln for ln in text.splitlines(keepends=True) if not _FENCE.match(ln))]
    files: dict[str, tuple[str | None, str]] = {}
    for block in blocks:
        try:
            tree = ast.parse(block)
        except (SyntaxError, ValueError):
            continue
        block_lines = block.splitlines(keepends=True)
        for node in tree.body:
            if not isinstance(node, _DEFS):
                continue
            matches = []
            for path in paths:
                if not path.endswith(".py"):
                    continue
                current = files[path][1] if path in files else read(path)
                try:
                    file_tree = ast.parse(current or "")
                except (SyntaxError, ValueError):
                    continue
                matches += [(path, current, d) for d in ast.walk(file_tree)
                            if isinstance(d, _DEFS) and d.name == node.name and type(d) is type(node)]
            if len(matches) != 1:
                continue
            path, current, target = matches[0]
            lines = current.splitlines(keepends=True)
            start, end = _span(target)
            b_start, b_end = _span(node)
            new = _reindent(block_lines[b_start:b_end], node.col_offset, target.col_offset)
            if new and not new[-1].endswith("\n"):
                new[-1] += "\n"
            original = files[path][0] if path in files else current
            files[path] = (original, "".join(lines[:start] + new + lines[end:]))
    if not files:
        raise EditError("no SEARCH/REPLACE block or unified diff in the completion, and no code block "
                        "that rewrites a function or class of the shown files")
    for path, (before, after) in files.items():
        _check_python(path, before, after)
    return files


def _diffs(files: dict[str, tuple[str | None, str]], what: str) -> str:
    diffs = [file_diff(p, before, after) for p, (before, after) in sorted(files.items()) if before != after]
    if not diffs:
        raise EditError(f"the {what} change nothing")
    return "".join(diffs)


def completion_to_patch(text: str, read: ReadFile, context_files: list[str] = ()) -> tuple[str, str]:
    """(unified diff, edit format) for a completion; raises EditError when there is no usable edit.
    Formats, first found wins: SEARCH/REPLACE blocks, a unified diff, and (when `context_files`
    are given) code blocks rewriting whole functions of those files."""
    if any(_SEARCH.match(line) for line in text.splitlines()):
        return _diffs(apply_search_replace(parse_search_replace(text), read), "SEARCH/REPLACE blocks"), "search_replace"
    diff = extract_diff(text)
    if diff is not None:
        problems = patches.validate(diff)
        if problems:
            raise EditError(problems[0])
        return diff, "diff"
    if not context_files:
        raise EditError("no SEARCH/REPLACE block or unified diff in the completion")
    return _diffs(code_block_edits(text, read, list(context_files)), "code blocks"), "code_block"


def diff_to_search_replace(diff: str) -> str:
    """SEARCH/REPLACE blocks equivalent to a unified diff, one per hunk (e.g. to replay gold patches
    in the format models are asked for)."""
    out = []
    for block in patches.split(diff):
        for hunk in block.parsed:
            search = "".join(line.value for line in hunk if line.line_type in (" ", "-"))
            replace = "".join(line.value for line in hunk if line.line_type in (" ", "+"))
            out.append(f"{block.path}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n")
    return "\n".join(out)
