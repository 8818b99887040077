"""Choosing one patch without the hidden tests (Agentless-style), and how good the choice was.

Stages, each keeping the previous set when it would leave nothing:
  1. candidates that apply (the harness applied them and the tests ran),
  2. those that pass the repository's existing tests near the change (`passes_existing_tests`),
  3. for a local repository, those that pass the user's own test command (it is not hidden),
then a majority vote over candidates by meaning (`vote_key`: the key verification is deduplicated
by, harness.normalize: the same code after dropping test-file edits, whitespace and comments);
ties go to the candidate seen first, whose patch is the one chosen.
For SWE-bench instances the oracle verdict (hidden tests) is reported next to the choice,
never used to make it.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable

from monkeys_swe.types import Verdict

APPLIED = ("resolved", "not_resolved")


@dataclass
class Selection:
    index: int | None  # the chosen attempt (first attempt with the winning patch)
    patch: str
    patch_hash: str | None
    votes: int
    stages: dict[str, int] = field(default_factory=dict)  # stage name -> attempts kept
    oracle_resolved: bool | None = None  # the chosen patch's verdict on the hidden tests
    finalists: list[str] = field(default_factory=list)  # vote keys left before the vote, most votes first

    def to_dict(self) -> dict:
        return {"index": self.index, "patch_hash": self.patch_hash, "votes": self.votes,
                "stages": self.stages, "oracle_resolved": self.oracle_resolved}


def vote_key(v: Verdict) -> str | None:
    """What one vote counts for: the meaning-level key stored with the verdict (harness.normalize,
    the one dedupe uses), else (older runs, other tasks) the normalized patch hash."""
    return v.detail.get("semantic_key") or v.answer


def _narrow(rows: list[tuple[int, Verdict]], keep) -> list[tuple[int, Verdict]]:
    kept = [r for r in rows if keep(r[1])]
    return kept or rows


def select_patch(verdicts: Iterable[tuple[int, Verdict]], *, verifier_is_visible: bool = False,
                 rank: Callable[[Verdict], int] | None = None, rank_stage: str = "ranked first") -> Selection:
    """`rank` (e.g. reproduction tests passed, see solve/stages.py) keeps the best-ranked candidates
    of the last stage before the vote."""
    rows = sorted(((i, v) for i, v in verdicts if v.answer and v.detail.get("patch") and not v.is_error),
                  key=lambda r: r[0])
    stages = {"with a patch": len(rows)}
    applied = [r for r in rows if r[1].status in APPLIED]
    stages["applied"] = len(applied)
    pool = applied
    passing = [r for r in pool if r[1].detail.get("passes_existing_tests") is not False]
    stages["pass existing tests"] = len(passing)
    pool = passing or pool
    if verifier_is_visible:
        solved = [r for r in pool if r[1].correct]
        stages["pass the test command"] = len(solved)
        pool = solved or pool
    if rank is not None and pool:
        top = max(rank(v) for _, v in pool)
        pool = [r for r in pool if rank(r[1]) == top]
        stages[rank_stage.format(top=top)] = len(pool)
    if not pool:
        return Selection(None, "", None, 0, stages)
    counts = Counter(vote_key(v) for _, v in pool)
    first_seen = {}
    for i, v in pool:
        first_seen.setdefault(vote_key(v), (i, v))
    best = max(counts, key=lambda h: (counts[h], -first_seen[h][0]))
    index, verdict = first_seen[best]
    return Selection(index, verdict.detail["patch"], verdict.answer, counts[best], stages, verdict.correct,
                     sorted(counts, key=lambda h: (-counts[h], first_seen[h][0])))
