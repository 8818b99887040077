"""Choosing problems: `--ids`, `--filter` and `--slice`, applied after loading and before `--limit`.

In that order: the ids (a comma list, or @FILE with one id per line), then the regex on ids
(`re.search`), then the python-style slice of what is left, then the first `--limit` of that.
The chosen problems keep the data's order. An unknown id, a bad slice or regex, and a choice
that leaves nothing are one-line errors. What is chosen is part of the run's identity (config.py).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

from monkeys_swe.errors import UserError

T = TypeVar("T")


def parse_ids(value: str | Sequence[str] | None) -> list[str] | None:
    """`a,b,c`, `@ids.txt` (ids on lines or comma-separated; `#` starts a comment) or a list."""
    if value is None:
        return None
    if isinstance(value, str):
        if value.startswith("@"):
            path = Path(value[1:]).expanduser()
            if not path.is_file():
                raise UserError(f"--ids {value}: file not found: {path}")
            text = "\n".join(line.split("#", 1)[0] for line in path.read_text(encoding="utf-8").splitlines())
        else:
            text = value
        items = [part.strip() for part in re.split(r"[,\n]", text)]
    else:
        items = [str(part).strip() for part in value]
    ids = sorted(set(i for i in items if i))
    if not ids:
        raise UserError(f"--ids {value if isinstance(value, str) else ','.join(value)!r}: names no id")
    return ids


def parse_slice(value: str) -> slice:
    """`start:stop[:step]` as in python (`:10`, `5:`, `::2`, `-20:`); a bare `N` means `N:N+1`."""
    parts = value.strip().split(":")
    if not 1 <= len(parts) <= 3 or not all(re.fullmatch(r"\s*(-?\d+)?\s*", p) for p in parts):
        raise UserError(f"--slice {value!r}: expected start:stop[:step] with integers, e.g. 0:50 or ::2")
    nums = [int(p) if p.strip() else None for p in parts]
    if len(parts) == 1:
        if nums[0] is None:
            raise UserError(f"--slice {value!r}: expected start:stop[:step] with integers, e.g. 0:50 or ::2")
        return slice(nums[0], nums[0] + 1 if nums[0] != -1 else None)
    if len(nums) == 3 and nums[2] == 0:
        raise UserError(f"--slice {value!r}: the step cannot be 0")
    return slice(*nums)


def compile_filter(value: str) -> re.Pattern:
    try:
        return re.compile(value)
    except re.error as exc:
        raise UserError(f"--filter {value!r}: not a valid regular expression ({exc})") from None


def choose(items: Sequence[T], key: Callable[[T], str], *, ids: Sequence[str] | None = None,
           filter: str | None = None, slice: str | None = None, limit: int | None = None,
           where: str = "the data") -> list[T]:
    """The chosen items, in their order; one-line errors for unknown ids and for an empty choice."""
    chosen = list(items)
    if ids is not None:
        wanted = set(ids)
        known = {key(x) for x in chosen}
        missing = sorted(wanted - known)
        if missing:
            more = f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""
            raise UserError(f"--ids: not in {where}: {', '.join(missing[:5])}{more}")
        chosen = [x for x in chosen if key(x) in wanted]
    if filter is not None:
        pattern = compile_filter(filter)
        chosen = [x for x in chosen if pattern.search(key(x))]
        if not chosen:
            raise UserError(f"--filter {filter!r} matches no id in {where} ({len(items)} ids)")
    if slice is not None:
        before = len(chosen)
        chosen = chosen[parse_slice(slice)]
        if not chosen:
            raise UserError(f"--slice {slice!r} leaves nothing of the {before} chosen problems")
    return chosen[:limit] if limit is not None else chosen


def has_choice(config: Any) -> bool:
    return any(getattr(config, k, None) is not None for k in ("ids", "filter", "slice"))


def load_problems(task: Any, config: Any) -> list[Any]:
    """The task's problems as `config` chooses them (the task loads them all when a choice is made)."""
    if not has_choice(config):
        return task.load(config.data, config.limit)
    problems = task.load(config.data, None)
    return choose(problems, lambda p: p.id, ids=config.ids, filter=config.filter, slice=config.slice,
                  limit=config.limit, where=config.data or f"{config.task}'s dataset")
