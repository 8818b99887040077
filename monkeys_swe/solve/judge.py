"""`solve --judge`: a final LLM judge among the top candidates (CodeMonkeys's selection step).

After the stages (solve/stages.py), the distinct patches that tie at the top (at most
MAX_CANDIDATES, most votes first) are shown to the model with the issue, labelled A, B, C... in
the order the run first saw them, and it answers with one letter, through the run's own sampler
(`BaseSampler.complete`; a replay source answers with record id "judge:<instance>", slot = how
many decisions that instance had before). An answer naming no candidate leaves the stages'
choice in place.

Every decision is a row of the store's `judge_decisions` table, keyed by the finalist *set*:
the same finalists are judged once, by `solve --judge` and by the judge selection curve
(reports/selection_curves.py, `report --judge-curve`) alike, and a rerun asks nothing again.
"""
from __future__ import annotations

import hashlib
import json
import re
import time
from collections import Counter
from typing import Any

from monkeys_swe.samplers.base import Sampler
from monkeys_swe.solve.select import vote_key
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
SCHEMA = """
CREATE TABLE IF NOT EXISTS judge_decisions (
    problem_id TEXT NOT NULL, candidates_id TEXT NOT NULL, candidates TEXT NOT NULL, choice TEXT,
    reply TEXT NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL,
    ordinal INTEGER NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (problem_id, candidates_id)
);
"""


def first_seen(rows: list[tuple[int, Verdict]]) -> dict[str, int]:
    """vote key -> the lowest attempt index with it (the order candidates are shown in)."""
    out: dict[str, int] = {}
    for i, v in rows:
        k = vote_key(v)
        if k and (k not in out or i < out[k]):
            out[k] = i
    return out


def finalists(rows: list[tuple[int, Verdict]], top: list[str], order: dict[str, int] | None = None) -> list[tuple[str, str]]:
    """(vote key, patch) of the tied top candidates: the MAX_CANDIDATES with most votes in `rows`
    (then first seen), shown in `order` (vote key -> first index in the whole run; default `rows`).
    A vote key (solve/select.py) is a candidate by meaning; its patch is its first-seen one."""
    rows = [(i, v) for i, v in rows if vote_key(v) in top and not v.is_error]
    votes = Counter(vote_key(v) for _, v in rows)
    first = {}
    for i, v in sorted(rows, key=lambda r: r[0]):
        if v.detail.get("patch"):
            first.setdefault(vote_key(v), (i, v.detail["patch"]))
    kept = sorted((h for h in top if h in first), key=lambda h: (-votes[h], first[h][0]))[:MAX_CANDIDATES]
    order = order or {h: f[0] for h, f in first.items()}
    return [(h, first[h][1]) for h in sorted(kept, key=lambda h: (order.get(h, first[h][0]), h))]


def judge_messages(repo: str, issue: str, patches: list[str]) -> Messages:
    shown = "\n\n".join(f"Candidate {chr(65 + j)}:\n```diff\n{p[:MAX_PATCH_CHARS]}```" for j, p in enumerate(patches))
    return [{"role": "user", "content": TEMPLATE.format(repo=repo, issue=issue.strip(), candidates=shown)}]


def parse_choice(text: str, n: int) -> int | None:
    """"Candidate B" (any case) first, else the first standalone capital letter that names one."""
    letters = "".join(chr(65 + j) for j in range(n))
    m = (re.search(rf"\bcandidate\s+([{letters}])\b", text or "", re.I)
         or re.search(rf"(?<![\w'])([{letters}])(?![\w'])", text or ""))
    return None if not m else ord(m.group(1).upper()) - 65


def candidates_id(hashes) -> str:
    """The key of a finalist set (order does not matter)."""
    return hashlib.sha256(",".join(sorted(hashes)).encode()).hexdigest()[:16]


