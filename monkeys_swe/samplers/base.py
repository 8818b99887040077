"""The Sampler protocol: for each request, produce completions for its sample slots."""
from __future__ import annotations

import hashlib
from typing import Any, ClassVar, Iterable, Iterator, Protocol

from monkeys_swe.types import Sample, SampleRequest


class Sampler(Protocol):
    name: ClassVar[str]
    model_name: str  # what reports and cost tables call the model

    def generate(self, requests: Iterable[SampleRequest]) -> Iterator[Sample]:
        """Yield one Sample per slot of every request, in completion order, as soon as each is done."""
        ...

    def close(self) -> None: ...


def sample_seed(run_seed: int, problem_id: str, index: int) -> int:
    """A stable 31-bit seed per (run, problem, slot): the same slot always gets the same seed."""
    digest = hashlib.sha256(f"{run_seed}:{problem_id}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def make_sampler(config: Any) -> Sampler:
    """Build the sampler a RunConfig names (imports the backend lazily)."""
    from monkeys_swe.registry import sampler_class

    return sampler_class(config.backend).from_config(config)
