"""harness.patch and harness.instance: pure functions, no Docker."""
import json

import pytest

from harness import patch as P
from harness.instance import DataError, SWEInstance, load_instances
from harness_fixture import GOLD_EDIT, make_fixture_instance, make_patch


@pytest.fixture(scope="module")
def calc(tmp_path_factory):
    return make_fixture_instance(tmp_path_factory.mktemp("calc"))


def test_normalize_ignores_noise(calc):
    inst, _ = calc
    gold, tests = inst.patch, inst.test_patch
    h = P.patch_hash(gold)
    assert P.patch_hash(gold + "\n") == h
    assert P.patch_hash(gold.replace("\n", "\r\n")) == h
    assert P.patch_hash(gold.replace("len(values)\n", "len(values)   \n")) == h  # trailing blanks
    assert P.patch_hash(gold + tests) == P.patch_hash(tests + gold)  # file order
    assert P.patch_hash(gold) != P.patch_hash(tests)
    assert "index " not in P.normalize(gold)
    assert P.normalize(P.normalize(gold)) == P.normalize(gold)


def test_validate_refuses_paths_outside_repo():
    for path in ("../etc/x", "/etc/passwd", "a/../../x", ".git/config"):
        diff = f"--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-a\n+b\n".replace("a//", "/").replace("b//", "/")
        assert any("refused" in p for p in P.validate(diff)), path
    rename = ("diff --git a/x b/y\nsimilarity index 100%\nrename from x\nrename to ../y\n")
    assert P.validate(rename)
    assert P.validate("") == []
    assert P.validate("just prose, no diff\n")


def test_touched_files_and_drop_keep_binary_payload(calc):
    inst, mirror = calc
    binary = make_patch(mirror, {GOLD_EDIT[0]: "x = 1\n", "calc/blob.bin": bytes(range(256)),
                                 "tests/test_new.py": "def test_x():\n    pass\n"})
    assert "GIT binary patch" in binary
    assert P.touched_files(binary) == ["calc/blob.bin", "calc/ops.py", "tests/test_new.py"]
    kept, dropped = P.drop_files(binary, P.is_test_path)
    assert dropped == ["tests/test_new.py"]
    assert "GIT binary patch" in kept and "literal 256" in kept
    assert P.touched_files(kept) == ["calc/blob.bin", "calc/ops.py"]


@pytest.mark.parametrize("path,is_test", [
    ("tests/test_ops.py", True), ("sympy/core/tests/test_basic.py", True), ("conftest.py", True),
    ("pkg/foo_test.py", True), ("testing/x.py", True), ("calc/ops.py", False), ("src/latest.py", False)])
def test_is_test_path(path, is_test):
    assert P.is_test_path(path) is is_test


def test_instance_schema_and_loader(tmp_path, calc):
    inst, _ = calc
    row = inst.model_dump(exclude_none=True)
    row["FAIL_TO_PASS"] = json.dumps(row["FAIL_TO_PASS"])  # the HF export stores JSON strings
    row["PASS_TO_PASS"] = json.dumps(row["PASS_TO_PASS"])
    row["image_name"] = "ignored extra field"
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(row) + "\n")
    [loaded] = load_instances(path, ids=[inst.instance_id])
    assert loaded.FAIL_TO_PASS == inst.FAIL_TO_PASS and loaded.base_commit == inst.base_commit
    with pytest.raises(DataError, match="not in"):
        load_instances(path, ids=["nope__nope-1"])
    assert SWEInstance(instance_id="a", repo="o/n", base_commit="c").grade_by_exit_code

