"""Reward-model scorers: a number per attempt, for best-of-N and RM-weighted vote.

A scorer is anything with `name` and `score(problem, completion) -> float` (higher = more likely
right). Two real implementations ask an LLM judge for a 1-10 grade: through any OpenAI-compatible
endpoint, or in-process with llama.cpp (the embedded SmolLM2 by default). Both read the grade's
next-token distribution when the backend returns logprobs (the expected grade: a continuous
score with fewer ties than a sampled digit) and fall back to parsing the reply. A reply with no
grade scores 0, below every real grade. Scores are stored per scorer name in the run's store,
so scoring resumes and several judges can be compared on one run.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from monkeys_swe.errors import UserError
from monkeys_swe.samplers.openai import OpenAISampler, RequestFailed
from monkeys_swe.store import Store
from monkeys_swe.types import GenerationParams, Messages, Problem

GRADES = {str(g): g for g in range(1, 11)}
_GRADE = re.compile(r"\b(10|[1-9])\b")
PROMPT = (
    "Here is a problem and a proposed solution.\n\nProblem:\n{question}\n\nProposed solution:\n{completion}\n\n"
    "Grade how likely the solution's final answer is correct, from 1 (surely wrong) to 10 (surely right). "
    "Reply with the grade only."
)


class Scorer(Protocol):
    name: str

    def score(self, problem: Problem, completion: str) -> float: ...


def judge_messages(problem: Problem, completion: str, max_chars: int = 6000) -> Messages:
    # Long completions are cut from the front: the final answer is at the end.
    return [{"role": "user", "content": PROMPT.format(question=problem.question, completion=completion[-max_chars:])}]


def parse_grade(text: str) -> float | None:
    m = _GRADE.search(text or "")
    return float(m.group(1)) if m else None


def expected_grade(top_logprobs: dict[str, float]) -> float | None:
    """Mean grade under the next-token distribution, renormalized over the tokens that are grades."""
    probs = {GRADES[t.strip()]: math.exp(lp) for t, lp in top_logprobs.items() if t.strip() in GRADES}
    total = sum(probs.values())
    return sum(g * p for g, p in probs.items()) / total if total > 0 else None


class OpenAIJudge:
    """An LLM judge behind an OpenAI-compatible chat endpoint (temperature 0, one short reply)."""

    def __init__(self, base_url: str, model: str | None = None, *, api_key: str | None = None):
        self._server = OpenAISampler(base_url, model, api_key=api_key)  # its retries and error messages
        self.name = f"judge:{self._server.model_name}"
        self._logprobs: bool | None = None  # does the server return logprobs? learned on the first call

    def score(self, problem: Problem, completion: str) -> float:
        s, messages = self._server, judge_messages(problem, completion)
        if self._logprobs is not False:
            # until the server has shown it returns logprobs, one retry only: a refusal costs little
            client = s.client if self._logprobs else s.client.with_options(max_retries=1)
            try:
                reply = s._call(client.chat.completions.create, model=s.model, messages=messages, temperature=0,
                                max_tokens=4, logprobs=True, top_logprobs=10)
            except RequestFailed as exc:
                if not logprobs_unsupported(exc):
                    raise
                self._logprobs = False  # e.g. llama-cpp-python's server without logits_all
            else:
                self._logprobs = True
                choice = reply.choices[0]
                content = (choice.logprobs.content or []) if choice.logprobs else []
                grade = expected_grade({t.token: t.logprob for t in content[0].top_logprobs}) if content else None
                return grade if grade is not None else parse_grade(choice.message.content or "") or 0.0
        reply = s.complete(messages, GenerationParams(temperature=0.0, top_p=1.0, max_tokens=4), problem_id=problem.id)
        return parse_grade(reply.text if reply else "") or 0.0


def logprobs_unsupported(exc: RequestFailed) -> bool:
    """The server says it cannot return logprobs: a 4xx (not a rate limit) naming them, or the 500
    llama-cpp-python's server answers with "logprobs is not supported ..." (a ValueError it does not map)."""
    text, status = str(exc).lower(), exc.status
    if status is None or status in (408, 409, 429) or "logprob" not in text:
        return False
    return 400 <= status < 500 or "not supported" in text or "unsupported" in text


