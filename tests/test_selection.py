"""Selection accuracy at k (vote, weighted vote, best-of-N) against exact enumeration."""
from __future__ import annotations

import itertools
import os
import random
from collections import defaultdict

import numpy as np
import pytest

from monkeys_swe.selection import best_of_n_accuracy, vote_accuracy


def brute_vote(answers, correct, weights, k):
    right = {a for a, ok in zip(answers, correct) if ok and a is not None}
    subsets = list(itertools.combinations(range(len(answers)), k))
    total = 0.0
    for s in subsets:
        tally = defaultdict(float)
        for i in s:
            if answers[i] is not None and weights[i] > 0:
                tally[answers[i]] += weights[i]
        if tally:
            top = max(tally.values())
            leaders = [a for a, v in tally.items() if v == top]
            total += sum(a in right for a in leaders) / len(leaders)
    return total / len(subsets)


def brute_best_of_n(scores, correct, k):
    subsets = list(itertools.combinations(range(len(scores)), k))
    total = 0.0
    for s in subsets:
        top = max(scores[i] for i in s)
        winners = [i for i in s if scores[i] == top]
        total += sum(correct[i] for i in winners) / len(winners)
    return total / len(subsets)


@pytest.mark.parametrize("seed", range(5))
def test_vote_and_weighted_vote_match_enumeration(seed):
    rng = random.Random(seed)
    n = rng.randint(3, 8)
    answers = [rng.choice(["a", "b", "c", None]) for _ in range(n)]
    correct = [x == "b" for x in answers]
    weights = [rng.choice([0.5, 1.0, 2.0, 3.0]) for _ in range(n)]
    ks = list(range(1, n + 1))
    for w in (None, weights):
        got = vote_accuracy(answers, correct, ks, w, trials=4000, rng=np.random.default_rng(seed))
        want = [brute_vote(answers, correct, w or [1.0] * n, k) for k in ks]
        np.testing.assert_allclose(got, want, atol=0.04)
        assert got[0] == pytest.approx(want[0], abs=1e-12)  # k=1 and k=n are exact
        assert got[-1] == pytest.approx(want[-1], abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_best_of_n_matches_enumeration(seed):
    rng = random.Random(100 + seed)
    n = rng.randint(3, 8)
    scores = [float(rng.randint(1, 4)) for _ in range(n)]  # ties on purpose
    correct = [rng.random() < 0.4 for _ in range(n)]
    ks = list(range(1, n + 1))
    got = best_of_n_accuracy(scores, correct, ks, trials=4000, rng=np.random.default_rng(seed))
    want = [brute_best_of_n(scores, correct, k) for k in ks]
    np.testing.assert_allclose(got, want, atol=0.04)
    assert got[-1] == pytest.approx(want[-1], abs=1e-12)


def test_a_perfect_reward_model_reaches_coverage():
    """Best-of-N with scores that rank every correct attempt first equals pass@k exactly in expectation."""
    from monkeys_swe.metrics import pass_at_k

    correct = [False] * 7 + [True] * 2
    scores = [1.0 if ok else 0.0 for ok in correct]
    ks = [1, 2, 4, 9]
    got = best_of_n_accuracy(scores, correct, ks, trials=3000, rng=np.random.default_rng(0))
    np.testing.assert_allclose(got, pass_at_k([9], [2], np.array(ks))[0], atol=0.03)


def test_attempts_without_answers_never_win():
    assert vote_accuracy([None, None], [False, False], [1, 2]).tolist() == [0.0, 0.0]
    assert vote_accuracy([], [], [1]).tolist() == [0.0]


# -- reward-model judges on the real embedded model ---------------------------------------------
# llama.cpp's OpenMP threads sleep instead of spinning at barriers: on a busy shared machine spinning
# made decoding 20-60x slower. Read when llama_cpp is first imported (no effect if it already was).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
@pytest.mark.model
def test_llamacpp_judge_scores_a_run_and_adds_selection_curves(tmp_path):
    from monkeys_swe.reports import report_run
    from monkeys_swe.judges import LlamaCppJudge, score_run
    from monkeys_swe.store import Store
    from tests.test_report import make_run

    run = make_run(tmp_path / "run", {"a": [("7", True), ("3", False), ("7", True)], "b": [("1", False), ("7", True), ("1", False)]})
    judge = LlamaCppJudge()
    assert score_run(run, judge) == 6
    assert score_run(run, judge) == 0  # resumes: nothing left to score
    scores = Store(run, create=False).scores(judge.name)
    assert len(scores) == 6 and all(1.0 <= v <= 10.0 for v in scores.values())
    assert scores[("a", 0)] == scores[("a", 2)]  # same problem, same text: the judge is deterministic
    s = report_run(run)
    for name in (f"best-of-N ({judge.name})", f"RM-weighted vote ({judge.name})"):
        assert len(s["selection"][name]) == len(s["ks"]) and all(0 <= x <= 1 for x in s["selection"][name])


@pytest.mark.model
def test_openai_judge_through_a_real_server():
    from monkeys_swe.judges import OpenAIJudge
    from monkeys_swe.types import Problem
    from tests.llama_server import llama_server

    with llama_server(n_ctx=2048) as url:
        judge = OpenAIJudge(url)
        grade = judge.score(Problem("p", "What is 2+3?", "5"), "2+3 = 5, so the answer is 5.")
        assert grade == 0.0 or 1.0 <= grade <= 10.0  # 0: the judge gave no grade
        assert judge._logprobs is not None  # it learned whether this server returns logprobs


def test_swebench_runs_get_the_existing_tests_filter_curve(tmp_path):
    """Patches that break the repo's existing tests are dropped before the vote (the solve/Agentless filter)."""
    from monkeys_swe.reports import report_run
    from monkeys_swe.store import Store
    from monkeys_swe.types import Problem, Sample, Verdict

    store = Store(tmp_path / "run")
    store.set_meta("config", {"task": "swebench", "samples": 4, "backend": "replay", "model_name": "m"})
    store.add_problems([Problem("repo__issue-1", "fix it")])
    # One right patch that keeps the old tests passing; three copies of a wrong one that breaks them.
    rows = [("hashA", True, True), ("hashB", False, False), ("hashB", False, False), ("hashB", False, False)]
    for i, (answer, ok, passes) in enumerate(rows):
        store.add_sample(Sample("repo__issue-1", i, "diff", 0, 0, i, 0.0))
        store.add_verdict("repo__issue-1", i, Verdict(ok, "resolved" if ok else "unresolved", answer,
                                                      {"passes_existing_tests": passes}))
    store.close()
    s = report_run(tmp_path / "run")
    curve = s["selection"]["existing-tests filter + vote"]
    assert s["selection"]["majority vote"][-1] == 0.0 and curve[-1] == 1.0  # k = N: exact
    assert curve[0] == pytest.approx(0.25)  # k = 1: one random patch
