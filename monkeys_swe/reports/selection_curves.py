"""Selection curves for SWE runs (the paper's Figure 7 for SWE-bench), and what the tests cost.

For each selector, the expected success of the patch it would pick from k attempts, averaged
over k-subsets of each problem's judged attempts and then over problems, beside coverage:

  random pick                          a uniformly random attempt: mean success, the same at every k
  existing tests + vote                `solve --select vote` (solve/stages.py)
  reproduction tests (model-written)   `solve --select tests`: + most reproducing tests passed
  judge (est., 20 subsets/k)           `solve --judge`: the run's selector, then the LLM judge among
                                       up to 4 finalists (solve/judge.py); `report --judge-curve`

Expectation over subsets is exact (every k-subset, each judged by solve/stages.choose itself)
when there are at most `exact_limit` of them, else the mean over the k-prefixes of `trials` seeded
random orders, judged by `prefix_picks` (the same stages, incrementally; a test holds it equal to
`choose` on every prefix). So a curve is what `solve` would pick with k samples.

The judge costs a model call per distinct finalist set, so its curve is an estimate from at most
JUDGE_SUBSETS seeded subsets per k (`judge_subsets`; every subset where there are fewer), each
through the same stages as `solve` and then the judge. Its decisions are stored in the run
(solve/judge.py's table, keyed by the finalist set), so a rerun asks nothing again; without
`--judge-curve` a report shows the curve only when every decision it needs is already stored.
"""
from __future__ import annotations

import math
import os
import zlib
from itertools import combinations
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from monkeys_swe.solve.select import vote_key
from monkeys_swe.solve.stages import choose
from monkeys_swe.store import Store
from monkeys_swe.types import Verdict

if TYPE_CHECKING:
    from monkeys_swe.reports.summary import ProblemAttempts, RunData

RANDOM, VOTE, TESTS = "random pick", "existing tests + vote", "reproduction tests (model-written)"
JUDGE_SUBSETS = 20


def judge_name(per_k: int = JUDGE_SUBSETS) -> str:
    return f"judge (est., {per_k} subsets/k)"


def _rows(p: "ProblemAttempts") -> list[tuple[int, Verdict]]:
    return [(i, Verdict(ok, d.get("status") or ("malformed" if not d.get("patch") else "not_resolved"), a, d))
            for i, a, ok, d in zip(p.indices, p.answers, p.correct, p.details)]


def _visible(p: "ProblemAttempts") -> bool:
    """A local repository's own test command is visible to the selector (SWE-bench's tests are not)."""
    inst = p.problem.data.get("instance") or {}
    return bool(inst.get("repo_path")) and inst.get("test_cmd") is not None and p.problem.data.get("oracle") != "repro"


def subsets(n: int, k: int, *, exact_limit: int, trials: int, rng: np.random.Generator):
    """Every k-subset of range(n) when few enough, else `trials` uniform random ones (sorted tuples)."""
    if math.comb(n, k) <= exact_limit:
        yield from combinations(range(n), k)
        return
    for _ in range(trials):
        yield tuple(sorted(rng.choice(n, size=k, replace=False).tolist()))


def prefix_picks(rows: list[tuple[int, Verdict]], order: Sequence[int], *, visible: bool = False,
                 passed: dict[str, int] | None = None) -> list[bool]:
    """Was `choose` right on rows[order[:k]], for every k at once (O(n), not O(n) per k)?

    The stages are a lexicographic maximum of (passes existing tests, passes a visible test command,
    reproduction tests passed) over applied candidates; then most votes in that top tier, ties to
    the lowest attempt index. Adding one row only raises its own patch's (votes, -first index), so
    the leader is the old one or that patch."""
    best = None  # top tier so far
    votes: dict[str, int] = {}
    first: dict[str, tuple[int, bool]] = {}  # patch -> (lowest index in the tier, its verdict)
    leader: str | None = None
    out = []
    for j in order:
        i, v = rows[j]
        if v.answer and v.detail.get("patch") and not v.is_error and v.status in ("resolved", "not_resolved"):
            tier = (v.detail.get("passes_existing_tests") is not False, bool(v.correct) if visible else False,
                    (passed or {}).get(v.answer, 0) if passed is not None else 0)
            if best is None or tier > best:
                best, votes, first, leader = tier, {}, {}, None
            if tier == best:
                a = vote_key(v)  # a candidate by meaning, as choose() votes
                votes[a] = votes.get(a, 0) + 1
                if a not in first or i < first[a][0]:
                    first[a] = (i, v.correct)
                if leader is None or (votes[a], -first[a][0]) > (votes[leader], -first[leader][0]):
                    leader = a
        out.append(leader is not None and first[leader][1] is True)
    return out


