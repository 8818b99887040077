"""What a task is: problems in, prompts out, completions judged.

A task subclasses `Task` and implements `load`, `messages` and `verify`; the rest has defaults.
Its constructor's keyword arguments are its settings: `RunConfig.task_args` passes them, and
every one of them is part of the run's identity (a rerun under other settings is another run)
except those named in `cosmetic_args` (where files go, worker counts, where a mirror lives:
things that cannot change a verdict).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Iterable

from monkeys_swe.errors import UserError
from monkeys_swe.types import Messages, Problem, Verdict


class Task:
    name: ClassVar[str]
    stop: ClassVar[tuple[str, ...]] = ()
    # 0: verify inline in the run loop's thread (cheap checks; math-verify's signal timeouts need
    # the main thread). >0: that many concurrent verifications in worker threads (Docker, sandboxes).
    verify_workers: ClassVar[int] = 0
    # constructor keyword arguments that cannot change a verdict (kept out of the run's identity)
    cosmetic_args: ClassVar[frozenset[str]] = frozenset()

    def load(self, data: str | None, limit: int | None) -> list[Problem]:
        raise NotImplementedError

    def messages(self, problem: Problem) -> Messages:
        raise NotImplementedError

    def verify(self, problem: Problem, completion: str) -> Verdict:
        raise NotImplementedError

    def dedupe_key(self, problem: Problem, completion: str) -> str:
        """Completions with the same key get one verification (the answer, a patch hash...)."""
        return completion.strip()

    def settings(self) -> dict[str, Any]:
        """Values besides the completion and the tests that decide a verdict (limits, images...).

        The runner stores them with the run and refuses to resume it under different ones."""
        return {}

    def prepare(self, problems: list[Problem]) -> None:
        """Called by the runner before sampling: build images, start pools (setup errors come first)."""

    def close(self) -> None:
        """Called by the runner after the run: stop containers and pools. Must be safe to call twice."""


# The fields each task's rows carry, most specific first: a file of another layout is named by
# the task it fits (`bench gsm8k --data math500.jsonl` says it is MATH data, not "KeyError").
LAYOUTS: list[tuple[str, tuple[str, ...]]] = [
    ("swebench", ("instance_id", "repo", "base_commit")),
    ("humaneval", ("task_id", "prompt", "entry_point", "test")),
    ("minif2f", ("formal_statement",)),
    ("codecontests", ("description", "public_tests")),
    ("codecontests (APPS)", ("question", "test_list")),
    ("math", ("problem",)),
    ("gsm8k", ("question", "answer")),
]


def layout_of(row: dict[str, Any]) -> str | None:
    """The task whose data this row looks like, or None."""
    return next((task for task, fields in LAYOUTS if all(f in row for f in fields)), None)


def require_fields(row: Any, fields: tuple[str, ...], task: str, where: Any, index: int) -> None:
    """UserError naming the missing field and the task the row fits, when `row` lacks one of `fields`."""
    if not isinstance(row, dict):
        raise UserError(f"{where}: row {index + 1} is a {type(row).__name__}, not a JSON object with {', '.join(fields)}")
    missing = [f for f in fields if f not in row]
    if missing:
        raise UserError(missing_field_message(row, missing[0], task, where, index))


def missing_field_message(row: dict[str, Any], field: str, task: str, where: Any, index: int) -> str:
    fits = layout_of(row)
    hint = (f"; it looks like {fits} data (`monkeys-swe bench {fits.split()[0]}`)" if fits and fits != task
            else f"; its fields: {', '.join(sorted(row)[:8])}")
    return f"{where}: row {index + 1} has no '{field}' field, which task {task} needs{hint}"


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a local JSONL / JSONL.gz / JSON-array / parquet file."""
    from harness.records import RecordsError, read_json_records

    path = Path(path)
    if not path.exists():
        raise UserError(f"data file not found: {path}")
    if path.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq

            return pq.read_table(path).to_pylist()
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot read data file {path}: {exc}") from None
    try:
        return read_json_records(path)
    except RecordsError as exc:
        raise UserError(f"cannot read data file {exc}") from None


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
