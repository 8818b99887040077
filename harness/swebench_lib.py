"""swebench's own grading code, imported without its eager `swebench.harness` package init.

swebench 5's `swebench/harness/__init__.py` imports docker_utils, reporting, utils and
modal_eval, which pull in datasets, pandas and modal: 4-5 s in every fresh process (each CLI
call, each Ray actor's first verification; measured with `python -X importtime`). We use
constants, grading, log_parsers and types, which import alone. `load()` registers
`swebench.harness` as a bare package (its real directory, no __init__ run), so those
submodules import in about 0.1 s; anything else under it still imports on first use. The
code that grades is swebench's, unchanged.
"""
from __future__ import annotations

import importlib.util
import sys
import threading
import types

_lock = threading.Lock()


def load() -> None:
    with _lock:
        if "swebench.harness" in sys.modules:
            return
        spec = importlib.util.find_spec("swebench")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("swebench is not installed: pip install swebench")
        import swebench  # noqa: F401  (its own __init__ is lazy)

        pkg = types.ModuleType("swebench.harness")
        pkg.__path__ = [f"{p}/harness" for p in spec.submodule_search_locations]
        pkg.__package__ = "swebench.harness"
        sys.modules["swebench.harness"] = pkg
