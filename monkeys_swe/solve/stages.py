"""Which selector `solve` uses, as one call for the command and for the selection curves.

  vote   applies -> passes existing tests near the change [-> passes the user's test command]
         -> majority vote of normalized patches -> the patch seen first   (select.py; the old default)
  tests  the same stages, then most model-written reproduction tests passed before the vote
         (the default when reproduction tests were sampled)

`choose` is what both `solve` (on all attempts) and reports/selection_curves.py (on every
k-subset) call, so a curve is exactly the expected success of what `solve` would pick.
"""
from __future__ import annotations

from typing import Iterable

from monkeys_swe.solve.select import Selection, select_patch
from monkeys_swe.types import Verdict

SELECTORS = ("tests", "vote")
REPRO_STAGE = "most reproduction tests passed ({top} of {n})"


def choose(rows: Iterable[tuple[int, Verdict]], selector: str = "vote", *, verifier_is_visible: bool = False,
           passed: dict[str, int] | None = None, n_tests: int = 0) -> Selection:
    """`passed`: patch hash -> reproducing tests it passes (the stored matrix); `n_tests` of them."""
    if selector not in SELECTORS:
        raise ValueError(f"unknown selector {selector!r} (one of {', '.join(SELECTORS)})")
    if selector == "tests" and n_tests > 0:
        table = passed or {}
        return select_patch(rows, verifier_is_visible=verifier_is_visible,
                            rank=lambda v: table.get(v.answer or "", 0),
                            rank_stage=REPRO_STAGE.replace("{n}", str(n_tests)))
    return select_patch(rows, verifier_is_visible=verifier_is_visible)


def select_run(store, problem_id: str, rows: list[tuple[int, Verdict]], selector: str, *,
               verifier_is_visible: bool) -> tuple[Selection, dict[str, int], int]:
    """`choose` with the run's stored matrix: (selection, patch hash -> tests passed, reproducing tests).
    A selector that is not one of SELECTORS is a selection pipeline (monkeys_swe/pipeline.py)."""
    from monkeys_swe.solve.repro import ranking

    passed, n_tests = ranking(store, problem_id)
    if selector not in SELECTORS:
        return pipeline_selection(store, problem_id, rows, selector, visible=verifier_is_visible,
                                  passed=passed if n_tests else None), passed, n_tests
    return choose(rows, selector, verifier_is_visible=verifier_is_visible, passed=passed, n_tests=n_tests), passed, n_tests


def pipeline_selection(store, problem_id: str, rows: list[tuple[int, Verdict]], spec: str, *, visible: bool,
                       passed: dict[str, int] | None) -> Selection:
    """The pipeline's pick as a Selection; its scorers' stored scores are what the stages read."""
    from monkeys_swe.pipeline import candidates_from_rows, parse
    from monkeys_swe.solve.select import vote_key

    pipe = parse(spec)
    tables = {name: store.scores(name) for name in pipe.scorers}
    scores = {i: {n: t[(problem_id, i)] for n, t in tables.items() if (problem_id, i) in t} for i, _ in rows}
    choice = pipe.run(candidates_from_rows(rows, visible=visible, passed=passed, scores=scores))
    if choice.index is None:
        return Selection(None, "", None, 0, choice.stages)
    verdict = dict(rows)[choice.index]
    key = vote_key(verdict)
    by_index = dict(rows)
    votes = sum(1 for _, v in rows if not v.is_error and v.detail.get("patch") and vote_key(v) == key)
    finalists = list(dict.fromkeys(vote_key(by_index[i]) for i in choice.finalists))
    return Selection(choice.index, verdict.detail.get("patch") or "", verdict.answer, votes, choice.stages,
                     verdict.correct, finalists)
