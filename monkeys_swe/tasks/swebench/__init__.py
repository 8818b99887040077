"""SWE-bench in one package: the task (task.py), its prompts (prompt.py), retrieval at the base
commit (retrieval.py), completion -> diff (edits.py) and the optional localization step
(localize.py). harness/ verifies the diffs in Docker; solve/ is the `solve` command around them.

    completion --edits--> unified diff --harness.verify--> verdict
    issue --retrieval (+ localize)--> code context --prompt--> messages
"""
from __future__ import annotations

from typing import Any

__all__ = ["SWEBenchTask", "related_tests", "regression_command"]


def __getattr__(name: str) -> Any:  # lazy: edits/retrieval users need not import Docker
    if name in __all__:
        from monkeys_swe.tasks.swebench import task

        return getattr(task, name)
    raise AttributeError(name)
