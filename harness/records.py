"""The one reader of JSON record files: a JSON list (or one object), JSONL, either gzipped.

Instances, predictions, sample sets and task data all come through here; callers wrap
`RecordsError` (a ValueError with a one-line message naming the file and line) in their own
error type.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any


class RecordsError(ValueError):
    pass


def read_json_records(path: str | Path) -> list[Any]:
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            text = f.read()
    except (OSError, EOFError) as exc:
        raise RecordsError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")) and not _jsonl_of_objects(stripped):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RecordsError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from None
        return data if isinstance(data, list) else [data]
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise RecordsError(f"{path}:{n}: not JSON ({exc.msg})") from None
    return rows


def _jsonl_of_objects(text: str) -> bool:
    """`{...}\\n{...}`: JSONL whose first record is an object (one JSON object would end at line 1)."""
    first = text.split("\n", 1)
    if len(first) < 2 or not first[1].strip():
        return False
    try:
        json.loads(first[0])
    except json.JSONDecodeError:
        return False
    return True
