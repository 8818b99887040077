"""The live `solve` panel: attempts, applied, passing, unique patches, tokens, time, cost.

The runner's stats say how many attempts and verdicts there are; what they say (applied,
passing the existing tests) lives in the run's SQLite store, which WAL mode lets us read
from a second connection while the loop writes. Reads are throttled to a few per second.
"""
from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from monkeys_swe.cost import dollars_for_tokens
from monkeys_swe.runner import RunStats
from monkeys_swe.store import DB_NAME

COUNTS_SQL = """
SELECT COUNT(*),
       SUM(status IN ('resolved', 'not_resolved')),
       SUM(json_extract(detail, '$.passes_existing_tests') = 1),
       SUM(correct),
       SUM(status = 'malformed'),
       COUNT(DISTINCT answer)
FROM verdicts"""
TOKENS_SQL = "SELECT COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0) FROM attempts"


@dataclass
class SolveCounts:
    attempts: int = 0
    target: int = 0
    verified: int = 0
    applied: int = 0
    passing: int = 0
    resolved: int = 0
    malformed: int = 0
    unique: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    started: float = field(default_factory=time.perf_counter)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def read_counts(run_dir: Path, counts: SolveCounts) -> SolveCounts:
    db = run_dir / DB_NAME
    if not db.exists():
        return counts
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        row = con.execute(COUNTS_SQL).fetchone()
        counts.verified, counts.applied, counts.passing, counts.resolved, counts.malformed, counts.unique = (
            int(x or 0) for x in row)
        counts.prompt_tokens, counts.completion_tokens = con.execute(TOKENS_SQL).fetchone()
    finally:
        con.close()
    return counts


def _fmt_time(s: float) -> str:
    return f"{int(s // 60)}m{s % 60:04.1f}s" if s >= 60 else f"{s:.1f}s"


class SolvePanel:
    """`update` is the runner's on_update. Without a terminal (CI, a log file) it prints one plain
    line whenever the counts change instead of redrawing a panel."""

    def __init__(self, title: str, run_dir: Path, target: int, models: list[str | None], console: Console | None = None,
                 refresh_s: float = 0.25, resolved_label: str = "resolved"):
        self.title, self.run_dir, self.models, self.refresh_s = title, Path(run_dir), models, refresh_s
        self.resolved_label = resolved_label  # "pass model-written tests" when they are the verifier
        self.console = console or Console(stderr=True)
        self.counts = SolveCounts(target=target)
        self._last = 0.0
        self._printed: tuple = ()
        self.live = Live(self.render(), console=self.console, refresh_per_second=4, transient=False)
        self.enabled = self.console.is_terminal

    def __enter__(self) -> "SolvePanel":
        if self.enabled:
            self.live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.refresh(force=True)
        if self.enabled:
            self.live.stop()

    def update(self, stats: RunStats) -> None:
        self.counts.attempts = stats.attempts
        self.refresh()

    def refresh(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._last < self.refresh_s:
            return
        self._last = now
        c = read_counts(self.run_dir, self.counts)
        if self.enabled:
            self.live.update(self.render())
            return
        state = (c.attempts, c.verified, c.applied, c.passing, c.resolved, c.unique)
        if state != self._printed:
            self._printed = state
            self.console.print(f"[{_fmt_time(c.elapsed)}] attempts {c.attempts}/{c.target}, verified {c.verified}, "
                               f"applied {c.applied}, passing {c.passing}, {self.resolved_label} {c.resolved}, "
                               f"unique patches {c.unique}, tokens {c.completion_tokens}", highlight=False, soft_wrap=True)

    def render(self) -> Panel:
        c = self.counts
        grid = Table.grid(padding=(0, 2))
        for _ in range(4):
            grid.add_column()
        dollars = dollars_for_tokens(self.models, c.prompt_tokens, c.completion_tokens)
        cost = f"${dollars:.4f}" if dollars is not None else "n/a (tokens only)"
        grid.add_row("attempts", f"{c.attempts}/{c.target}", "verified", str(c.verified))
        grid.add_row("applied", str(c.applied), "pass existing tests", str(c.passing))
        grid.add_row(self.resolved_label, f"[green]{c.resolved}[/]", "malformed", str(c.malformed))
        grid.add_row("unique patches", str(c.unique), "tokens", f"{c.prompt_tokens} in / {c.completion_tokens} out")
        grid.add_row("elapsed", _fmt_time(c.elapsed), "est. cost", cost)
        return Panel(Group(grid), title=self.title, border_style="cyan")
