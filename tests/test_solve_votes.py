"""Votes group candidates by meaning (the key verification dedupes by), not by patch text: two
patches differing only in whitespace and comments are one vote group in solve's selection, the
judge's finalists, the fast curve estimate and the majority-vote curves. The keys are real
(harness.normalize on the fixture repository, no Docker)."""
from __future__ import annotations

import numpy as np

from harness import normalize, patch as patches
from harness_fixture import FIXED, OPS, BUGGY, gold_source, make_fixture_instance, make_patch
from monkeys_swe.reports.selection_curves import prefix_picks
from monkeys_swe.reports.summary import ProblemAttempts
from monkeys_swe.selection import vote_accuracy, vote_answers
from monkeys_swe.solve import judge
from monkeys_swe.solve.stages import choose
from monkeys_swe.types import Problem, Verdict

PATH = "calc/ops.py"
NOISY = gold_source().replace(FIXED, "    # the count, not count + 1\n    return sum( values )/len(values)  # fixed\n\n")


def candidates(tmp_path):
    """(wrong patch, gold patch, gold written differently) with their real keys."""
    inst, mirror = make_fixture_instance(tmp_path)
    norm = normalize.for_instance(inst, mirror)
    wrong = make_patch(mirror, {PATH: OPS.replace(BUGGY, "    return 0\n")})
    noisy = make_patch(mirror, {PATH: NOISY})
    out = [(p, patches.patch_hash(p), norm.key(p)) for p in (wrong, inst.patch, noisy)]
    assert out[1][1] != out[2][1] and out[1][2] == out[2][2] != out[0][2]  # two texts, one meaning
    return out


def verdict(patch: str, h: str, key: str, correct: bool) -> Verdict:
    return Verdict(correct, "resolved" if correct else "not_resolved", h,
                   {"patch": patch, "semantic_key": key, "passes_existing_tests": True})


def test_whitespace_and_comment_variants_are_one_vote_group(tmp_path):
    (wrong, wh, wk), (gold, gh, gk), (noisy, nh, _) = candidates(tmp_path)
    # by text: three patches with one vote each, the first seen (the wrong one) would win the tie
    rows = [(0, verdict(wrong, wh, wk, False)), (1, verdict(gold, gh, gk, True)), (2, verdict(noisy, nh, gk, True))]
    sel = choose(rows, "vote")
    assert (sel.index, sel.votes, sel.patch_hash, sel.patch, sel.oracle_resolved) == (1, 2, gh, gold, True)
    assert sel.finalists == [gk, wk]
    # the judge is shown one candidate per meaning (its first-seen patch), in first-seen order
    assert judge.finalists(rows, sel.finalists) == [(wk, wrong), (gk, gold)]
    # the fast estimate of the selection curves picks what choose picks, prefix by prefix
    for order in ([0, 1, 2], [2, 0, 1], [0, 2, 1]):
        picks = [choose([rows[j] for j in order[:k]], "vote") for k in range(1, 4)]
        assert prefix_picks(rows, order) == [p.oracle_resolved is True for p in picks]
    assert prefix_picks(rows, [0, 2, 1]) == [False, False, True]  # by text the tie would stay with 0


def test_majority_vote_curve_counts_meanings(tmp_path):
    (wrong, wh, wk), (gold, gh, gk), (noisy, nh, _) = candidates(tmp_path)
    pa = ProblemAttempts(Problem(id="p", question="q"))
    for i, (p, h, key, ok) in enumerate([(wrong, wh, wk, False), (wrong, wh, wk, False), (gold, gh, gk, True),
                                         (noisy, nh, gk, True), (gold, gh, gk, True)]):
        pa.indices.append(i)
        pa.answers.append(h)
        pa.correct.append(ok)
        pa.details.append({"patch": p, "semantic_key": key})
    pa.answers.append(None)  # no patch: no vote
    pa.correct.append(False)
    pa.details.append({"patch": ""})
    assert vote_answers(pa) == [wk, wk, gk, gk, gk, None]
    n = len(pa.answers)
    # all six attempts: by meaning the fix has 3 votes to 2; by text it would tie 2 to 2
    assert vote_accuracy(vote_answers(pa), pa.correct, [n]).tolist() == [1.0]
    assert vote_accuracy(pa.answers, pa.correct, [n]).tolist() == [0.5]
    # verdicts without a key (older runs, other tasks) vote by their answer as before
    pa.details = [{} for _ in pa.details]
    assert vote_answers(pa) == pa.answers
    assert np.isclose(vote_accuracy(vote_answers(pa), pa.correct, [n])[0], 0.5)
