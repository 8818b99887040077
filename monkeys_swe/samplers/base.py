"""The Sampler: for each request, produce completions for its sample slots; or one completion.

A backend subclasses `BaseSampler` and implements `generate`; `complete` (one chat completion,
for the agent loop, the localizer and the judges) and `close` have defaults.
"""
from __future__ import annotations

import hashlib
from typing import Any, ClassVar, Iterable, Iterator

from monkeys_swe.errors import UserError
from monkeys_swe.types import FailedSlot, GenerationParams, Messages, Sample, SampleRequest


class SampleFailed(UserError):
    """The one completion `complete` asked for could not be made (after the backend's retries)."""


class SamplingCancelled(Exception):
    """`cancel()` was called (Ctrl-C, SIGTERM): the completion in progress was abandoned, not finished."""


class BaseSampler:
    name: ClassVar[str]
    model_name: str  # what reports and cost tables call the model

    def generate(self, requests: Iterable[SampleRequest]) -> Iterator[Sample | FailedSlot]:
        """Yield one Sample per slot of every request, in completion order, as soon as each is done;
        a FailedSlot for the slots of a request that failed (the runner records them, a rerun asks again)."""
        raise NotImplementedError

    def complete(self, messages: Messages, params: GenerationParams, *, seed: int = 0, problem_id: str = "call",
                 index: int = 0, question: str = "") -> Sample | None:
        """One chat completion of `messages` (None: a replay source has no reply for it)."""
        replies = self.generate([SampleRequest(problem_id, [dict(m) for m in messages], (index,), (seed,), params,
                                               question)])
        try:
            reply = next(iter(replies), None)
        finally:
            getattr(replies, "close", lambda: None)()
        if isinstance(reply, FailedSlot):
            raise SampleFailed(reply.error)
        return reply

    @classmethod
    def check_config(cls, config: Any) -> None:
        """Refuse a config this backend cannot use (a missing file...) before anything is loaded or shown."""

    def cancel(self) -> None:
        """Stop generating soon and safely (called from another thread on an interrupt): a completion in
        progress is abandoned between two decode steps and `generate` raises SamplingCancelled. A backend
        without native state (HTTP) needs nothing: its thread is a daemon and holds nothing to free."""

    def close(self) -> None:
        pass


Sampler = BaseSampler  # the type the runner, agent and judges take


def sample_seed(run_seed: int, problem_id: str, index: int) -> int:
    """A stable 31-bit seed per (run, problem, slot): the same slot always gets the same seed."""
    digest = hashlib.sha256(f"{run_seed}:{problem_id}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def make_sampler(config: Any) -> Sampler:
    """Build the sampler a RunConfig names (imports the backend lazily)."""
    from monkeys_swe.registry import sampler_class

    return sampler_class(config.backend).from_config(config)
