"""Live terminal progress for a run: attempts, tokens/s, verified, correct, problems solved."""
from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from monkeys_swe.runner import RunStats


class RunProgress:
    """Two bars (sampling, verifying) and the running counts; `update` is the runner's on_update."""

    def __init__(self, console: Console | None = None, executor: object = None, line_every_s: float = 10.0):
        self.console = console or Console(stderr=True)
        self.tty = self.console.is_terminal
        self.line_every_s = line_every_s  # without a terminal (piped, CI): one progress line at most this often
        self._last_line = 0.0
        self._printed: tuple = ()
        self._t0 = time.perf_counter()
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
        if not self.tty and self._stats is not None:
            self._line(self._stats, force=True)

    _stats: RunStats | None = None

    def phase(self, what: str) -> None:
        """A step before the counts move ("loading model", "preparing"): shown instead of a bare 0/?."""
        if self.tty:
            self.progress.update(self.sampling, info=f"[dim]{what}...[/]")
        else:
            self.console.print(f"[{self._elapsed()}] {what}...", highlight=False, soft_wrap=True)

    def _elapsed(self) -> str:
        secs = int(time.perf_counter() - self._t0)
        return f"{secs // 60}:{secs % 60:02d}"

    def _line(self, s: RunStats, force: bool = False) -> None:
        now = time.perf_counter()
        state = (s.attempts, s.verified, s.correct, s.errors, s.failed_slots)
        if state == self._printed or (not force and now - self._last_line < self.line_every_s and self._printed):
            return
        self._printed, self._last_line = state, now
        self.console.print(
            f"[{self._elapsed()}] attempts {s.attempts}/{s.target_attempts}, verified {s.verified}, correct {s.correct}, "
            f"solved {len(s.solved)}/{s.problems}" + (f", errors {s.errors}" if s.errors else "")
            + (f", failed slots {s.failed_slots}" if s.failed_slots else "") + f", {s.tokens_per_s:.1f} tok/s",
            highlight=False, soft_wrap=True)

    def update(self, s: RunStats) -> None:
        self._stats = s
        if not self.tty:
            self._line(s)
            return
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
