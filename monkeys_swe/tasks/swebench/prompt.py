"""Prompts for `solve`: the editing prompt (issue + retrieved code -> SEARCH/REPLACE blocks) and the
optional localization prompt (issue + file list -> files to edit)."""
from __future__ import annotations

import re

from monkeys_swe.types import Messages

SYSTEM = "You are an expert software engineer. You fix issues in repositories by editing their code."

EDIT_FORMAT = """\
Answer with one or more SEARCH/REPLACE blocks, each like this:

path/to/file.py
<<<<<<< SEARCH
    return sum(values) / (len(values) + 1)
=======
    return sum(values) / len(values)
>>>>>>> REPLACE

Rules: the line before <<<<<<< SEARCH is the file's path. The SEARCH part must copy lines of the
file exactly, indentation included, and be just long enough to be unique. Edit only source
files, not tests. Keep the fix minimal."""

# The issue and the retrieved code: the start of every prompt about an issue (edits, tests).
ISSUE_CONTEXT = """\
We are fixing this issue in the repository {repo}:

<issue>
{issue}
</issue>

Relevant code from the repository:

<code>
{code}</code>

"""
EDIT_TEMPLATE = ISSUE_CONTEXT + "{edit_format}\n"

LOCALIZE_TEMPLATE = """\
We are fixing this issue in the repository {repo}:

<issue>
{issue}
</issue>

Repository files (most relevant first):
{files}

Which files need to be edited to fix the issue? Answer with at most {k} paths from the list,
one per line, most important first, and nothing else."""


def edit_messages(repo: str, issue: str, code: str) -> Messages:
    user = EDIT_TEMPLATE.format(repo=repo, issue=issue.strip(), code=code, edit_format=EDIT_FORMAT)
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def localize_messages(repo: str, issue: str, files: list[str], k: int = 3) -> Messages:
    user = LOCALIZE_TEMPLATE.format(repo=repo, issue=issue.strip(), files="\n".join(files), k=k)
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def parse_localization(text: str, files: list[str], k: int = 3) -> list[str]:
    """The listed paths the answer names, in its order. A bare file name counts when unambiguous,
    and so does a dotted module path (`calc.ops.mean` -> calc/ops.py), which small models prefer."""
    by_name: dict[str, list[str]] = {}
    for f in files:
        by_name.setdefault(f.rsplit("/", 1)[-1], []).append(f)
    known, found = set(files), []

    def resolve(token: str) -> str | None:
        token = token.strip("./`")
        if token in known:
            return token
        if len(by_name.get(token, [])) == 1:
            return by_name[token][0]
        parts = token.split(".")
        for i in range(len(parts), 1, -1):  # longest module prefix that names a listed file
            tail = "/".join(parts[:i]) + ".py"
            hits = [f for f in files if f == tail or f.endswith("/" + tail)]
            if len(hits) == 1:
                return hits[0]
        return None

    for token in re.findall(r"[\w./-]+\.\w+", text):
        path = resolve(token)
        if path and path not in found:
            found.append(path)
    return found[:k]
