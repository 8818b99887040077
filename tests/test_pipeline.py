"""Selection pipelines: the current selectors as presets, the oracle never read by a stage, and a
three-stage pipeline (filter -> RM -> judge) on a stored run giving its documented choice."""
from __future__ import annotations

import json
import random

import pytest

from monkeys_swe.errors import UserError
from monkeys_swe.pipeline import PRESETS, named, parse
from monkeys_swe.reports import report_run
from monkeys_swe.pipeline import candidates_from_rows
from monkeys_swe.reports.pipeline_curves import PREFIX
from monkeys_swe.solve.stages import choose
from monkeys_swe.store import Store
from monkeys_swe.types import Problem, Sample, Verdict
from tests.conftest import cli


class HiddenVerdict(Verdict):
    """A verdict whose oracle cannot be read: any access raises."""

    def __init__(self, v: Verdict):
        object.__setattr__(self, "_v", v)
        super().__init__(False, v.status, v.answer, v.detail)

    def __getattribute__(self, name):
        if name == "correct":
            raise AssertionError("a selection stage read the oracle verdict")
        return super().__getattribute__(name)

    def __setattr__(self, name, value):
        if name != "correct":
            super().__setattr__(name, value)


def random_rows(rng: random.Random, n: int) -> list[tuple[int, Verdict]]:
    rows = []
    for i in range(n):
        status = rng.choice(["resolved", "not_resolved", "not_resolved", "apply_failed", "malformed"])
        key = rng.choice("abcd")
        patch = "" if status == "malformed" else f"patch {key}"
        detail = {"patch": patch, "semantic_key": f"k{key}" if patch else None,
                  "passes_existing_tests": rng.choice([True, False, None])}
        rows.append((i, Verdict(status == "resolved", status, f"h{key}" if patch else None, detail)))
    rng.shuffle(rows)
    return rows


@pytest.mark.parametrize("seed", range(40))
def test_presets_choose_what_solve_chooses(seed):
    rng = random.Random(seed)
    rows = random_rows(rng, rng.randint(1, 9))
    passed = {f"h{k}": rng.randint(0, 3) for k in "abcd"}
    for selector in ("vote", "tests"):
        sel = choose(rows, selector, passed=passed, n_tests=3)
        cands = candidates_from_rows(rows, passed=passed if selector == "tests" else None)
        assert parse(selector).run(cands).index == sel.index, (selector, rows)
    # A visible test command (a local repository's own): the preset reads it, as solve does.
    sel = choose(rows, "vote", verifier_is_visible=True)
    assert parse("vote").run(candidates_from_rows(rows, visible=True)).index == sel.index


PIPE = "applies > existing-tests > rm:rm:tiny@2 > judge:judge:toy > first"
# attempt: (status, key, passes existing tests, rm score, judge score, oracle)
ATTEMPTS = [
    ("not_resolved", "A", False, 0.9, 9.0, False),  # best RM score, but fails the existing tests
    ("resolved", "B", True, 0.8, 3.0, True),
    ("not_resolved", "C", True, 0.7, 8.0, False),
    ("resolved", "D", True, 0.2, 10.0, True),  # the judge's favourite, cut by the RM (3rd best answer)
    ("malformed", None, None, 1.0, 10.0, False),  # no patch: never a candidate
    ("resolved", "B", True, 0.1, 2.0, True),  # B again: B's best RM score is 0.8
]
# Documented choice: applies -> 5 left; existing tests -> 4 (drops 0); RM keeps the two answers with
# the best scores, B (0.8) and C (0.7) -> attempts 1, 2, 5; the judge scores 2 highest -> attempt 2,
# a wrong patch (the oracle, read only afterwards, says so), while vote alone would have picked B.
CHOICE, COUNTS = 2, {"candidates": 6, "applies": 5, "existing-tests": 4, "rm:rm:tiny@2": 3, "judge:judge:toy": 1}


def attempt_rows() -> tuple[list[tuple[int, Verdict]], dict[int, dict[str, float]]]:
    rows, scores = [], {}
    for i, (status, key, passes, rm, jd, ok) in enumerate(ATTEMPTS):
        detail = {"patch": f"diff {key}\n" if key else "", "semantic_key": key, "passes_existing_tests": passes,
                  "status": status}
        rows.append((i, Verdict(ok, status, f"hash-{key}" if key else None, detail)))
        scores[i] = {"rm:tiny": rm, "judge:toy": jd}
    return rows, scores


def test_three_stage_pipeline_gives_the_documented_choice_without_the_oracle():
    rows, scores = attempt_rows()
    pipe = parse(PIPE)
    visible = pipe.run(candidates_from_rows(rows, scores=scores))
    assert visible.index == CHOICE and visible.stages == COUNTS
    hidden = [(i, HiddenVerdict(v)) for i, v in rows]
    with pytest.raises(AssertionError, match="read the oracle"):
        hidden[0][1].correct
    got = pipe.run(candidates_from_rows(hidden, scores=scores))
    assert (got.index, got.stages, got.finalists) == (visible.index, visible.stages, visible.finalists)
    for spec in PRESETS.values():  # every preset, too, chooses the same with the oracle hidden
        assert parse(spec).run(candidates_from_rows(hidden)).index == parse(spec).run(candidates_from_rows(rows)).index
    assert parse("applies > existing-tests > vote").run(candidates_from_rows(rows)).index == 1


