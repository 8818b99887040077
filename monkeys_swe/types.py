"""The nouns every part shares: problems, sampling requests, samples, verdicts."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
    status: str  # "correct", "incorrect", "no_answer", or a task's own (e.g. "resolved", "apply_failed")
    answer: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
