"""Selectors that compose: a selection is a pipeline of stages over a problem's candidates.

A pipeline is written as stages joined by '>' (a named one lives in PRESETS, a sweep's YAML
`select:` or `--select NAME=SPEC`):

  filters  applies            drop attempts that did not apply (hard: none left, no choice)
           existing-tests     keep those that pass the repository's existing tests near the change
           test-command       keep those that pass a *visible* test command (a local repository's own)
           repro              keep those passing the most model-written reproduction tests
           score:NAME>=T      keep those whose score from scorer NAME is at least T
  rankers  vote[@M]           keep the attempts of the M answers with most votes (M=1: the leaders, ties kept)
           rm:NAME[@M]        keep the attempts of the M answers whose best NAME score is highest
           wvote:NAME[@M]     as vote, each vote weighted by its NAME score (shifted positive)
           judge:NAME         a judge among the finalists left: the answer it scores highest (NAME's
                              stored scores, e.g. an LLM judge's grade or a reward model's)
  tie-break first | random    the attempt seen first (default) | uniformly at random

Every filter except `applies` keeps the previous set when it would leave nothing (as solve's
stages do). Stages see `Candidate`s only: what a selector may know (the patch's key, whether it
applied, the existing and reproduction tests, a visible test command, scorer scores). The oracle
verdict (hidden tests, the reference answer) is not in a Candidate, so no stage can read it; it is
looked up by the caller after the choice (`expected_success`).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from monkeys_swe.errors import UserError
from monkeys_swe.solve.select import vote_key
from monkeys_swe.types import Verdict

# The current selectors (solve/stages.py's `choose`) as pipelines: a test holds them equal.
PRESETS: dict[str, str] = {
    "vote": "applies > existing-tests > test-command > vote > first",
    "tests": "applies > existing-tests > test-command > repro > vote > first",
    "majority": "vote > first",
}
APPLIED = ("resolved", "not_resolved")


@dataclass(frozen=True)
class Candidate:
    """One attempt as a selector sees it (no oracle verdict)."""

    index: int
    key: str | None  # what a vote counts for (an answer, a patch's meaning); None: no answer
    applied: bool | None = None  # None: the task has no notion of applying (math)
    passes_existing: bool | None = None
    visible_pass: bool | None = None  # a visible test command's verdict (local repositories only)
    repro_passed: int | None = None  # reproduction tests passed (None: none were written)
    scores: Mapping[str, float] = field(default_factory=dict)


@dataclass
class Choice:
    index: int | None  # the chosen attempt; None when no candidate survives a hard filter
    stages: dict[str, int]  # stage -> candidates left after it
    finalists: list[int]  # attempts left before the tie-break


Stage = Callable[[list[Candidate]], list[Candidate]]


@dataclass
class Pipeline:
    name: str
    spec: str
    stages: list[tuple[str, Stage]]
    tie_break: str = "first"
    scorers: tuple[str, ...] = ()  # scorers its stages read

    def run(self, candidates: Sequence[Candidate]) -> Choice:
        pool = sorted(candidates, key=lambda c: c.index)
        counts = {"candidates": len(pool)}
        for label, stage in self.stages:
            pool = stage(pool)
            counts[label] = len(pool)
        if not pool:
            return Choice(None, counts, [])
        return Choice(pool[0].index, counts, [c.index for c in pool])


def _soft(keep: Callable[[Candidate], bool]) -> Stage:
    def stage(pool: list[Candidate]) -> list[Candidate]:
        kept = [c for c in pool if keep(c)]
        return kept or pool
    return stage


def _hard_applies(pool: list[Candidate]) -> list[Candidate]:
    return [c for c in pool if c.applied is not False]


def _repro(pool: list[Candidate]) -> list[Candidate]:
    counted = [c for c in pool if c.repro_passed is not None]
    if not counted:
        return pool
    top = max(c.repro_passed or 0 for c in counted)
    return [c for c in pool if (c.repro_passed or 0) == top]


def _score(c: Candidate, scorer: str) -> float:
    try:
        return float(c.scores[scorer])
    except KeyError:
        raise UserError(f"attempt {c.index} has no score from {scorer!r}: score the run with it first") from None


def _keep_top_keys(pool: list[Candidate], value: Mapping[str | None, float], top: int) -> list[Candidate]:
    """The attempts whose key is among the `top` best values (every key tied with the last kept too)."""
    if not value:
        return pool
    cut = sorted(value.values(), reverse=True)[min(top, len(value)) - 1]
    keep = {k for k, v in value.items() if v >= cut}
    return [c for c in pool if c.key in keep]


def _vote(top: int, scorer: str | None = None) -> Stage:
    def stage(pool: list[Candidate]) -> list[Candidate]:
        voters = [c for c in pool if c.key is not None]
        if not voters:
            return pool
        weights = np.array([_score(c, scorer) for c in voters]) if scorer else np.ones(len(voters))
        if scorer and weights.min() < 0:
            weights = weights - weights.min() + 1e-6  # as RM-weighted vote shifts logprob-like scores
        tally: dict[str | None, float] = {}
        for c, w in zip(voters, weights):
            tally[c.key] = tally.get(c.key, 0.0) + float(w)
        return _keep_top_keys(voters, tally, top)
    return stage


def _rank(scorer: str, top: int) -> Stage:
    def stage(pool: list[Candidate]) -> list[Candidate]:
        if not pool:
            return pool
        if top == 1:  # best-of-N: the top-scored attempts themselves
            best = max(_score(c, scorer) for c in pool)
            return [c for c in pool if _score(c, scorer) == best]
        value: dict[str | None, float] = {}
        for c in pool:
            value[c.key] = max(value.get(c.key, -math.inf), _score(c, scorer))
        return _keep_top_keys(pool, value, top)
    return stage


_NAMED = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)=(?P<spec>.+)$", re.S)
_AT = re.compile(r"^(?P<base>[^@]+?)(?:@(?P<top>\d+))?$")
_THRESHOLD = re.compile(r"^score:(?P<name>.+?)>=(?P<t>-?[0-9.eE+-]+)$")


def parse(spec: str, name: str | None = None) -> Pipeline:
    """A pipeline from its spec ('applies > existing-tests > rm:NAME@3 > judge:J > first') or a preset name."""
    text = PRESETS.get(spec, spec)
    tokens = [t.strip() for t in re.split(r"->|>(?!=)", text) if t.strip()]
    if not tokens:
        raise UserError(f"empty selection pipeline {spec!r}: name stages joined by '>' (e.g. 'applies > vote')")
    stages: list[tuple[str, Stage]] = []
    scorers: list[str] = []
    tie = "first"
    for i, tok in enumerate(tokens):
        if tok in ("first", "random"):
            if i != len(tokens) - 1:
                raise UserError(f"pipeline {spec!r}: the tie-break {tok!r} must be the last stage")
            tie = tok
            continue
        stages.append((tok, _stage(tok, spec, scorers)))
    return Pipeline(name or spec, text, stages, tie, tuple(dict.fromkeys(scorers)))


def _stage(tok: str, spec: str, scorers: list[str]) -> Stage:
    if tok == "applies":
        return _hard_applies
    if tok == "existing-tests":
        return _soft(lambda c: c.passes_existing is not False)
    if tok == "test-command":
        return _soft(lambda c: c.visible_pass is True)
    if tok == "repro":
        return _repro
    m = _THRESHOLD.match(tok)
    if m:
        scorer, t = m["name"], float(m["t"])
        scorers.append(scorer)
        return _soft(lambda c: _score(c, scorer) >= t)
    m = _AT.match(tok)
    if m:
        base, top = m["base"], int(m["top"] or 1)
        if top < 1:
            raise UserError(f"pipeline {spec!r}: '{tok}' keeps at least 1 (write @1 or more)")
        kind, _, scorer = base.partition(":")
        if kind == "vote" and not scorer:
            return _vote(top)
        if kind in ("rm", "wvote", "judge") and scorer:
            scorers.append(scorer)
            if kind == "judge":
                return _rank(scorer, 1)
            return _rank(scorer, top) if kind == "rm" else _vote(top, scorer)
    raise UserError(f"pipeline {spec!r}: unknown stage {tok!r} (one of applies, existing-tests, test-command, repro, "
                    "score:NAME>=T, vote[@M], rm:NAME[@M], wvote:NAME[@M], judge:NAME, first, random)")


def named(selects: Sequence[str] | Mapping[str, str]) -> dict[str, Pipeline]:
    """Pipelines from config: a mapping name -> spec, or a list of preset names, specs or 'NAME=SPEC'."""
    if isinstance(selects, Mapping):
        items = list(selects.items())
    else:
        items = [(m["name"], m["spec"]) if (m := _NAMED.match(s)) else (s, s) for s in selects]
    return {str(n): parse(str(s), str(n)) for n, s in items}


def expected_success(pipeline: Pipeline, candidates: Sequence[Candidate], oracle: Mapping[int, bool]) -> float:
    """How often the pipeline's pick is right: its choice's oracle verdict (first), or the mean over
    the finalists' distinct answers (random: a uniform tie-break, in expectation)."""
    choice = pipeline.run(candidates)
    if choice.index is None:
        return 0.0
    if pipeline.tie_break == "first":
        return float(oracle.get(choice.index, False) is True)
    by_key: dict[str | None, int] = {}
    keys = {c.index: c.key for c in candidates}
    for i in choice.finalists:  # in index order: each answer's first attempt stands for it
        by_key.setdefault(keys[i] if keys[i] is not None else f"#{i}", i)
    return float(np.mean([oracle.get(i, False) is True for i in by_key.values()]))


def candidates_from_rows(rows: Sequence[tuple[int, Verdict]], *, visible: bool = False,
                         passed: Mapping[str, int] | None = None,
                         scores: Mapping[int, Mapping[str, float]] | None = None) -> list[Candidate]:
    """SWE attempts as candidates. Reads a verdict's status, answer and detail (what applying and the
    existing tests showed); `correct` only where the test command is the user's own (`visible`)."""
    out = []
    for i, v in rows:
        if v.is_error:
            continue
        has_patch = bool(v.answer and v.detail.get("patch"))
        out.append(Candidate(
            index=i, key=vote_key(v) if has_patch else None,
            applied=has_patch and v.status in APPLIED,
            passes_existing=v.detail.get("passes_existing_tests"),
            visible_pass=bool(v.correct) if visible else None,
            repro_passed=(passed or {}).get(v.answer or "", 0) if passed is not None else None,
            scores=(scores or {}).get(i, {})))
    return out