def stored_run(tmp_path):
    rows, scores = attempt_rows()
    run = tmp_path / "run"
    store = Store(run)
    store.set_meta("config", {"task": "swebench", "samples": len(rows), "backend": "replay", "model_name": "pool"})
    store.add_problems([Problem("inst-1", "fix the bug", None, {"instance": {"instance_id": "inst-1", "repo": "o/r"}})])
    for i, v in rows:
        store.add_sample(Sample("inst-1", i, v.detail["patch"], 0, 0, None, 0.0))
        store.add_verdict("inst-1", i, v)
        for name, s in scores[i].items():
            store.add_score("inst-1", i, name, s)
    store.close()
    return run


def test_report_adds_the_pipeline_curve_and_refuses_unscored_pipelines(tmp_path):
    run = stored_run(tmp_path)
    s = report_run(run, select={"filter-rm-judge": PIPE})
    curve = s["selection"][PREFIX + "filter-rm-judge"]
    assert curve[-1] == 0.0  # k = N: the documented choice, attempt 2, is wrong
    assert s["selection"][PREFIX + "filter-rm-judge"][0] == pytest.approx(3 / 6)  # k = 1: a random attempt
    assert s["bootstrap"]["selectors"][PREFIX + "filter-rm-judge"]["gap"][-1] == pytest.approx(1.0)
    assert s["pipelines"] == {"filter-rm-judge": PIPE}
    # without the judge, the RM's best among the filtered is attempt 1 (right)
    s = report_run(run, select=["applies > existing-tests > rm:rm:tiny > first"])
    assert s["selection"][PREFIX + "applies > existing-tests > rm:rm:tiny > first"][-1] == 1.0
    with pytest.raises(UserError, match="has not scored"):
        report_run(run, select=["rm:rm:other > first"])
    proc = cli("report", str(run), "--select", f"frj={PIPE}", "--out", str(tmp_path / "rep"), check=True)
    assert "select: frj" in proc.stdout
    assert json.loads((tmp_path / "rep" / "summary.json").read_text())["pipelines"] == {"frj": PIPE}


@pytest.mark.parametrize("spec, message", [
    ("", "empty selection pipeline"),
    ("vote > first > applies", "must be the last stage"),
    ("applies > bogus", "unknown stage 'bogus'"),
    ("rm > first", "unknown stage 'rm'"),
    ("vote@0", "keeps at least 1"),
])
def test_bad_pipelines_are_refused_with_a_clear_error(spec, message):
    with pytest.raises(UserError, match=message):
        parse(spec)


def test_named_pipelines_from_config():
    got = named(["vote", "mine=applies > score:rm:x>=0.5 > vote", "existing-tests > vote"])
    assert list(got) == ["vote", "mine", "existing-tests > vote"]
    assert got["mine"].scorers == ("rm:x",) and got["vote"].spec == PRESETS["vote"]
    assert list(named({"a": "vote > random"})) == ["a"] and named({"a": "vote > random"})["a"].tie_break == "random"


def test_sweep_yaml_names_pipelines_and_refuses_bad_ones(tmp_path):
    from monkeys_swe.sweep import load_sweep

    good = tmp_path / "good.yaml"
    good.write_text("grid: {task: gsm8k, samples: 4}\nselect:\n  rm-then-vote: 'rm:rm:tiny@3 > vote > first'\n")
    sweep, _, _ = load_sweep(good)
    assert list(named(sweep.select)) == ["rm-then-vote"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("grid: {task: gsm8k}\nselect: ['applies > nonsense']\n")
    with pytest.raises(UserError, match="unknown stage 'nonsense'"):
        load_sweep(bad)


def test_solve_selects_with_a_pipeline_from_the_stored_scores(tmp_path):
    from monkeys_swe.solve.stages import select_run

    run = stored_run(tmp_path)
    store = Store(run, create=False)
    try:
        rows = [(i, v) for _, i, v in store.verdicts()]
        sel, _, n_tests = select_run(store, "inst-1", rows, PIPE, verifier_is_visible=False)
        assert (sel.index, sel.patch, sel.oracle_resolved, sel.stages, n_tests) == (CHOICE, "diff C\n", False, COUNTS, 0)
        assert select_run(store, "inst-1", rows, "vote", verifier_is_visible=False)[0].index == 1  # unchanged
    finally:
        store.close()
    proc = cli("solve", "x", "--select", "applies > bogus")
    assert proc.returncode == 2 and "unknown stage 'bogus'" in proc.stderr
