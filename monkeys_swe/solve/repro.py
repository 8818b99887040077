"""Reproduction tests for one issue: sample them, judge each at the base commit, and run every
applied candidate patch against the ones that reproduce the issue (the candidate x test matrix).

    issue + code --sampler--> N test files --sandbox at base--> reproduces / passes_already / broken
    applied candidates x reproducing tests --one sandbox per candidate--> pass / fail per cell

Everything goes to the run's store as it happens (solve/repro_store.py): each sampled test when
it arrives, each distinct test's class when its sandbox finishes (identical tests, by AST, are
run once), each candidate's row of cells when its sandbox finishes. A rerun after a kill samples
only the missing slots, judges only unjudged (or `error`) tests, and runs a candidate only for
the cells it lacks.
"""
from __future__ import annotations

import hashlib
import logging
import os
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable

from monkeys_swe.samplers.base import Sampler, sample_seed
from monkeys_swe.solve.repro_store import ReproStore, ReproTest
from monkeys_swe.store import Store
from monkeys_swe.tasks.swebench import repro_tests as rt
from monkeys_swe.types import FailedSlot, GenerationParams, Problem, SampleRequest

log = logging.getLogger(__name__)
APPLIED = ("resolved", "not_resolved")


@dataclass
class ReproOutcome:
    sampled: int = 0
    distinct: int = 0
    statuses: dict[str, int] = field(default_factory=dict)  # over distinct tests
    reproducing: dict[str, str] = field(default_factory=dict)  # hash -> code
    new_sandbox_runs: int = 0  # classification runs made this session
    cache_hits: int = 0  # classifications answered by the verdict cache (no sandbox)
    failed_slots: int = 0


def repro_request(problem: Problem, repo: str, n: int, filled: set[int], params: GenerationParams,
                 seed: int) -> SampleRequest | None:
    missing = tuple(i for i in range(n) if i not in filled)
    if not missing:
        return None
    rid = rt.request_id(problem.id)
    messages = rt.repro_messages(repo, problem.question, problem.data.get("code", ""))
    return SampleRequest(rid, messages, missing, tuple(sample_seed(seed, rid, i) for i in missing), params,
                         rt.request_id(problem.question))


def judge_test(verifier, h: str, code: str) -> ReproTest:
    """Run one test alone at the base commit and classify it (errors become `error`)."""
    try:
        v = verifier.run_tests("", rt.repro_command([h]), test_patch=rt.repro_diff({h: code}),
                               stage=f"repro-{h[:12]}")
    except Exception as exc:  # the sandbox failed: not a judgement
        return ReproTest(h, "error", code, {"reason": f"{type(exc).__name__}: {exc}", "duration_s": 0})
    status, reason = rt.classify(h, v.status, v.tests, v.log_path, v.error)
    return ReproTest(h, status, code, {"reason": reason, "run_status": v.status, "duration_s": v.duration_s,
                                       "tests": rt.outcomes_of(h, v.tests), "log_path": v.log_path, "error": v.error,
                                       "cached": v.cached})


