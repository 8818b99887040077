"""Selection curves of named pipelines (monkeys_swe/pipeline.py): the expected success at each k.

A problem's judged attempts become `Candidate`s (what a selector may know, never the oracle),
and each k-subset's pick is looked up in the oracle verdicts afterwards. Expectation over
subsets as in selection_curves.py: every k-subset when there are at most `exact_limit`, else
`trials` seeded uniform ones.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from monkeys_swe.errors import UserError
from monkeys_swe.pipeline import Candidate, Pipeline, candidates_from_rows, expected_success

if TYPE_CHECKING:
    from monkeys_swe.reports.summary import ProblemAttempts, RunData

PREFIX = "select: "


def problem_candidates(p: "ProblemAttempts", data: "RunData", *, swe: bool, visible: bool = False,
                       passed: Mapping[str, int] | None = None, scorers: Sequence[str] = ()) -> list[Candidate]:
    scores = {i: {s: data.scores[s][(p.problem.id, i)] for s in scorers if (p.problem.id, i) in data.scores.get(s, {})}
              for i in p.indices}
    if swe:
        from monkeys_swe.reports.selection_curves import _rows

        return candidates_from_rows(_rows(p), visible=visible, passed=passed, scores=scores)
    from monkeys_swe.selection import vote_answers

    return [Candidate(i, key, passes_existing=d.get("passes_existing_tests"), scores=scores[i])
            for i, key, d in zip(p.indices, vote_answers(p), p.details)]


def check_scored(data: "RunData", pipeline: Pipeline) -> None:
    for scorer in pipeline.scorers:
        table = data.scores.get(scorer, {})
        missing = sum((p.problem.id, i) not in table for p in data.problems for i in p.indices)
        if missing or not table:
            raise UserError(f"selection pipeline {pipeline.name!r} reads scorer {scorer!r}, which has not scored "
                            f"{missing or 'any'} attempts of {data.run_dir}: score the run with it first "
                            f"(report --judge ... or --rm ...)")


def pipeline_matrices(data: "RunData", ks: Sequence[int], pipelines: Mapping[str, Pipeline], *, trials: int = 100,
                      seed: int = 0, exact_limit: int = 500) -> dict[str, np.ndarray]:
    """PREFIX + name -> expected success at each k per problem, shape (problems, len(ks))."""
    if not pipelines or not data.problems or not ks:
        return {}
    from monkeys_swe.reports.selection_curves import _visible, repro_tables, subsets

    swe = data.config.get("task") == "swebench"
    tables = repro_tables(data.run_dir) if swe else {}
    rng = np.random.default_rng(seed)
    out = {}
    for name, pipe in pipelines.items():
        check_scored(data, pipe)
        m = np.zeros((len(data.problems), len(ks)))
        for j, p in enumerate(data.problems):
            passed, n_tests = tables.get(p.problem.id, ({}, 0))
            cands = problem_candidates(p, data, swe=swe, visible=swe and _visible(p),
                                       passed=passed if n_tests else None, scorers=pipe.scorers)
            if not cands:
                continue
            oracle = dict(zip(p.indices, p.correct))
            for x, k in enumerate(ks):
                k = min(int(k), len(cands))
                wins = [expected_success(pipe, [cands[i] for i in sub], oracle)
                        for sub in subsets(len(cands), k, exact_limit=exact_limit, trials=trials, rng=rng)]
                m[j, x] = float(np.mean(wins))
        out[PREFIX + name] = m
    return out