class Decisions:
    """The judge's stored decisions of one run; with a sampler, unseen finalist sets are asked (and stored)."""

    def __init__(self, store: Store, sampler: Sampler | None = None, *, seed: int = 0, max_tokens: int = 16):
        self.store, self.sampler, self.seed, self.max_tokens = store, sampler, seed, max_tokens
        self.calls = 0  # model calls made through this object
        store.db.executescript(SCHEMA)

    @staticmethod
    def exists(store: Store) -> bool:
        return store.db.execute("SELECT 1 FROM sqlite_master WHERE name='judge_decisions'").fetchone() is not None

    def stored(self, problem_id: str, hashes) -> dict[str, Any] | None:
        row = self.store.db.execute(
            "SELECT candidates, choice, reply, prompt_tokens, completion_tokens, ordinal FROM judge_decisions "
            "WHERE problem_id=? AND candidates_id=?", (problem_id, candidates_id(hashes))).fetchone()
        if row is None:
            return None
        return {"candidates_id": candidates_id(hashes), "candidates": json.loads(row[0]), "choice": row[1],
                "reply": row[2], "prompt_tokens": row[3], "completion_tokens": row[4], "ordinal": row[5]}

    def decide(self, problem_id: str, repo: str, issue: str, candidates: list[tuple[str, str]]) -> dict[str, Any] | None:
        """The decision among `candidates` (shown in the order given): stored, else asked when there is a
        sampler; None with fewer than 2 candidates or when it is not stored and there is no sampler."""
        if len(candidates) < 2:
            return None
        hashes = [h for h, _ in candidates]
        found = self.stored(problem_id, hashes)
        if found is not None or self.sampler is None:
            return found
        ordinal = self.store.db.execute("SELECT COUNT(*) FROM judge_decisions WHERE problem_id=?",
                                        (problem_id,)).fetchone()[0]
        key = f"judge:{problem_id}"
        sample = self.sampler.complete(judge_messages(repo, issue, [p for _, p in candidates]),
                                       GenerationParams(temperature=0.0, top_p=1.0, max_tokens=self.max_tokens),
                                       seed=self.seed, problem_id=key, index=ordinal, question=key)
        self.calls += 1
        text = sample.text if sample is not None else ""
        pick = parse_choice(text, len(candidates))
        out = {"candidates_id": candidates_id(hashes), "candidates": hashes, "reply": text[:500],
               "choice": None if pick is None else hashes[pick],
               "prompt_tokens": sample.prompt_tokens if sample else 0,
               "completion_tokens": sample.completion_tokens if sample else 0, "ordinal": ordinal}
        if sample is None:  # a replay source without a reply for it: no decision to keep
            return out
        self.store.db.execute("INSERT OR IGNORE INTO judge_decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                              (problem_id, out["candidates_id"], json.dumps(hashes), out["choice"], out["reply"],
                               out["prompt_tokens"], out["completion_tokens"], ordinal, time.time()))
        return out

    def totals(self) -> dict[str, int]:
        n, pt, ct = self.store.db.execute("SELECT COUNT(*), COALESCE(SUM(prompt_tokens), 0), "
                                          "COALESCE(SUM(completion_tokens), 0) FROM judge_decisions").fetchone()
        return {"decisions": n, "prompt_tokens": pt, "completion_tokens": ct}


def pick(rows: list[tuple[int, Verdict]], selection, decisions: Decisions, problem_id: str, repo: str, issue: str,
         order: dict[str, int] | None = None) -> tuple[str | None, bool | None] | None:
    """(chosen patch hash, its verdict) after the judge among `selection`'s finalists in `rows`; the
    stages' own choice when there is nothing to judge or the reply names no candidate; None when a
    decision is needed but not stored and `decisions` has no sampler."""
    cands = finalists(rows, selection.finalists, order)
    if len(cands) < 2:
        return selection.patch_hash, selection.oracle_resolved
    d = decisions.decide(problem_id, repo, issue, cands)
    if d is None:
        return None
    if d["choice"] is None:
        return selection.patch_hash, selection.oracle_resolved
    first = min(((i, v) for i, v in rows if vote_key(v) == d["choice"] and not v.is_error), key=lambda r: r[0])
    return first[1].answer, first[1].correct


def run(run_dir, sampler: Sampler, problem, inst, selector: str, *, visible: bool, seed: int = 0) -> dict | None:
    """Ask the judge about the stages' finalists (before `finish` selects; the sampler is still open)."""
    from monkeys_swe.solve.repro import repo_label
    from monkeys_swe.solve.stages import select_run

    store = Store(run_dir)
    try:
        rows = [(i, v) for p, i, v in store.verdicts() if p == problem.id]
        selection, _, _ = select_run(store, problem.id, rows, selector, verifier_is_visible=visible)
        out = Decisions(store, sampler, seed=seed).decide(problem.id, repo_label(inst), problem.question,
                                                          finalists(rows, selection.finalists))
        if out is not None:  # what `solve` judged last (its summary shows it)
            store.set_meta(f"judge:{problem.id}", out)
        return out
    finally:
        store.close()


def apply(store: Store, problem_id: str, rows: list[tuple[int, Verdict]], selection):
    """The selection with the stored judge's choice among exactly these finalists, when there is one."""
    from monkeys_swe.solve.select import Selection

    top = [h for h, _ in finalists(rows, selection.finalists)]
    stored = Decisions(store).stored(problem_id, top) if len(top) > 1 and Decisions.exists(store) else None
    if not stored or stored.get("choice") not in top:
        return selection
    first = min(((i, v) for i, v in rows if vote_key(v) == stored["choice"] and not v.is_error), key=lambda r: r[0])
    votes = sum(vote_key(v) == stored["choice"] for _, v in rows if v.status in ("resolved", "not_resolved"))
    return Selection(first[0], first[1].detail["patch"], first[1].answer, votes,
                     {**selection.stages, f"LLM judge among {len(top)}": 1}, first[1].correct, selection.finalists)
