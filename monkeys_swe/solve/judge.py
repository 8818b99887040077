"""`solve --judge`: a final LLM judge among the top candidates (CodeMonkeys's selection step).

After the stages (solve/stages.py), the distinct patches that tie at the top (at most
MAX_CANDIDATES, most votes first) are shown to the model with the issue, labelled A, B, C...,
and it answers with one letter, through the run's own sampler (`BaseSampler.complete`, so a
replay source answers with record id "judge:<instance>"). Its choice, reply and tokens are kept
in the store's meta (key "judge:<instance>") and reused on rerun while the candidates are the
same. An answer naming no candidate leaves the stages' choice in place.
"""
from __future__ import annotations

import hashlib
import re
from collections import Counter
from typing import Any

from monkeys_swe.samplers.base import Sampler
from monkeys_swe.store import Store
from monkeys_swe.types import GenerationParams, Messages, Verdict

MAX_CANDIDATES = 4
MAX_PATCH_CHARS = 6000
TEMPLATE = """\
An issue in the repository {repo}:

<issue>
{issue}
</issue>

Candidate patches:

{candidates}

Which candidate fixes the issue correctly? Answer with the candidate's letter only."""


def finalists(rows: list[tuple[int, Verdict]], top: list[str]) -> list[tuple[str, str]]:
    """(patch hash, patch) of the tied top candidates, most votes first (then first seen)."""
    votes = Counter(v.answer for _, v in rows if v.answer in top)
    first = {}
    for i, v in sorted(rows, key=lambda r: r[0]):
        if v.answer in top:
            first.setdefault(v.answer, (i, v.detail["patch"]))
    order = sorted(top, key=lambda h: (-votes[h], first[h][0]))
    return [(h, first[h][1]) for h in order[:MAX_CANDIDATES]]


def judge_messages(repo: str, issue: str, patches: list[str]) -> Messages:
    shown = "\n\n".join(f"Candidate {chr(65 + j)}:\n```diff\n{p[:MAX_PATCH_CHARS]}```" for j, p in enumerate(patches))
    return [{"role": "user", "content": TEMPLATE.format(repo=repo, issue=issue.strip(), candidates=shown)}]


def parse_choice(text: str, n: int) -> int | None:
    """"Candidate B" (any case) first, else the first standalone capital letter that names one."""
    letters = "".join(chr(65 + j) for j in range(n))
    m = (re.search(rf"\bcandidate\s+([{letters}])\b", text or "", re.I)
         or re.search(rf"(?<![\w'])([{letters}])(?![\w'])", text or ""))
    return None if not m else ord(m.group(1).upper()) - 65


def judge(store: Store, sampler: Sampler, problem_id: str, repo: str, issue: str,
          candidates: list[tuple[str, str]], *, seed: int = 0, max_tokens: int = 16) -> dict[str, Any] | None:
    """The judge's pick among `candidates` (stored; reused while they are the same), or None with fewer than 2."""
    if len(candidates) < 2:
        return None
    key = f"judge:{problem_id}"
    ident = hashlib.sha256(",".join(h for h, _ in candidates).encode()).hexdigest()[:16]
    stored = store.get_meta(key)
    if stored and stored.get("candidates_id") == ident:
        return stored
    sample = sampler.complete(judge_messages(repo, issue, [p for _, p in candidates]),
                              GenerationParams(temperature=0.0, top_p=1.0, max_tokens=max_tokens),
                              seed=seed, problem_id=key, question=key)
    text = sample.text if sample is not None else ""
    pick = parse_choice(text, len(candidates))
    out = {"candidates_id": ident, "candidates": [h for h, _ in candidates], "reply": text[:500],
           "choice": None if pick is None else candidates[pick][0],
           "prompt_tokens": sample.prompt_tokens if sample else 0,
           "completion_tokens": sample.completion_tokens if sample else 0}
    store.set_meta(key, out)
    return out


def run(run_dir, sampler: Sampler, problem, inst, selector: str, *, visible: bool, seed: int = 0) -> dict | None:
    """Ask the judge about the stages' finalists (before `finish` selects; the sampler is still open)."""
    from monkeys_swe.solve.repro import repo_label
    from monkeys_swe.solve.stages import select_run

    store = Store(run_dir)
    try:
        rows = [(i, v) for p, i, v in store.verdicts() if p == problem.id]
        selection, _, _ = select_run(store, problem.id, rows, selector, verifier_is_visible=visible)
        return judge(store, sampler, problem.id, repo_label(inst), problem.question,
                     finalists(rows, selection.finalists), seed=seed)
    finally:
        store.close()


def apply(store: Store, problem_id: str, rows: list[tuple[int, Verdict]], selection):
    """The selection with the stored judge's choice, when it judged exactly these finalists."""
    from monkeys_swe.solve.select import Selection

    stored = store.get_meta(f"judge:{problem_id}")
    top = selection.finalists[:MAX_CANDIDATES]
    if not stored or sorted(stored["candidates"]) != sorted(top) or stored.get("choice") not in top:
        return selection
    first = min((i, v) for i, v in rows if v.answer == stored["choice"] and not v.is_error)
    votes = sum(v.answer == stored["choice"] for _, v in rows if v.status in ("resolved", "not_resolved"))
    return Selection(first[0], first[1].detail["patch"], stored["choice"], votes,
                     {**selection.stages, f"LLM judge among {len(top)}": 1}, first[1].correct, selection.finalists)