class LlamaCppJudge:
    """An in-process GGUF judge: the chat template, then "Grade: ", then the next token's distribution."""

    def __init__(self, model: str | None = None, *, n_ctx: int = 4096):
        from monkeys_swe.samplers.llamacpp import LlamaCppSampler

        # The sampler builds the Llama (threads, model lookup, its workarounds); logits_all: logprobs.
        sampler = LlamaCppSampler(model, n_ctx=n_ctx)
        self.llm = sampler.llm
        self.name = f"judge:{sampler.model_name}"
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        meta = self.llm.metadata
        template = meta.get("tokenizer.chat_template")
        if not template:
            raise UserError(f"{self.name}: the GGUF has no chat template; pick an instruction-tuned model as judge")
        vocab = self.llm._model
        self._format = Jinja2ChatFormatter(template, eos_token=vocab.token_get_text(vocab.token_eos()),
                                           bos_token=vocab.token_get_text(vocab.token_bos()))
        # Grades that are one token in this vocabulary ("10" usually is not: it then can't be read).
        self._grade_ids = {}
        for text in GRADES:
            ids = self.llm.tokenize(text.encode(), add_bos=False, special=False)
            if len(ids) == 1:
                self._grade_ids[text] = ids[0]

    def score(self, problem: Problem, completion: str) -> float:
        prompt = self._format(messages=judge_messages(problem, completion)).prompt + "Grade: "
        tokens = self.llm.tokenize(prompt.encode(), add_bos=False, special=True)
        self.llm.reset()
        self.llm.eval(tokens)
        # The last position's logits (llama-cpp-python keeps them only with logits_all, so read
        # the context's buffer), as log-probabilities, read at the grade tokens.
        logits = np.ctypeslib.as_array(self.llm._ctx.get_logits(), shape=(self.llm.n_vocab(),)).astype(np.float64)
        log_probs = logits - (logits.max() + np.log(np.exp(logits - logits.max()).sum()))
        grades = {text: float(log_probs[i]) for text, i in self._grade_ids.items()}
        return expected_grade(grades) or 0.0


REWARD_MODELS = ("hf-rm", "vllm-rm", "vllm-rm-server")  # rewards.py: sequence-classification reward models


def make_scorer(kind: str, *, model: str | None = None, base_url: str | None = None, api_key: str | None = None) -> Scorer:
    if kind in REWARD_MODELS:
        from monkeys_swe.rewards import make_reward_model

        return make_reward_model(kind, model, base_url=base_url)
    if kind == "llamacpp":
        return LlamaCppJudge(model)
    if kind == "openai":
        if not base_url:
            raise UserError("the openai judge needs --judge-base-url (an OpenAI-compatible server)")
        return OpenAIJudge(base_url, model, api_key=api_key)
    raise UserError(f"unknown judge '{kind}': choose llamacpp, openai, {', '.join(REWARD_MODELS)}")


def score_run(run_dir: str | Path, scorer: Scorer, on_progress: Callable[[int, int], Any] | None = None) -> int:
    """Score every attempt the scorer hasn't scored yet; returns how many were scored now. A scorer
    with `score_batch` (reward models) gets its `batch_size` attempts at a time; each batch is stored
    when scored, so an interrupted pass resumes where it stopped."""
    store = Store(run_dir, create=False)
    try:
        problems = {p.id: p for p in store.problems()}
        done = store.scores(scorer.name)
        todo = [s for s in store.samples() if (s.problem_id, s.index) not in done and s.problem_id in problems]
        batch = max(int(getattr(scorer, "batch_size", 1)), 1) if hasattr(scorer, "score_batch") else 1
        for start in range(0, len(todo), batch):
            chunk = todo[start:start + batch]
            if batch > 1:
                values = scorer.score_batch([(problems[s.problem_id], s.text) for s in chunk])  # type: ignore[attr-defined]
            else:
                values = [scorer.score(problems[s.problem_id], s.text) for s in chunk]
            with store.db:
                store.db.execute("BEGIN")
                for sample, value in zip(chunk, values):
                    store.add_score(sample.problem_id, sample.index, scorer.name, float(value))
            if on_progress:
                on_progress(start + len(chunk), len(todo))
        return len(todo)
    finally:
        store.close()
