"""Selection: picking one attempt without the hidden tests, and its expected accuracy at k.

Coverage asks "is any of k attempts right?"; selection asks "is the one we would submit right?".
Methods: majority vote over normalized answers (patches: by meaning, `vote_answers`), reward-model best-of-N, RM-weighted vote, and
per task a filter that needs no hidden tests (SWE-bench: keep the patches that pass the repo's
existing tests, then vote). Accuracy at k is the expectation over `trials` random k-subsets;
the prefixes of one random permutation are uniform k-subsets for every k at once, so one
permutation per trial serves all ks. Ties are broken uniformly at random (in expectation).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

if TYPE_CHECKING:
    from monkeys_swe.reports.summary import ProblemAttempts, RunData

# task name -> (curve name, detail -> keep?) : which attempts a task's own filter keeps before voting.
# None from the function means "not known" (the attempt is kept). The `solve`/swebench verifier
# stores the existing-test result in the verdict detail.
AttemptFilter = Callable[[dict[str, Any]], "bool | None"]
TASK_FILTERS: dict[str, tuple[str, AttemptFilter]] = {
    "swebench": ("existing-tests filter + vote", lambda d: d.get("passes_existing_tests")),
}


def vote_accuracy(
    answers: Sequence[str | None], correct: Sequence[bool], ks: Sequence[int],
    weights: Sequence[float] | None = None, trials: int = 100, rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Expected accuracy of (weighted) vote over random k-subsets of one problem's attempts.

    An answer is right iff some attempt giving it was judged correct. Attempts without an answer
    (None) or with weight <= 0 don't vote; a subset with no votes scores 0.
    """
    rng = rng or np.random.default_rng(0)
    n, out = len(answers), np.zeros(len(ks))
    if n == 0:
        return out
    labels = sorted({a for a in answers if a is not None})
    codes = {a: i for i, a in enumerate(labels)}
    coded = np.array([codes.get(a, -1) for a in answers], dtype=np.int64)
    right = np.zeros(len(labels), dtype=bool)
    for a, ok in zip(answers, correct):
        if ok and a is not None:
            right[codes[a]] = True
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    voting = (coded >= 0) & (w > 0)
    if not voting.any():
        return out
    reps = trials if min(ks) < n else 1  # every k >= n: the whole set, exact
    kk = np.minimum(np.asarray(ks, dtype=np.int64), n)
    one = np.mean(voting & right[np.maximum(coded, 0)])  # k=1 exactly: one random attempt's vote
    for _ in range(reps):
        perm = rng.permutation(n)
        tallies = _prefix_tallies(coded[perm], np.where(voting, w, 0.0)[perm], len(labels), kk)
        top = tallies.max(axis=1, keepdims=True)
        leaders = (tallies == top) & (top > 0)
        wins = (leaders & right[None, :]).sum(axis=1) / np.maximum(leaders.sum(axis=1), 1)
        out += np.where(kk == 1, one, wins)
    return out / reps


def _prefix_tallies(codes: np.ndarray, weights: np.ndarray, n_labels: int, ks: np.ndarray) -> np.ndarray:
    """Vote totals per answer over the first k attempts, for each k: shape (len(ks), n_labels).

    One bincount per k touches sum(ks) elements, about 5n for 40 log-spaced ks: less than a
    cumulative one-hot table (n x answers) and O(n) memory when most answers are distinct.
    """
    valid = codes >= 0
    out = np.empty((len(ks), n_labels))
    for j, k in enumerate(ks):
        m = valid[:k]
        out[j] = np.bincount(codes[:k][m], weights=weights[:k][m], minlength=n_labels)
    return out


