"""The one reader of JSON record files (instances, predictions, sample sets, task data)."""
from __future__ import annotations

import gzip
import json

import pytest

from harness.records import RecordsError, read_json_records


@pytest.mark.parametrize("text", [
    '[{"a": 1}, {"a": 2}]',                      # a JSON list
    '[\n  {"a": 1},\n  {"a": 2}\n]\n',           # pretty-printed
    '{"a": 1}\n{"a": 2}\n',                      # JSONL
    '\n{"a": 1}\n\n{"a": 2}',                    # JSONL with blank lines
])
def test_every_layout_gives_the_same_rows(tmp_path, text):
    plain, packed = tmp_path / "rows.json", tmp_path / "rows.jsonl.gz"
    plain.write_text(text)
    packed.write_bytes(gzip.compress(text.encode()))
    assert read_json_records(plain) == read_json_records(packed) == [{"a": 1}, {"a": 2}]


def test_one_object_is_one_record_and_bad_lines_are_named(tmp_path):
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"a": 1}, indent=2))
    assert read_json_records(one) == [{"a": 1}]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(RecordsError, match=r"bad.jsonl:2: not JSON"):
        read_json_records(bad)
    with pytest.raises(RecordsError, match="cannot read"):
        read_json_records(tmp_path / "missing.json")