def expected_pick_success(rows: list[tuple[int, Verdict]], ks: Sequence[int], pick, *, exact_limit: int = 2000,
                          trials: int = 100, rng: np.random.Generator | None = None, fast=None) -> list[float]:
    """Mean over k-subsets of whether `pick(subset rows)` (a Selection) chose a correct patch.

    Exact (every subset, `pick` itself) where C(n, k) <= exact_limit; elsewhere the prefixes of
    `trials` random orders, which are uniform k-subsets for every k at once, judged by `fast`
    (order -> right at each prefix: prefix_picks with the same selector) when given."""
    rng = rng or np.random.default_rng(0)
    n = len(rows)
    ks = [min(int(k), n) for k in ks]
    sampled = [k for k in ks if k and math.comb(n, k) > exact_limit]
    prefix_wins = np.zeros(n + 1)
    if sampled and fast is not None:
        for _ in range(trials):
            prefix_wins[1:] += fast(rng.permutation(n).tolist())
    out = []
    for k in ks:
        if k == 0:
            out.append(0.0)
        elif k in sampled and fast is not None:
            out.append(float(prefix_wins[k] / trials))
        else:
            wins = total = 0
            for sub in subsets(n, k, exact_limit=exact_limit, trials=trials, rng=rng):
                wins += pick([rows[j] for j in sub]).oracle_resolved is True
                total += 1
            out.append(wins / total)
    return out


def repro_tables(run_dir) -> dict[str, tuple[dict[str, int], int]]:
    """problem id -> (patch hash -> reproducing tests passed, reproducing tests), from the store."""
    from monkeys_swe.solve.repro_store import ReproStore

    store = Store(run_dir, create=False)
    try:
        if not ReproStore.exists(store):
            return {}
        rs = ReproStore(store)
        pids = [r[0] for r in store.db.execute("SELECT DISTINCT problem_id FROM repro_verdicts")]
        out = {}
        for pid in pids:
            tests = list(rs.reproducing(pid))
            out[pid] = (rs.passed_counts(pid, tests), len(tests))
        return out
    finally:
        store.close()


def swe_selection_curves(data: "RunData", ks: Sequence[int], *, trials: int = 100, seed: int = 0,
                         exact_limit: int = 2000) -> dict[str, list[float]]:
    """Selector name -> expected success at each k (mean over problems); {} with no problems."""
    return {name: [float(x) for x in m.mean(axis=0)]
            for name, m in swe_selection_matrices(data, ks, trials=trials, seed=seed, exact_limit=exact_limit).items()}


def swe_selection_matrices(data: "RunData", ks: Sequence[int], *, trials: int = 100, seed: int = 0,
                           exact_limit: int = 2000) -> dict[str, np.ndarray]:
    """Selector name -> expected success at each k per problem, shape (problems, len(ks)); a
    problem without judged attempts is a row of zeros (it counts, as unsolved)."""
    if not data.problems or not ks:
        return {}
    rng = np.random.default_rng(seed)
    tables = repro_tables(data.run_dir)
    names = [RANDOM, VOTE] + ([TESTS] if any(n for _, n in tables.values()) else [])
    out = {name: np.zeros((len(data.problems), len(ks))) for name in names}
    for j, p in enumerate(data.problems):
        rows = _rows(p)
        if not rows:
            continue
        visible = _visible(p)
        out[RANDOM][j] = np.mean(p.correct)
        out[VOTE][j] = expected_pick_success(rows, ks, lambda r: choose(r, "vote", verifier_is_visible=visible),
                                             exact_limit=exact_limit, trials=trials, rng=rng,
                                             fast=lambda order: prefix_picks(rows, order, visible=visible))
        if TESTS in out:
            passed, n = tables.get(p.problem.id, ({}, 0))
            out[TESTS][j] = expected_pick_success(
                rows, ks, lambda r: choose(r, "tests", verifier_is_visible=visible, passed=passed, n_tests=n),
                exact_limit=exact_limit, trials=trials, rng=rng,
                fast=lambda order: prefix_picks(rows, order, visible=visible, passed=passed if n else None))
    return out


def judge_subsets(problem_id: str, n: int, k: int, *, cap: int = JUDGE_SUBSETS, seed: int = 0) -> list[tuple[int, ...]]:
    """The k-subsets of range(n) the judge curve uses: all of them when at most `cap`, else `cap`
    uniform draws from a generator seeded by (seed, k, crc32(problem id)): the same on every rerun."""
    if math.comb(n, k) <= cap:
        return list(combinations(range(n), k))
    rng = np.random.default_rng([seed, k, zlib.crc32(problem_id.encode())])
    return [tuple(sorted(rng.choice(n, size=k, replace=False).tolist())) for _ in range(cap)]


