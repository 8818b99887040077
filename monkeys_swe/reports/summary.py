"""A run's numbers, read from its store: coverage, selection accuracy, per-problem rows.

Everything here is plain data (dicts of lists and numbers) so it goes to JSON, the terminal,
plots and HTML unchanged. Only judged attempts count: a run still going (or killed) is
reported on what has been judged so far, and `verified` < `attempts` says so. An `error`
verdict (the verifier could not judge) is not a wrong answer: it is left out of n everywhere
(pass@k, majority vote, every selection curve), counted in its own column, and warned about.
Unknown is not zero: a problem with no judged attempt is left out of coverage and selection
(`unjudged_problems` counts them), and a run with no judged attempt at all has no coverage:
`coverage_unknown` says why, the curves are empty and coverage@1/@N and majority@N are None.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from monkeys_swe.metrics import coverage_curve, log_spaced_ks, summarize_problem
from monkeys_swe.store import Store
from monkeys_swe.types import Problem


@dataclass
class ProblemAttempts:
    """One problem's judged attempts, in slot order."""

    problem: Problem
    indices: list[int] = field(default_factory=list)
    answers: list[str | None] = field(default_factory=list)
    correct: list[bool] = field(default_factory=list)
    details: list[dict[str, Any]] = field(default_factory=list)
    errors: int = 0  # attempts whose verdict is an error: not in the lists above


@dataclass
class RunData:
    run_dir: Path
    config: dict[str, Any]
    counts: dict[str, int]
    problems: list[ProblemAttempts]
    scores: dict[str, dict[tuple[str, int], float]]  # scorer -> (problem, slot) -> score
    cost: dict[str, Any] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)  # attempts per verdict status (Store.statuses)

    @property
    def n_max(self) -> int:
        """N: the samples per problem the run asked for (or the most any problem has)."""
        most = max((len(p.answers) for p in self.problems), default=0)
        return max(int(self.config.get("samples") or 0), most)


def load_run(run_dir: str | Path) -> RunData:
    store = Store(run_dir, create=False)
    try:
        by_id = {p.id: ProblemAttempts(p) for p in store.problems()}
        for pid, idx, verdict in store.verdicts():
            if pid in by_id:
                pa = by_id[pid]
                if verdict.is_error:
                    pa.errors += 1
                    continue
                pa.indices.append(idx)
                pa.answers.append(verdict.answer)
                pa.correct.append(verdict.correct)
                pa.details.append(verdict.detail)
        scorers = [r[0] for r in store.db.execute("SELECT DISTINCT scorer FROM scores ORDER BY scorer")]
        data = RunData(Path(run_dir), store.get_meta("config") or {}, store.counts(), list(by_id.values()),
                       {name: store.scores(name) for name in scorers})
        data.cost = _cost(store, log_spaced_ks(data.n_max, 40))
        data.statuses = store.statuses()
    finally:
        store.close()
    return data


def _cost(store: Store, ks: list[int]) -> dict[str, Any]:
    """Inference FLOPs and dollars (totals, and at each k) from monkeys_swe.cost; None where unknown.

    At k samples per problem: FLOPs are cost.flops_at_k (each problem's prompt once plus k times
    its mean per-sample decode); dollars are the prompt tokens billed plus k/n of the completion
    tokens (n: the run's mean attempts per problem), at the model's listed prices.
    """
    out: dict[str, Any] = {"flops": None, "dollars": None, "flops_at_k": None, "dollars_at_k": None, "cost_error": None}
    from monkeys_swe import cost

    counts = store.counts()
    if counts["attempts"] == 0:
        return out
    try:
        out["flops"] = float(cost.flops_for_run(store))
        out["flops_at_k"] = [float(x) for x in cost.flops_at_ks(store, list(ks))]
    except Exception as exc:  # unknown model dimensions: the report leaves FLOPs out and says why
        out["cost_error"] = str(exc)
    cfg = store.get_meta("config") or {}
    price = cost.price_of(cfg.get("model"), cfg.get("model_name"))
    if price is not None:
        out["dollars"] = cost.dollars(counts["prompt_tokens"], counts["completion_tokens"], price)
        mean_n = counts["attempts"] / max(counts["problems"], 1)
        out["dollars_at_k"] = [cost.dollars(counts["prompt_tokens"], counts["completion_tokens"] * k / mean_n, price)
                               for k in ks]
    return out