def best_of_n_accuracy(
    scores: Sequence[float], correct: Sequence[bool], ks: Sequence[int], trials: int = 100,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Expected accuracy of submitting the highest-scored attempt of a random k-subset."""
    rng = rng or np.random.default_rng(0)
    n, out = len(scores), np.zeros(len(ks))
    if n == 0:
        return out
    s, ok = np.asarray(scores, dtype=float), np.asarray(correct, dtype=bool)
    reps = trials if min(ks) < n else 1
    for _ in range(reps):
        perm = rng.permutation(n)
        ps, pc = s[perm], ok[perm]
        for j, k in enumerate(ks):
            k = min(int(k), n)
            if k == 1:  # exact: one random attempt
                out[j] += ok.mean()
                continue
            top = ps[:k] == ps[:k].max()
            out[j] += pc[:k][top].mean()
    return out / reps


def vote_answers(p: "ProblemAttempts") -> list[str | None]:
    """What each attempt votes for: its answer, or for a patch the meaning-level key stored with
    its verdict (`semantic_key`, harness.normalize: the key dedupe uses), so that patches differing
    only in whitespace, comments or hunk layout are one answer. No answer stays None."""
    return [None if a is None else ((d or {}).get("semantic_key") or a) for a, d in zip(p.answers, p.details)]


def _positive(weights: np.ndarray) -> np.ndarray:
    """RM scores as vote weights: shifted to be positive when a scorer gives negatives (logprobs)."""
    low = weights.min(initial=0.0)
    return weights - low + 1e-6 if low < 0 else weights


def selection_curves(data: "RunData", ks: Sequence[int], *, trials: int = 100, seed: int = 0) -> dict[str, list[float]]:
    """Mean over problems of each selection method's expected accuracy at each k."""
    return {name: list(m.mean(axis=0)) for name, m in selection_matrices(data, ks, trials=trials, seed=seed).items()}


def selection_matrices(data: "RunData", ks: Sequence[int], *, trials: int = 100, seed: int = 0) -> dict[str, np.ndarray]:
    """Each selection method's expected accuracy at each k, per problem: shape (problems, len(ks)).

    The rows are what the bootstrap over problems resamples (selection_quality.py)."""
    rng = np.random.default_rng(seed)
    problems = data.problems
    rows = max(len(problems), 1)  # no problems: one row of zeros, as the mean was
    curves: dict[str, np.ndarray] = {"majority vote": np.zeros((rows, len(ks)))}
    for j, p in enumerate(problems):
        curves["majority vote"][j] = vote_accuracy(vote_answers(p), p.correct, ks, trials=trials, rng=rng)
    for scorer, table in data.scores.items():
        if not _scored_everywhere(problems, table):
            continue  # a partial scoring pass would compare subsets of different attempts
        bon, wv = np.zeros((rows, len(ks))), np.zeros((rows, len(ks)))
        for j, p in enumerate(problems):
            s = np.array([table[(p.problem.id, i)] for i in p.indices], dtype=float)
            bon[j] = best_of_n_accuracy(s, p.correct, ks, trials=trials, rng=rng)
            wv[j] = vote_accuracy(vote_answers(p), p.correct, ks, _positive(s), trials=trials, rng=rng)
        curves[f"best-of-N ({scorer})"] = bon
        curves[f"RM-weighted vote ({scorer})"] = wv
    task_filter = TASK_FILTERS.get(str(data.config.get("task")))
    if task_filter and _filter_applies(problems, task_filter[1]):
        name, keep = task_filter
        curves[name] = np.zeros((rows, len(ks)))
        for j, p in enumerate(problems):
            curves[name][j] = _filtered_vote(p, keep, ks, trials, rng)
    return curves


def _scored_everywhere(problems: list["ProblemAttempts"], table: dict[tuple[str, int], float]) -> bool:
    return all((p.problem.id, i) in table for p in problems for i in p.indices) and bool(table)


def _filter_applies(problems: list["ProblemAttempts"], keep: AttemptFilter) -> bool:
    return any(keep(d) is not None for p in problems for d in p.details)


def _filtered_vote(p: "ProblemAttempts", keep: AttemptFilter, ks: Sequence[int], trials: int, rng) -> np.ndarray:
    """Vote among attempts the filter keeps; if it keeps none of a subset, vote among all of it.

    Implemented as weights: kept attempts outweigh all the rest together (weight n+1 vs 1).
    """
    n = len(p.answers)
    weights = [float(n + 1) if keep(d) is not False else 1.0 for d in p.details]
    return vote_accuracy(vote_answers(p), p.correct, ks, weights, trials=trials, rng=rng)
