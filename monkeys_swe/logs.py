"""Logging: the CLI's --verbose/--debug level on stderr, and a log file in every run directory.

Modules log to `logging.getLogger("monkeys_swe.<part>")`; nothing here prints. The run log
(RUN_DIR/run.log) always records INFO and above (with tracebacks of verifier and sampler
errors), whatever the terminal shows, so a finished run can be debugged after the fact.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = "monkeys_swe"
LOG_NAME = "run.log"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(verbose: bool = False, debug: bool = False) -> None:
    """Terminal logging for the CLI: errors only by default (the progress bars, tables and warnings
    of the reports speak for a run), INFO with --verbose, DEBUG with --debug."""
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.ERROR
    root = logging.getLogger(ROOT)
    root.setLevel(logging.DEBUG)  # handlers filter; the run log keeps INFO even when stderr is quiet
    for h in [h for h in root.handlers if getattr(h, "_monkeys_stderr", False)]:
        root.removeHandler(h)
    handler = logging.StreamHandler()
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler._monkeys_stderr = True  # type: ignore[attr-defined]
    root.addHandler(handler)


@contextmanager
def run_log(run_dir: str | Path) -> Iterator[Path]:
    """Append this process's monkeys_swe log records to RUN_DIR/run.log while the block runs."""
    path = Path(run_dir) / LOG_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter(_FORMAT))
    root = logging.getLogger(ROOT)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    root.addHandler(handler)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        handler.close()