def sample_and_classify(store: Store, sampler: Sampler, verifier_for: Callable[[], Any], problem: Problem, *,
                        repo: str, n: int, params: GenerationParams, seed: int, workers: int = 2,
                        on_event: Callable[[str], None] = lambda msg: None) -> ReproOutcome:
    """Fill `n` test slots for `problem` and classify every distinct test (resuming what is stored)."""
    rs = ReproStore(store)
    out = ReproOutcome()
    judged = {h for h, t in rs.verdicts(problem.id).items() if t.status != "error"}
    pending: dict[Future, str] = {}
    pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="repro")
    submitted: set[str] = set()

    def consider(h: str, code: str | None) -> None:
        if h in judged or h in submitted:
            return
        why = rt.static_problem(code)
        if why is not None:  # no Docker needed to call it broken
            rs.set_verdict(problem.id, ReproTest(h, "broken", code, {"reason": why, "duration_s": 0}))
            judged.add(h)
            return
        submitted.add(h)
        pending[pool.submit(judge_test, verifier_for(), h, code)] = h

    def collect(block: bool) -> None:
        if not pending:
            return
        done, _ = wait(list(pending), timeout=None if block else 0, return_when=FIRST_COMPLETED)
        for fut in done:
            h = pending.pop(fut)
            t = fut.result()
            rs.set_verdict(problem.id, t)
            if t.detail.get("cached"):
                out.cache_hits += 1
            else:
                out.new_sandbox_runs += 1
            if t.status != "error":
                judged.add(h)
            on_event(f"test {h[:8]}: {t.status} ({t.detail.get('reason')})")

    try:
        for _, text, h in rs.attempts(problem.id):  # stored but never (or not successfully) judged
            consider(h, rt.extract_test(text))
        req = repro_request(problem, repo, n, rs.filled(problem.id), params, seed)
        if req is not None:
            for item in sampler.generate([req]):
                if isinstance(item, FailedSlot):
                    out.failed_slots += len(item.indices)
                    log.warning("test slots %s not filled: %s", list(item.indices), item.error)
                    continue
                code = rt.extract_test(item.text)
                h = rt.repro_hash(code, item.text)
                if rs.add_attempt(problem.id, item, h):
                    consider(h, code)
                collect(block=False)
        while pending:
            collect(block=True)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    attempts = rs.attempts(problem.id)
    verdicts = rs.verdicts(problem.id)
    out.sampled = len(attempts)
    out.distinct = len({h for _, _, h in attempts})
    for h in {h for _, _, h in attempts}:
        status = verdicts[h].status if h in verdicts else "error"
        out.statuses[status] = out.statuses.get(status, 0) + 1
    out.reproducing = rs.reproducing(problem.id)
    return out


def candidates_of(store: Store, problem_id: str) -> list[tuple[str, str]]:
    """(patch hash, patch) of every distinct applied candidate, first seen first."""
    seen: dict[str, str] = {}
    for pid, _, v in store.verdicts():
        if pid == problem_id and v.status in APPLIED and v.answer and v.detail.get("patch"):
            seen.setdefault(v.answer, v.detail["patch"])
    return list(seen.items())


def run_candidate(verifier, patch_hash: str, patch: str, tests: dict[str, str]) -> dict[str, tuple[str, dict]]:
    """One sandbox: the candidate, then every given test; -> test hash -> (outcome, detail)."""
    run = hashlib.sha256((patch_hash + ":" + ",".join(sorted(tests))).encode()).hexdigest()[:12]
    try:
        v = verifier.run_tests(patch, rt.repro_command(list(tests)), test_patch=rt.repro_diff(tests),
                               stage=f"matrix-{run}")
    except Exception as exc:
        return {h: ("error", {"run": run, "error": f"{type(exc).__name__}: {exc}", "duration_s": 0}) for h in tests}
    return {h: (rt.cell_outcome(h, v.status, v.tests),
                {"run": run, "status": v.status, "tests": rt.outcomes_of(h, v.tests), "duration_s": v.duration_s,
                 "log_path": v.log_path, "error": v.error, "cached": v.cached}) for h in tests}


def cells_from_verdicts(store: Store, problem_id: str, tests: dict[str, str]) -> dict[str, dict[str, tuple[str, dict]]]:
    """When the reproduction tests were the verifier (`solve --repo` without `--test`), each candidate's
    verdict already ran them with the candidate applied: its cells need no second sandbox."""
    out: dict[str, dict[str, tuple[str, dict]]] = {}
    for pid, _, v in store.verdicts():
        outcomes = v.detail.get("repro_outcomes")
        if pid != problem_id or v.status not in APPLIED or not v.answer or not outcomes or v.answer in out:
            continue
        cells = {h: (rt.cell_outcome(h, v.status, outcomes),
                     {"run": "verdict", "status": v.status, "tests": rt.outcomes_of(h, outcomes), "duration_s": 0,
                      "log_path": v.detail.get("log_path")})
                 for h in tests if rt.outcomes_of(h, outcomes)}
        if cells:
            out[v.answer] = cells
    return out


