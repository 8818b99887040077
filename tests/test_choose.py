"""Choosing problems (--ids, --filter, --slice) on real data, through the real CLI and replayed samples."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from monkeys_swe.choose import choose, parse_ids, parse_slice
from monkeys_swe.config import RunConfig
from monkeys_swe.errors import UserError
from tests.conftest import cli

IDS = [f"p-{i}" for i in range(10)]


def write_replay(path: Path, data_dir: Path, n: int) -> None:
    rows = [json.loads(line) for line in (data_dir / "gsm8k/test.jsonl").open()][:n]
    recs = []
    for row in rows:
        gold = row["answer"].split("####")[-1].strip()
        recs.append({"question": row["question"], "samples": [f"so\n#### {gold}", "#### 999999"], "gt_answer": gold})
    path.write_text(json.dumps(recs))


def stored_ids(run_dir: Path) -> list[str]:
    con = sqlite3.connect(run_dir / "run.db")
    return [r[0] for r in con.execute("SELECT id FROM problems ORDER BY position")]


def test_ids_then_filter_then_slice_then_limit_keep_the_data_order():
    assert choose(IDS, str, ids=["p-7", "p-2", "p-5", "p-3"]) == ["p-2", "p-3", "p-5", "p-7"]
    assert choose(IDS, str, filter=r"[13579]$", slice="1:", limit=2) == ["p-3", "p-5"]
    assert choose(IDS, str, ids=["p-1", "p-2", "p-3", "p-4"], filter="[24]", slice="::-1") == ["p-4", "p-2"]
    assert choose(IDS, str, slice="-2:") == ["p-8", "p-9"] and choose(IDS, str, slice="3") == ["p-3"]
    assert parse_slice("::3") == slice(None, None, 3)


@pytest.mark.parametrize("kwargs, message", [
    ({"ids": ["p-1", "nope", "zz"]}, "--ids: not in the data: nope, zz"),
    ({"filter": "^q"}, "--filter '^q' matches no id in the data (10 ids)"),
    ({"filter": "p-("}, "--filter 'p-(': not a valid regular expression"),
    ({"slice": "20:"}, "--slice '20:' leaves nothing of the 10 chosen problems"),
    ({"slice": "1:2:0"}, "the step cannot be 0"),
    ({"slice": "a:b"}, "expected start:stop[:step] with integers"),
])
def test_bad_choices_are_one_line_errors(kwargs, message):
    with pytest.raises(UserError, match=None) as exc:
        choose(IDS, str, **kwargs)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_ids_from_a_file_with_comments(tmp_path):
    f = tmp_path / "ids.txt"
    f.write_text("# the hard ones\np-3\np-1, p-2  # inline\n\n")
    assert parse_ids(f"@{f}") == ["p-1", "p-2", "p-3"]
    with pytest.raises(UserError, match="file not found"):
        parse_ids(f"@{tmp_path / 'missing.txt'}")
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(UserError, match="names no id"):
        parse_ids(f"@{tmp_path / 'empty.txt'}")


def test_a_choice_is_part_of_the_run_identity_only_when_given():
    plain = RunConfig(task="gsm8k", data="d.jsonl", samples=2, backend="replay")
    assert not {"ids", "filter", "slice"} & set(plain.identity())  # older runs keep their directory names
    a = RunConfig(**{**plain.model_dump(), "ids": "b,a"})
    b = RunConfig(**{**plain.model_dump(), "ids": ["a", "b", "a"]})
    assert a.identity()["ids"] == ["a", "b"] and a.run_id() == b.run_id() != plain.run_id()
    assert RunConfig(**{**plain.model_dump(), "slice": "0:5"}).run_id() != RunConfig(**{**plain.model_dump(), "slice": "0:6"}).run_id()
    with pytest.raises(UserError, match="--slice"):
        RunConfig(**{**plain.model_dump(), "slice": "x"})


def test_bench_runs_the_chosen_problems_and_refuses_unknown_ones(tmp_path, data_dir):
    write_replay(tmp_path / "s.json", data_dir, 8)
    common = ["bench", "gsm8k", "--data", str(data_dir / "gsm8k/test.jsonl"), "--samples", "2", "--backend", "replay",
              "--replay-from", str(tmp_path / "s.json"), "--no-report"]
    (tmp_path / "ids.txt").write_text("gsm8k-6\ngsm8k-2\n")
    cli(*common, "--runs-dir", str(tmp_path / "a"), "--ids", f"@{tmp_path / 'ids.txt'}", check=True)
    cli(*common, "--runs-dir", str(tmp_path / "b"), "--filter", r"-[3-7]$", "--slice", "::2", "--limit", "2", check=True)
    (a,), (b,) = list((tmp_path / "a").iterdir()), list((tmp_path / "b").iterdir())
    assert stored_ids(a) == ["gsm8k-2", "gsm8k-6"] and stored_ids(b) == ["gsm8k-3", "gsm8k-5"]
    assert json.loads(sqlite3.connect(a / "run.db").execute("SELECT value FROM meta WHERE key='config'").fetchone()[0])["ids"] \
        == ["gsm8k-2", "gsm8k-6"]  # the ids themselves, not the file's name, are the run's identity
    proc = cli(*common, "--runs-dir", str(tmp_path / "c"), "--ids", "gsm8k-1,gsm8k-99999")
    assert proc.returncode == 2 and proc.stderr.strip() == \
        f"error: --ids: not in {data_dir / 'gsm8k/test.jsonl'}: gsm8k-99999"


def test_verify_refuses_a_choice_it_cannot_make(tmp_path):
    data = tmp_path / "swe.jsonl"
    data.write_text("".join(json.dumps({"instance_id": f"o__r-{i}", "repo": "o/r", "base_commit": "0" * 40, "patch": "",
                                        "test_patch": "", "version": "1.0", "FAIL_TO_PASS": "[]",
                                        "PASS_TO_PASS": "[]"}) + "\n" for i in range(3)))
    preds = tmp_path / "preds.jsonl"
    preds.write_text(json.dumps({"instance_id": "o__r-1", "model_name_or_path": "m", "model_patch": ""}) + "\n")
    proc = cli("verify", str(preds), "--data", str(data), "--ids", "o__r-2", "--report", str(tmp_path / "r.json"))
    assert proc.returncode == 2 and "error: --ids: not in the predictions: o__r-2" in proc.stderr
    proc = cli("verify", "--gold", "--data", str(data), "--filter", "-9$", "--report", str(tmp_path / "r.json"))
    assert proc.returncode == 2 and f"--filter '-9$' matches no id in {data} (3 ids)" in proc.stderr
    from monkeys_swe.cli.verify import _chosen  # what verify then judges (Docker not needed to check the choice)

    assert _chosen(str(data), None, None, ids=None, filter="-[12]$", slice="::-1") == ["o__r-2", "o__r-1"]
    assert _chosen(str(data), ["o__r-2", "o__r-0"], None, ids="o__r-0", filter=None, slice=None) == ["o__r-0"]
    patch = tmp_path / "p.diff"
    patch.write_text("")
    proc = cli("verify", "--instance", "o__r-1", "--patch", str(patch), "--data", str(data), "--slice", ":1")
    assert proc.returncode == 2 and "not with --patch" in proc.stderr
