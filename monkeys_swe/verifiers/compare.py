"""Output comparison for programs, as in AlphaCode and Large Language Monkeys.

Outputs are compared token by token (whitespace-separated, case-insensitive). Two tokens
match when they are equal as text, as integers, or as floats within 1e-5 (absolute or
relative). Standard library only: this file is also copied into the runner containers.
"""
from __future__ import annotations

import math
import re
from typing import Any

FLOAT_TOLERANCE = 1e-5
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _token_match(got: str, want: str) -> bool:
    if got == want:
        return True
    if _INT.fullmatch(got) and _INT.fullmatch(want):
        return int(got) == int(want)
    if _FLOAT.fullmatch(got) and _FLOAT.fullmatch(want):
        return math.isclose(float(got), float(want), rel_tol=FLOAT_TOLERANCE, abs_tol=FLOAT_TOLERANCE)
    return False


def outputs_match(got: str, want: str) -> bool:
    """Does program output `got` match the expected output `want`?"""
    got_tokens, want_tokens = got.lower().split(), want.lower().split()
    return len(got_tokens) == len(want_tokens) and all(map(_token_match, got_tokens, want_tokens))


def values_match(got: Any, want: Any) -> bool:
    """For function-call tests: equal values (tuples as lists, floats within 1e-5)."""
    if isinstance(got, bool) or isinstance(want, bool):
        return got is want or (isinstance(got, bool) and isinstance(want, bool) and got == want)
    if isinstance(got, (int, float)) and isinstance(want, (int, float)):
        return math.isclose(got, want, rel_tol=FLOAT_TOLERANCE, abs_tol=FLOAT_TOLERANCE)
    if isinstance(got, (list, tuple)) and isinstance(want, (list, tuple)):
        return len(got) == len(want) and all(map(values_match, got, want))
    if isinstance(got, dict) and isinstance(want, dict):
        return got.keys() == want.keys() and all(values_match(got[k], want[k]) for k in want)
    return got == want