def judge_sampler(config: dict[str, Any]):
    """The run's own sampler (its stored config: backend, model, replay source...), for the judge."""
    from monkeys_swe.config import RunConfig, parse_config
    from monkeys_swe.samplers.base import make_sampler

    fields = {k: v for k, v in config.items() if k in RunConfig.model_fields}
    return make_sampler(parse_config(RunConfig, fields, "the run's stored config"))


def judge_curve(data: "RunData", ks: Sequence[int], *, sampler=None, seed: int = 0,
                cap: int = JUDGE_SUBSETS) -> tuple[list[float] | None, dict[str, Any]]:
    """(expected success of `solve --judge`'s pick at each k, what it took); the curve is None when,
    without a sampler, a decision it needs is not stored."""
    from monkeys_swe.solve import judge

    store = Store(data.run_dir, create=False)
    if sampler is None and not judge.Decisions.exists(store):
        store.close()
        return None, {}
    try:  # the judge's own seed is the run's, as in `solve --judge`
        decisions = judge.Decisions(store, sampler, seed=int(data.config.get("seed") or 0))
        solved = store.get_meta("solve") or {}
        tables = repro_tables(data.run_dir)
        sums = np.zeros(len(ks))
        for p in data.problems:
            rows = _rows(p)
            if not rows:
                continue
            visible, (passed, n_tests) = _visible(p), tables.get(p.problem.id, ({}, 0))
            selector = solved.get("selector") or ("tests" if n_tests else "vote")
            inst = p.problem.data.get("instance") or {}
            repo = os.path.basename(inst["repo_path"]) if inst.get("repo_path") else str(inst.get("repo") or "")
            order = judge.first_seen(rows)
            for x, k in enumerate(ks):
                k = min(int(k), len(rows))
                if k == 0:
                    continue
                subs = judge_subsets(p.problem.id, len(rows), k, cap=cap, seed=seed)
                wins = 0
                for sub in subs:
                    r = [rows[j] for j in sub]
                    sel = choose(r, selector, verifier_is_visible=visible, passed=passed, n_tests=n_tests)
                    got = judge.pick(r, sel, decisions, p.problem.id, repo, p.problem.question, order)
                    if got is None:
                        return None, {}
                    wins += got[1] is True
                sums[x] += wins / len(subs)
        info = {"name": judge_name(cap), "subsets_per_k": cap, "calls": decisions.calls, **decisions.totals()}
        return [float(v) for v in sums / max(len(data.problems), 1)], info
    finally:
        store.close()


def repro_cost(data: "RunData") -> dict[str, Any] | None:
    """Test generation and test runs, apart from patch generation: tokens, dollars, sandbox seconds."""
    from monkeys_swe import cost
    from monkeys_swe.solve.repro_store import ReproStore

    store = Store(data.run_dir, create=False)
    try:
        if not ReproStore.exists(store):
            return None
        tests = ReproStore(store).cost()
    finally:
        store.close()
    cfg = data.config
    price = cost.price_of(cfg.get("model"), cfg.get("model_name"))
    runs = {}  # identical patches are verified once: count each verification once
    for p in data.problems:
        for a, d in zip(p.answers, p.details):
            if d.get("duration_s") is not None:
                runs[(p.problem.id, a)] = float(d["duration_s"]) + float((d.get("regression") or {}).get("duration_s") or 0)
    patch_s = sum(runs.values())
    pt, ct = data.counts["prompt_tokens"], data.counts["completion_tokens"]
    return {
        "patches": {"attempts": data.counts["attempts"], "prompt_tokens": pt, "completion_tokens": ct,
                    "dollars": cost.dollars(pt, ct, price) if price is not None else None,
                    "sandbox_s": round(patch_s, 2)},
        "tests": {"attempts": tests["test_attempts"], "prompt_tokens": tests["test_prompt_tokens"],
                  "completion_tokens": tests["test_completion_tokens"],
                  "dollars": (cost.dollars(tests["test_prompt_tokens"], tests["test_completion_tokens"], price)
                              if price is not None else None),
                  "sandbox_s": round(tests["test_classify_sandbox_s"] + tests["matrix_sandbox_s"], 2),
                  "classify_sandbox_s": tests["test_classify_sandbox_s"], "matrix_sandbox_s": tests["matrix_sandbox_s"],
                  "matrix_runs": tests["matrix_runs"], "statuses": tests["test_statuses"]},
    }
