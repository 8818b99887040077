"""SEARCH/REPLACE blocks and raw diffs -> unified diffs that `git apply` accepts."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.patch import patch_hash
from monkeys_swe.tasks.swebench.edits import (EditError, completion_to_patch, diff_to_search_replace, extract_diff,
                                     parse_search_replace)

OPS = '''def add(a, b):
    return a + b


def mean(values):
    """Arithmetic mean."""
    return sum(values) / (len(values) + 1)
'''
FILES = {"calc/ops.py": OPS, "README.md": "calc\n", "noeol.txt": "a\nb"}
read = FILES.get


def block(path: str, search: str, replace: str) -> str:
    return f"{path}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


GOOD = block("calc/ops.py", "    return sum(values) / (len(values) + 1)\n", "    return sum(values) / len(values)\n")


def git_apply(tmp_path: Path, files: dict[str, str], patch: str) -> dict[str, str]:
    """Apply for real in a scratch git repo and return the resulting files."""
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "apply", "-"], cwd=tmp_path, input=patch, text=True, check=True)
    return {str(p.relative_to(tmp_path)): p.read_text() for p in tmp_path.rglob("*") if p.is_file() and ".git" not in p.parts}


def test_search_replace_becomes_an_applicable_diff(tmp_path):
    patch, fmt = completion_to_patch("Fix:\n```python\n" + GOOD + "```\n", read)
    assert fmt == "search_replace"
    assert patch.startswith("diff --git a/calc/ops.py b/calc/ops.py\n--- a/calc/ops.py\n+++ b/calc/ops.py\n")
    after = git_apply(tmp_path, FILES, patch)
    assert after["calc/ops.py"] == OPS.replace("(len(values) + 1)", "len(values)")


def test_path_styles_and_fences_are_understood():
    for head in ("### calc/ops.py", "calc/ops.py:", "**File: calc/ops.py**", "`calc/ops.py`", "a/calc/ops.py"):
        text = GOOD.replace("calc/ops.py", head, 1)
        assert parse_search_replace(text)[0].path == "calc/ops.py", head
    fenced = "calc/ops.py\n```python\n" + GOOD.split("\n", 1)[1] + "```\n"
    assert parse_search_replace(fenced)[0].path == "calc/ops.py"


def test_identical_edits_written_differently_hash_alike():
    p1, _ = completion_to_patch("Here:\n" + GOOD, read)
    # no trailing spaces stripped, indentation lost by the model, different prose
    sloppy = block("calc/ops.py", "return sum(values) / (len(values) + 1)   \n", "return sum(values) / len(values)\n")
    p2, _ = completion_to_patch("I think this works.\n\n" + sloppy, read)
    assert patch_hash(p1) == patch_hash(p2)


def test_indentation_is_restored_when_the_model_drops_it(tmp_path):
    sloppy = block("calc/ops.py", '"""Arithmetic mean."""\nreturn sum(values) / (len(values) + 1)\n',
                   '"""Arithmetic mean (fixed)."""\nif not values:\n    return 0\nreturn sum(values) / len(values)\n')
    patch, _ = completion_to_patch(sloppy, read)
    after = git_apply(tmp_path, FILES, patch)["calc/ops.py"]
    assert after.endswith('    """Arithmetic mean (fixed)."""\n    if not values:\n        return 0\n'
                          '    return sum(values) / len(values)\n')


@pytest.mark.parametrize("text, reason", [
    ("I don't know how to fix this.", "no SEARCH/REPLACE block or unified diff"),
    (block("calc/ops.py", "    return total / count\n", "    return 0\n"), "SEARCH text not found"),
    (block("calc/ops.py", "    return sum(values) / (len(values) + 1)\n", "    return sum(values /\n"), "syntax error"),
    (block("calc/nope.py", "x\n", "y\n"), "file not in the repository"),
    (block("../etc/passwd", "root\n", "x\n"), "outside the repository"),
    (block("calc/ops.py", "    return a + b\n", "    return a + b\n"), "change nothing"),
    ("calc/ops.py\n<<<<<<< SEARCH\n    return a + b\n=======\n    return b + a\n", "unterminated"),
    ("<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", "without a file path"),
])
def test_invalid_edits_raise_edit_error(text, reason):
    with pytest.raises(EditError, match=reason):
        completion_to_patch(text, read)


def test_several_blocks_several_files_and_a_new_file(tmp_path):
    text = (GOOD + "\n" + block("README.md", "calc\n", "calc: tiny arithmetic\n")
            + "\n" + block("calc/extra.py", "", "def double(x):\n    return 2 * x\n"))
    patch, _ = completion_to_patch(text, read)
    after = git_apply(tmp_path, FILES, patch)
    assert after["README.md"] == "calc: tiny arithmetic\n"
    assert after["calc/extra.py"] == "def double(x):\n    return 2 * x\n"
    assert "len(values))" not in after["calc/ops.py"]


def test_file_without_final_newline(tmp_path):
    patch, _ = completion_to_patch(block("noeol.txt", "b\n", "c\n"), read)
    assert git_apply(tmp_path, FILES, patch)["noeol.txt"] == "a\nc\n"


def test_raw_unified_diff_is_accepted():
    diff = ("--- a/calc/ops.py\n+++ b/calc/ops.py\n@@ -7,1 +7,1 @@\n"
            "-    return sum(values) / (len(values) + 1)\n+    return sum(values) / len(values)\n")
    patch, fmt = completion_to_patch(f"Patch:\n```diff\n{diff}```\nDone.", read)
    assert fmt == "diff" and patch == diff
    assert extract_diff("prose\n" + diff) == diff
    with pytest.raises(EditError, match="outside the repository"):
        completion_to_patch(diff.replace("calc/ops.py", "../../x.py"), read)


def test_diff_to_search_replace_round_trips(tmp_path):
    patch, _ = completion_to_patch(GOOD, read)
    again, _ = completion_to_patch(diff_to_search_replace(patch), read)
    assert git_apply(tmp_path, FILES, again)["calc/ops.py"] == OPS.replace("(len(values) + 1)", "len(values)")


CART = '''class Cart:
    def __init__(self):
        self.items = []

    @property
    def total(self):
        return sum(self.items) + 1
'''
CODE_FILES = {**FILES, "shop/cart.py": CART, "shop/other.py": "def total(x):\n    return x\n"}


def test_code_block_rewriting_a_function_becomes_a_patch(tmp_path):
    answer = ("The bug is the + 1. Here is the corrected function:\n\n```python\ndef mean(values):\n"
              "    \"\"\"Arithmetic mean.\"\"\"\n    return sum(values) / len(values)\n```\n")
    patch, fmt = completion_to_patch(answer, CODE_FILES.get, ["calc/ops.py", "shop/cart.py"])
    assert fmt == "code_block"
    assert git_apply(tmp_path, CODE_FILES, patch)["calc/ops.py"] == OPS.replace("(len(values) + 1)", "len(values)")
    # SmolLM2's habit: the code, then a stray closing fence
    unopened = "def mean(values):\n    return sum(values) / len(values)\n```\n"
    assert completion_to_patch(unopened, CODE_FILES.get, ["calc/ops.py"])[1] == "code_block"


def test_code_block_method_is_reindented_into_its_class(tmp_path):
    answer = "```\n@property\ndef total(self):\n    return sum(self.items)\n```"
    # `total` is also a function in shop/other.py, but that file is not in the context
    patch, _ = completion_to_patch(answer, CODE_FILES.get, ["shop/cart.py"])
    assert git_apply(tmp_path, CODE_FILES, patch)["shop/cart.py"] == CART.replace(" + 1", "")
    with pytest.raises(EditError, match="no code block"):  # ambiguous: two definitions named total
        completion_to_patch(answer, CODE_FILES.get, ["shop/cart.py", "shop/other.py"])


def test_code_blocks_that_match_nothing_or_change_nothing_are_malformed():
    unchanged = "```python\ndef add(a, b):\n    return a + b\n\n\ndef helper():\n    pass\n```"
    with pytest.raises(EditError, match="code blocks change nothing"):
        completion_to_patch(unchanged, read, ["calc/ops.py"])
    with pytest.raises(EditError, match="no code block"):
        completion_to_patch("```python\ndef unrelated():\n    return 1\n```", read, ["calc/ops.py"])
    with pytest.raises(EditError, match="no code block"):  # a block that does not parse is no edit
        completion_to_patch("```python\ndef add(a, b):\n    return a +\n```", read, ["calc/ops.py"])
