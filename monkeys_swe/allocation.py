"""Adaptive allocation: sample in rounds, and stop sampling a problem once it is solved.

Off by default: coverage curves need every sample. With it (`bench --adaptive`, and
`solve --stop-on-success`), the runner asks the sampler for one round at a time: `width`
new slots of every problem not yet solved (a correct verdict from the oracle verifier),
and waits until that round's attempts are judged before it asks for the next. So a solved
problem gets no further attempt. With `reallocate`, the slots a solved problem did not use
go to the unsolved ones (indices past `samples`), and the run still draws at most
problems x samples attempts in all; without it each problem keeps at most `samples`.
With `stop_all`, the first success ends sampling (solve's one issue).

Rounds are deterministic: problems in their stored order, each one's lowest free indices,
and a round's width is `max(1, ceil(workers / unsolved))` slots per problem.
"""
from __future__ import annotations

import dataclasses
import threading
from typing import Any, Iterator

from monkeys_swe.samplers.base import sample_seed
from monkeys_swe.types import FailedSlot, SampleRequest


class Rounds:
    def __init__(self, templates: dict[str, SampleRequest], filled: dict[str, set[int]], samples: int,
                 seed: int, solved: set[str], *, workers: int = 1, reallocate: bool = False):
        self.templates, self.samples, self.seed, self.solved = templates, samples, seed, solved
        self.workers, self.reallocate = max(1, workers), reallocate
        self.taken = {pid: set(filled.get(pid, ())) for pid in templates}  # stored or asked this session
        self.budget = len(templates) * samples - sum(len(v) for v in self.taken.values())
        self.rounds = 0
        self._pending: set[tuple[str, int]] = set()  # this round's attempts not judged yet
        self._cond = threading.Condition()

    def _next(self, pid: str, width: int) -> tuple[int, ...]:
        out, i = [], 0
        while len(out) < width and (self.reallocate or i < self.samples) and self.budget > 0:
            if i not in self.taken[pid]:
                out.append(i)
                self.taken[pid].add(i)
                self.budget -= 1
            i += 1
        return tuple(out)

    def next_round(self) -> list[SampleRequest]:
        live = [pid for pid in self.templates if pid not in self.solved]
        width = max(1, -(-self.workers // max(1, len(live))))
        requests = []
        for pid in live:
            indices = self._next(pid, width)
            if indices:
                seeds = tuple(sample_seed(self.seed, pid, i) for i in indices)
                requests.append(dataclasses.replace(self.templates[pid], indices=indices, seeds=seeds))
        return requests

    def generate(self, sampler: Any, stop: threading.Event) -> Iterator[Any]:
        """The sampler's items, round after round, until every problem is solved or its
        slots (the budget) are spent; each round waits for the last one's verdicts."""
        while not stop.is_set():
            requests = self.next_round()
            if not requests:
                return
            self.rounds += 1
            for item in sampler.generate(requests):
                if not isinstance(item, FailedSlot):
                    with self._cond:  # counted before the runner can see (and settle) it
                        self._pending.add((item.problem_id, item.index))
                yield item
                if stop.is_set():
                    return
            with self._cond:
                while self._pending and not stop.is_set():
                    self._cond.wait(0.5)

    def settle(self, problem_id: str, index: int) -> None:
        """An attempt was judged (or needs no judgement)."""
        with self._cond:
            self._pending.discard((problem_id, index))
            self._cond.notify_all()
