"""Live terminal progress for a run: attempts, tokens/s, verified, correct, problems solved."""
from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from monkeys_swe.runner import RunStats


class RunProgress:
    """Two bars (sampling, verifying) and the running counts; `update` is the runner's on_update."""

    def __init__(self, console: Console | None = None, executor: object = None):
        self.console = console or Console(stderr=True)
        self.executor = executor  # a cluster adds a line: nodes, GPUs, docker slots, rates
        self.progress = Progress(
            TextColumn("[bold]{task.description:<10}"),
            BarColumn(bar_width=30),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
            disable=not self.console.is_terminal,
        )
        self.sampling = self.progress.add_task("sampling", total=None, info="")
        self.verifying = self.progress.add_task("verifying", total=None, info="")
        self.cluster = self.progress.add_task("cluster", total=None, info="") if executor and executor.describe() else None
        self._verified_at_start: int | None = None

    def __enter__(self) -> "RunProgress":
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, s: RunStats) -> None:
        self.progress.update(
            self.sampling, total=s.target_attempts, completed=s.attempts,
            info=f"{s.tokens_per_s:6.1f} tok/s  {s.completion_tokens} tokens",
        )
        self.progress.update(
            self.verifying, total=s.target_attempts, completed=s.verified,
            info=f"correct {s.correct}  solved {len(s.solved)}/{s.problems} problems",
        )
        if self.cluster is not None:
            self.progress.update(self.cluster, info=cluster_line(self.executor, s, self._start_count(s)))

    def _start_count(self, s: RunStats) -> int:
        if self._verified_at_start is None:
            self._verified_at_start = s.verified
        return self._verified_at_start


def cluster_line(executor: object, s: RunStats, verified_at_start: int = 0) -> str:
    """'2 nodes  GPU 0/0  docker 3/4 in use  1.2 attempts/s  0.8 verifications/s'."""
    elapsed = max(time.perf_counter() - s.started, 1e-9)
    return (f"{executor.describe()}  {s.generated_this_session / elapsed:.1f} attempts/s  "
            f"{(s.verified - verified_at_start) / elapsed:.1f} verifications/s")
