"""What a task is: problems in, prompts out, completions judged."""
from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any, ClassVar, Iterable, Protocol

from monkeys_swe.errors import UserError
from monkeys_swe.types import Messages, Problem, Verdict


class Task(Protocol):
    name: ClassVar[str]
    stop: ClassVar[tuple[str, ...]]
    # 0: verify inline in the run loop's thread (cheap checks; math-verify's signal timeouts need
    # the main thread). >0: that many concurrent verifications in worker threads (Docker, sandboxes).
    verify_workers: ClassVar[int]

    def load(self, data: str | None, limit: int | None) -> list[Problem]: ...

    def messages(self, problem: Problem) -> Messages: ...

    def verify(self, problem: Problem, completion: str) -> Verdict: ...


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a local JSONL / JSONL.gz / JSON-array / parquet file."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"data file not found: {path}")
    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path).to_pylist()
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as f:
            text = f.read()
        if text.lstrip().startswith("["):
            return list(json.loads(text))
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read data file {path}: {exc}") from None


def load_hf(name: str, split: str, config: str | None = None) -> Iterable[dict[str, Any]]:
    """Rows of a Hugging Face dataset; a one-line error when the hub can't be reached."""
    try:
        import datasets

        return datasets.load_dataset(name, config, split=split)
    except Exception as exc:  # the hub raises many types; all mean "can't load it"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"cannot load Hugging Face dataset {name} ({split}): {first[:200]} -- pass --data FILE to use a local copy"
        ) from None