def run_matrix(store: Store, verifier_for: Callable[[], Any], problem_id: str, tests: dict[str, str], *,
               workers: int = 2, on_event: Callable[[str], None] = lambda msg: None) -> dict[str, int]:
    """Fill the candidate x reproducing-test matrix; -> {"runs": sandbox runs made, "cells": cells stored}."""
    rs = ReproStore(store)
    have = rs.cells(problem_id)
    reused = {ph: {h: c for h, c in cells.items() if have.get((ph, h), "error") == "error"}
              for ph, cells in cells_from_verdicts(store, problem_id, tests).items()}
    reused = {ph: cells for ph, cells in reused.items() if cells}
    for ph, cells in reused.items():
        rs.set_cells(problem_id, ph, cells)
    have = rs.cells(problem_id)
    todo = []
    for ph, patch in candidates_of(store, problem_id):
        missing = {h: code for h, code in tests.items() if have.get((ph, h), "error") == "error"}
        if missing:
            todo.append((ph, patch, missing))
    stats = {"runs": 0, "cells": sum(map(len, reused.values())), "candidates": len(candidates_of(store, problem_id)),
             "tests": len(tests), "from_verdicts": len(reused)}
    if not todo:
        return stats
    pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix="matrix")
    try:
        futures = {pool.submit(run_candidate, verifier_for(), ph, patch, missing): ph for ph, patch, missing in todo}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                cells = fut.result()
                rs.set_cells(problem_id, futures[fut], cells)  # the loop's thread writes: one connection
                cached = any(d.get("cached") for _, d in cells.values())
                stats["cache_hits" if cached else "runs"] = stats.get("cache_hits" if cached else "runs", 0) + 1
                stats["cells"] += len(cells)
                on_event(f"candidate {futures[fut][:8]}: " + ", ".join(o for o, _ in cells.values()))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return stats


def repo_label(inst) -> str:
    return os.path.basename(inst.repo) if inst.repo_path else inst.repo


# -- the phases `solve` runs (solve/run.py) -----------------------------------------------
def tests_phase(run_dir, sampler: Sampler, verifier_for: Callable[[], Any], problem: Problem, inst, *, n: int,
                params: GenerationParams, seed: int, workers: int,
                status: Callable[[str], None] = lambda msg: None) -> ReproOutcome:
    """Sample and classify `n` reproduction tests (before any patch: a local repo's oracle may be them)."""
    status(f"writing {n} reproduction tests and running each at the base commit")
    store = Store(run_dir)
    try:
        out = sample_and_classify(store, sampler, verifier_for, problem, repo=repo_label(inst), n=n, params=params,
                                  seed=seed, workers=workers, on_event=log.info)
    finally:
        store.close()
    status("reproduction tests: " + ", ".join(f"{v} {k}" for k, v in sorted(out.statuses.items())))
    return out


def use_as_oracle(problem: Problem, reproducing: dict[str, str]) -> None:
    """`solve --repo` without `--test`: the reproducing tests become the instance's test patch and
    test command, so a candidate's verdict is "passes every model-written reproduction test"."""
    if not reproducing:
        from monkeys_swe.errors import UserError

        raise UserError("none of the model-written tests reproduces the issue, so nothing can judge the "
                        "candidates: give --test CMD, or more --tests")
    problem.data["instance"] = {**problem.data["instance"], "test_cmd": rt.repro_command(list(reproducing)),
                                "test_patch": rt.repro_diff(reproducing)}
    problem.data["oracle"] = "repro"


def matrix_phase(run_dir, verifier_for: Callable[[], Any], problem_id: str, *, workers: int,
                 status: Callable[[str], None] = lambda msg: None) -> dict[str, int]:
    store = Store(run_dir)
    try:
        tests = ReproStore(store).reproducing(problem_id)
        if not tests:
            return {"runs": 0, "cells": 0, "candidates": len(candidates_of(store, problem_id)), "tests": 0}
        status(f"running the applied candidates against {len(tests)} reproducing tests")
        return run_matrix(store, verifier_for, problem_id, tests, workers=workers, on_event=log.info)
    finally:
        store.close()