def summarize(data: RunData, *, trials: int = 100, seed: int = 0, judge_curve: bool = False,
              pipelines: dict[str, Any] | None = None) -> dict[str, Any]:
    """The summary dict `report_run` returns and writes as summary.json; `judge_curve`: ask the run's
    model for the judge decisions its judge curve still lacks (SWE runs); `pipelines`: name ->
    pipeline.Pipeline, each a selection curve ('select: NAME') with its interval."""
    from monkeys_swe.reports import selection_quality as quality
    from monkeys_swe.selection import selection_matrices  # here: selection imports this module's types

    cfg = data.config
    n_max = data.n_max
    judged = [p for p in data.problems if p.answers]  # no judged attempt: unknown, not a zero
    unjudged, everything, data = len(data.problems) - len(judged), data, replace(data, problems=judged)
    unknown = None if judged else f"no attempt was judged ({data.counts.get('errors', 0)} error verdicts)"
    ks = log_spaced_ks(n_max, 40) if judged else []
    n = [len(p.answers) for p in judged]
    c = [sum(p.correct) for p in judged]
    coverage = coverage_curve(n, c, ks) if ks else np.zeros(0)
    matrices = selection_matrices(data, ks, trials=trials, seed=seed) if ks else {}
    repro_cost = judge = None
    if judge_curve and cfg.get("task") != "swebench":
        from monkeys_swe.errors import UserError

        raise UserError(f"--judge-curve: {data.run_dir} is a {cfg.get('task')} run; the judge curve is for SWE runs")
    if cfg.get("task") == "swebench":  # random / solve's selectors / reproduction tests; tests' cost apart
        from monkeys_swe.reports import selection_curves as sc

        matrices.update(sc.swe_selection_matrices(data, ks, trials=trials, seed=seed))
        repro_cost = sc.repro_cost(data)
    if pipelines:
        from monkeys_swe.reports.pipeline_curves import pipeline_matrices

        matrices.update(pipeline_matrices(data, ks, pipelines, trials=trials, seed=seed))
    selection = {name: [float(x) for x in m.mean(axis=0)] for name, m in matrices.items()}
    if cfg.get("task") == "swebench":
        sampler = sc.judge_sampler(cfg) if judge_curve and ks else None
        try:  # without a sampler: only when every decision it needs is stored
            curve, info = sc.judge_curve(data, ks, sampler=sampler, seed=seed) if ks else (None, {})
        finally:
            if sampler is not None:
                sampler.close()
        if curve is not None:
            selection[info["name"]], judge = curve, info
    majority = selection.get("majority vote", [])
    rows = []
    for p in everything.problems:
        s = summarize_problem(p.problem.id, p.answers, p.correct, p.problem.answer)
        rows.append({"id": s.id, "attempts": s.attempts, "correct": s.correct, "errors": p.errors,
                     "tampered": tampered(p.details),
                     "top_answer": s.top_answer, "top_answer_share": round(s.top_answer_share, 4),
                     "reference": s.reference})
    counts = data.counts
    n_tampered = sum(r["tampered"] for r in rows)
    return {
        "run_dir": str(data.run_dir),
        "run_id": data.run_dir.name,
        "task": cfg.get("task"),
        "model": cfg.get("model_name") or cfg.get("model") or cfg.get("backend"),
        "backend": cfg.get("backend"),
        "temperature": cfg.get("temperature"),
        "samples": n_max,
        "problems": counts["problems"],
        "attempts": counts["attempts"],
        "verified": counts["verified"],
        "errors": counts["errors"],
        "failed_slots": counts["failed_slots"],
        "statuses": dict(data.statuses),
        "tampered": n_tampered,  # SWE attempts caught forging or changing what judges them (wrong, in n)
        "warnings": warnings(counts)
        + ([f"{unjudged} of {len(everything.problems)} problems have no judged attempt: "
            "left out of coverage and selection"] if unjudged else [])
        + ([f"{n_tampered} attempts were caught tampering with the tests or the runner "
            "(harness/README.md): counted as wrong"] if n_tampered else []),
        "unjudged_problems": unjudged,
        "coverage_unknown": unknown,
        "correct_attempts": counts["correct"],
        "solved": sum(1 for x in c if x > 0),
        "prompt_tokens": counts["prompt_tokens"],
        "completion_tokens": counts["completion_tokens"],
        **data.cost,
        "ks": [int(k) for k in ks],
        "coverage": [float(x) for x in coverage],
        "selection": {name: [float(x) for x in curve] for name, curve in selection.items()},
        "bootstrap": quality.intervals(data, ks, matrices, seed=seed) if ks else None,
        "scorers": quality.scorer_quality(data),
        "pipelines": {name: p.spec for name, p in (pipelines or {}).items()},
        "repro_cost": repro_cost,
        "judge_curve": judge,
        "coverage_at_1": float(coverage[0]) if len(coverage) else None,
        "coverage_at_n": float(coverage[-1]) if len(coverage) else None,
        "majority_at_n": float(majority[-1]) if len(majority) else None,
        "per_problem": rows,
    }


def tampered(details: list[dict[str, Any]]) -> int:
    """How many of these verdicts are `tampered` (harness: forged or changed what judges them)."""
    return sum(1 for d in details if (d or {}).get("status") == "tampered")


def warnings(counts: dict[str, int]) -> list[str]:
    """What makes the numbers partial: verifier errors (left out of n) and unfilled slots."""
    out = []
    if counts.get("errors"):
        out.append(f"{counts['errors']} attempts have error verdicts (the verifier could not judge them): "
                   "they are left out of every n; rerun the same command to verify them again")
    if counts.get("failed_slots"):
        out.append(f"{counts['failed_slots']} sample slots failed to generate: rerun the same command to fill them")
    return out
