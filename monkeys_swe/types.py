"""The nouns every part shares: problems, sampling requests, samples, verdicts."""
from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any

# The one status that means "the verifier could not judge" (environment broken, checker missing,
# an exception): never counted as right or wrong, kept with its traceback, re-verified on resume.
ERROR = "error"

Messages = list[dict[str, str]]  # OpenAI-style chat messages: [{"role": ..., "content": ...}]


@dataclass(frozen=True)
class Problem:
    """One item of a task. `data` carries whatever the task's verifier needs (tests, an instance...)."""

    id: str
    question: str
    answer: str | None = None  # reference answer, where the task has one
    data: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class GenerationParams:
    temperature: float = 0.6
    top_p: float = 0.95
    max_tokens: int = 512
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class SampleRequest:
    """Fill sample slots `indices` of one problem; `seeds[i]` is the seed of slot `indices[i]`."""

    problem_id: str
    messages: Messages
    indices: tuple[int, ...]
    seeds: tuple[int, ...]
    params: GenerationParams
    question: str = ""  # the problem's own text, so replayed sample sets can be matched by it


@dataclass
class Sample:
    """One completion, as a sampler returns it and the store keeps it."""

    problem_id: str
    index: int
    text: str
    prompt_tokens: int
    completion_tokens: int
    seed: int | None
    latency_s: float
    finish_reason: str = "stop"
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Verdict:
    """The verifier's decision on one attempt.

    `answer` is the normalized answer (or patch hash, or program output signature) that
    majority vote groups by and that deduplicates verification; None when nothing was extracted.
    """

    correct: bool
    status: str  # "correct", "incorrect", "no_answer", ERROR, or a task's own (e.g. "resolved", "apply_failed")
    answer: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def is_error(self) -> bool:
        """The verifier could not judge: not a wrong answer, left out of every n."""
        return self.status == ERROR

    @classmethod
    def from_exception(cls, exc: BaseException, answer: str | None = None) -> "Verdict":
        """An `error` verdict that keeps the exception's message and traceback."""
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return cls(False, ERROR, answer, {"error": f"{type(exc).__name__}: {exc}", "traceback": tb[-8000:]})


@dataclass(frozen=True)
class FailedSlot:
    """Sample slots one request could not fill (it failed after the client's own retries).

    Samplers yield it in place of those Samples; the runner records each slot and a rerun asks again."""

    problem_id: str
    indices: tuple[int, ...]
    error: str
