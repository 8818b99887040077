"""harness.normalize: candidate keys by meaning, computed on the host from the mirror (no Docker)."""
from __future__ import annotations

import difflib

import pytest

from harness import normalize, patch as patches
from harness_fixture import BUGGY, FIXED, OPS, TESTS, gold_source, make_fixture_instance, make_patch

PATH = "calc/ops.py"


@pytest.fixture(scope="module")
def calc(tmp_path_factory):
    inst, mirror = make_fixture_instance(tmp_path_factory.mktemp("normalize"))
    return inst, mirror, normalize.for_instance(inst, mirror)


def diff(new: str, context: int = 3, path: str = PATH, old: str = OPS) -> str:
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), f"a/{path}", f"b/{path}",
                                        n=context))


# the gold fix written three other ways: comments, blank lines, spacing inside the expression
NOISY = gold_source().replace(FIXED, "    # divide by the count, not count + 1\n"
                                     "    return   sum( values ) / len(values)   # fixed\n\n") + "\n\n# end\n"


def test_whitespace_comments_and_hunk_layout_share_a_key(calc):
    inst, mirror, norm = calc
    gold = norm.key(inst.patch)
    variants = [make_patch(mirror, {PATH: NOISY}), diff(gold_source(), context=0), diff(gold_source(), context=7)]
    assert len({patches.patch_hash(v) for v in [inst.patch, *variants]}) == 4  # textually four candidates
    assert {norm.key(v) for v in variants} == {gold}  # by meaning, one
    assert norm.semantic_files >= 4


def test_different_code_and_docstrings_get_different_keys(calc):
    inst, mirror, norm = calc
    other = make_patch(mirror, {PATH: OPS.replace(BUGGY, "    return sum(values) / max(len(values), 1)\n")})
    doc = make_patch(mirror, {PATH: gold_source().replace("Arithmetic mean", "The arithmetic mean")})
    assert len({norm.key(inst.patch), norm.key(other), norm.key(doc)}) == 3


def test_test_file_edits_are_dropped_first(calc):
    inst, mirror, norm = calc
    tests_only = make_patch(mirror, {"tests/test_ops.py": TESTS + "\n\ndef test_more():\n    assert True\n"})
    both = make_patch(mirror, {PATH: gold_source(), "tests/test_ops.py": TESTS.replace("5", "6")})
    assert norm.key(tests_only) == norm.key("") == normalize.EMPTY_KEY
    assert norm.key(both) == norm.key(inst.patch)


def test_other_files_keep_the_textual_normalization(calc):
    inst, mirror, norm = calc
    readme = "calc: tiny arithmetic\n"
    a = diff("calc: tiny arithmetic helpers\n", path="README.md", old=readme)
    b = diff("calc: tiny arithmetic helpers   \n", path="README.md", old=readme)  # trailing blanks: noise
    c = diff("calc: tiny arithmetic  helpers\n", path="README.md", old=readme)  # inner spacing: not for text
    assert norm.key(a) == norm.key(b) != norm.key(c)
    # a Python file that does not parse after the patch is keyed by its text too
    broken1 = make_patch(mirror, {PATH: OPS.replace(BUGGY, "    return (sum(values)\n")})
    broken2 = make_patch(mirror, {PATH: OPS.replace(BUGGY, "    return (sum(values)  # oops\n")})
    assert norm.key(broken1) != norm.key(broken2)
    # a patch that does not apply to the base is keyed by its text (the verifier decides)
    stale = diff(gold_source(), old=OPS.replace("a + b", "b + a"))
    assert norm.key(stale) != norm.key(inst.patch)


def test_without_a_mirror_keys_are_textual_but_tests_still_dropped(calc, tmp_path):
    inst, mirror, _ = calc
    norm = normalize.for_instance(inst, tmp_path)  # an empty mirror directory: no repository found
    assert norm.repo is None
    assert norm.key(make_patch(mirror, {PATH: NOISY})) != norm.key(inst.patch)
    assert norm.key(make_patch(mirror, {"tests/test_ops.py": TESTS + "# x\n"})) == normalize.EMPTY_KEY


def test_malformed_and_unsafe_patches_are_never_applied(calc):
    inst, mirror, norm = calc
    assert norm.key("not a diff").startswith("raw:")
    escape = diff("x = 1\n", path="../../outside.py", old="")
    assert norm.key(escape).startswith("raw:")
