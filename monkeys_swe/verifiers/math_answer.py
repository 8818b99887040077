"""Final-answer extraction and equivalence for GSM8K and MATH.

A completion is first cut at the task's stop sequences (a model or server that ignores them runs
on into an invented next "Question:"/"Problem:" whose answer is not this problem's); within what
is left the last answer marker wins (a self-correction replaces an earlier answer).

GSM8K answers are numbers: sign and decimals kept (`#### .18` is 0.18, `#### -$10` and
`#### \u221210` are -10), thousands separators dropped, and an answer that names more than one number
(`#### 18 or 20`) is kept as written, which equals no reference. They are compared exactly.

MATH equivalence goes through math-verify (sympy-backed) guarded by an exact comparison
(math_exact.py), after a cheap normalized string comparison that settles most cases. That check
runs in a worker process with a hard wall-clock limit, from any thread (math_pool.py): past the
limit `answers_equivalent` raises CheckTimeout, and the task's verdict is `error`.
"""
from __future__ import annotations

import re
from fractions import Fraction

from monkeys_swe.verifiers.number_text import canonical, is_hedge, read_leading

# Minerva's marker; the answer may not itself contain the marker (prose like "the final answer
# is easy to find" before the real one must not start the match).
_FINAL_ANSWER = re.compile(r"final answer is\s*((?:(?!final answer is).)+?)\.?\s*I hope it is correct",
                           re.IGNORECASE | re.DOTALL)
_HASHES = re.compile(r"####([^\n]*)")
_ANSWER_IS = re.compile(r"answer is:?([^\n]*)", re.IGNORECASE)
_MINUS_SIGNS = str.maketrans({"\u2212": "-", "\u2013": "-", "\ufe63": "-", "\uff0d": "-"})
_NUMBER = re.compile(r"(?<![\w.])(-\s*)?(\d+(?:\.\d+)?|\.\d+)(?:\s*/\s*(\d+))?(?![\d.]*\d)")


def cut_at_stop(completion: str, stop: tuple[str, ...] | list[str] = ()) -> str:
    """The completion up to the first of the stop sequences (as a server that honours them returns it)."""
    cut = min((i for i in (completion.find(s) for s in stop if s) if i >= 0), default=len(completion))
    return completion[:cut]


def all_boxed(text: str) -> list[str]:
    """Contents of every \\boxed{...} (or \\fbox{...}), in order, braces balanced."""
    found, end = [], len(text)
    while (box := last_boxed(text[:end])) is not None:
        found.append(box)
        end = max(text.rfind("\\boxed", 0, end), text.rfind("\\fbox", 0, end))
    return found[::-1]


def several_values(reference: str) -> bool:
    """Whether the reference lists several values (a comma outside any brackets)."""
    depth = 0
    for ch in reference:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            return True
    return False


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} (or \\fbox{...}), braces balanced."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    i = text.find("{", start)
    if i < 0:
        # "\boxed 5" form
        m = re.match(r"\\boxed\s+([^\s$]+)", text[start:])
        return m.group(1) if m else None
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j]
    return None


def _strip_math(ans: str) -> str:
    ans = ans.strip().strip("$").strip()
    if ans.startswith("\\(") and ans.endswith("\\)"):
        ans = ans[2:-2].strip()
    return ans


def extract_math_answer(completion: str, stop: tuple[str, ...] = ()) -> str | None:
    """Minerva form ('The final answer is X. I hope it is correct.', the last well-formed one),
    else the last \\boxed{}; in the completion cut at `stop`."""
    completion = cut_at_stop(completion, stop)
    found = _FINAL_ANSWER.findall(completion)
    if found:
        return _strip_math(found[-1]) or None
    boxed = last_boxed(completion)
    return _strip_math(boxed) if boxed is not None else None


def extract_gsm8k_answer(completion: str, stop: tuple[str, ...] = ()) -> str | None:
    """The last '#### N' (the GSM8K format), else the last \\boxed{N}, else the last 'the answer is N';
    in the completion cut at `stop`. N as normalize_number gives it."""
    completion = cut_at_stop(completion, stop)
    found = _HASHES.findall(completion)
    if found:
        return normalize_number(found[-1])
    boxed = last_boxed(completion)
    if boxed is not None:
        return normalize_number(boxed)
    found = _ANSWER_IS.findall(completion)
    return normalize_number(re.split(r"\.(?:\s|$)", found[-1])[0]) if found else None


def normalize_number(text: str) -> str | None:
    """The number `text` states, canonical ('-10', '0.18', '1234', '3/4'): the one it starts with
    (number_text.py: e-notation, mixed numbers, powers of ten, scale words; commentary after it
    ignored), else the one number it names; text that offers several numbers (a hedge: '18 or
    20') comes back cleaned but otherwise as written, and text without a number as itself (None
    when empty)."""
    text = text.translate(_MINUS_SIGNS).replace("\\$", "").replace("$", "").replace("\\%", "%")
    text = re.sub(r"\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}", r" \1/\2", text)
    text = re.sub(r"\\(?:text|mathrm|textbf)\{([^{}]*)\}|\\[,!;: ]", r"\1", text)
    text = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text).strip().rstrip(".").strip()
    read = read_leading(text)
    if read is not None:
        return text if is_hedge(read[1]) else canonical(read[0])
    tail = text.rsplit("=", 1)[1].strip() if "=" in text else text  # "Total = 18": the value after the last "="
    numbers = list(_NUMBER.finditer(tail))
    if len(numbers) != 1:
        return text or None
    read = read_leading(tail[numbers[0].start():])
    if read is None:
        return text
    value, rest = read
    return text if is_hedge(rest) else canonical(value)


def same_number(reference: str, candidate: str) -> bool:
    """Exact numeric equality of two normalized answers ('0.5' is '1/2'); text that is not one
    number equals only the same text."""
    try:
        return Fraction(reference) == Fraction(candidate)
    except (ValueError, ZeroDivisionError):
        return normalize_answer(reference) == normalize_answer(candidate)


def normalize_answer(ans: str) -> str:
    """A canonical string for voting and the equality shortcut: spacing and trivial LaTeX dropped."""
    ans = _strip_math(ans)
    ans = re.sub(r"\\(?:left|right|!|,|;|:|\s)", "", ans)
    ans = re.sub(r"\\text\{\s*([^}]*)\}", r"\1", ans)
    ans = ans.replace("dfrac", "frac").replace("tfrac", "frac").replace("^\\circ", "").replace("^{\\circ}", "")
    return re.sub(r"\s+", "", ans)


def answers_equivalent(reference: str, candidate: str, timeout_s: float = 5) -> bool:
    """String-equality shortcut, then math-verify and the exact check in a worker process.

    Raises math_pool.CheckTimeout when the check takes longer than `timeout_s` seconds (its
    worker is killed), math_pool.WorkerFailed when the worker dies: no verdict either way."""
    if normalize_answer(reference) == normalize_answer(candidate):
        return True
    from monkeys_swe.verifiers.math_pool import shared_pool

    return shared_pool().check(_strip_math(reference), _strip_math(candidate), timeout_s)
