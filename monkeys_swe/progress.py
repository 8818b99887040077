"""Live terminal progress for a run: attempts, tokens/s, verified, correct, problems solved."""
from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from monkeys_swe.runner import RunStats


class RunProgress:
    """Two bars (sampling, verifying) and the running counts; `update` is the runner's on_update."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)
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