def ranking(store: Store, problem_id: str) -> tuple[dict[str, int], int]:
    """(patch hash -> reproducing tests passed, reproducing tests) for the `tests` selector."""
    if not ReproStore.exists(store):
        return {}, 0
    rs = ReproStore(store)
    tests = list(rs.reproducing(problem_id))
    return rs.passed_counts(problem_id, tests), len(tests)


def oracle_label(inst, model_oracle: bool) -> str:
    if model_oracle:
        return "model-written reproduction tests (not a real test suite)"
    return f"your test command `{inst.test_cmd}`" if inst.test_cmd else "hidden tests (SWE-bench), never used to choose"


def describe(store: Store, problem_id: str, summary: dict[str, Any], *, model_oracle: bool, tests_requested: int,
             models: list[str | None], matrix: dict[str, int] | None) -> None:
    """Add what the reproduction tests found and cost to a solve summary; with a model-written
    oracle, never call a candidate "resolved": it passes (or fails) the model's tests."""
    from monkeys_swe.cost import dollars_for_tokens

    verdict = store.get_meta(f"judge:{problem_id}")  # solve/judge.py, when --judge ran
    if verdict and summary["selection"]["stages"].get(f"LLM judge among {len(verdict['candidates'])}"):
        summary["judge"] = {k: verdict[k] for k in ("choice", "reply", "prompt_tokens", "completion_tokens")}
    if not ReproStore.exists(store) or not tests_requested:
        return
    rs = ReproStore(store)
    cost = rs.cost(problem_id)
    tests = list(rs.reproducing(problem_id))
    passed = rs.passed_counts(problem_id, tests)
    summary["repro"] = {
        "requested": tests_requested, "sampled": cost["test_attempts"],
        "distinct": sum(cost["test_statuses"].values()), "statuses": cost["test_statuses"],
        "reproducing": [rt.repro_path(h) for h in tests], "matrix": matrix or {},
        "passed": passed, "all_passed": sum(n == len(tests) for n in passed.values()) if tests else 0,
        "cost": {"prompt_tokens": cost["test_prompt_tokens"], "completion_tokens": cost["test_completion_tokens"],
                 "dollars": dollars_for_tokens(models, cost["test_prompt_tokens"], cost["test_completion_tokens"]),
                 "classify_sandbox_s": cost["test_classify_sandbox_s"], "matrix_sandbox_s": cost["matrix_sandbox_s"],
                 "matrix_runs": cost["matrix_runs"]},
    }
    if model_oracle:  # "resolved" would claim a real fix: say what was checked
        names = {"resolved": "passes_reproduction_tests", "not_resolved": "fails_reproduction_tests"}
        summary["statuses"] = {names.get(k, k): v for k, v in summary["statuses"].items()}
        summary["passes_reproduction_tests"] = summary.pop("resolved")
        for key in [k for k in summary if k.startswith("pass@")]:
            summary[key.replace("pass@", "repro_pass@")] = summary.pop(key)
        sel = summary["selection"]
        sel["passes_reproduction_tests"] = sel.pop("oracle_resolved")
        sel["oracle_resolved"] = None


def summary_rows(s: dict[str, Any]) -> list[tuple[str, str]]:
    """Rows for `solve`'s summary table: the oracle, what the tests were, what they cost."""
    rows = [("oracle", s["oracle"])] if s.get("oracle") else []
    r = s.get("repro")
    if not r:
        return rows
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(r["statuses"].items())) or "-"
    m, c = r.get("matrix") or {}, r["cost"]
    usd = "" if c.get("dollars") is None else f" (${c['dollars']:.4f})"
    rows += [
        ("reproduction tests", f"{r['sampled']} sampled, {r['distinct']} distinct: {statuses}"),
        ("candidates x tests", f"{m.get('candidates', 0)} applied candidates x {len(r['reproducing'])} reproducing tests; "
                               f"{r['all_passed']} candidates pass all ({m.get('runs', 0)} sandbox runs this time)"),
        ("test cost", f"{c['prompt_tokens']} prompt, {c['completion_tokens']} completion tokens{usd}; sandboxes "
                      f"{c['classify_sandbox_s']}s classifying, {c['matrix_sandbox_s']}s candidates x tests"),
    ]
    return rows
