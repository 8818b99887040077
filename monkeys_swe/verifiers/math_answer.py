"""Final-answer extraction and equivalence for GSM8K and MATH.

Equivalence goes through math-verify (sympy-backed), after a cheap normalized string
comparison that settles most cases. math-verify's timeouts use SIGALRM, which only the main
thread may set: the run loop verifies math inline in its main thread, and elsewhere
(worker threads) the check runs without the alarm.
"""
from __future__ import annotations

import re
import threading

_FINAL_ANSWER = re.compile(r"final answer is\s*(.+?)\.?\s*I hope it is correct", re.IGNORECASE | re.DOTALL)
_HASHES = re.compile(r"####\s*([^\n]+)")
_ANSWER_IS = re.compile(r"answer is[:\s]*\$?([-\d.,/]+)", re.IGNORECASE)


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


def extract_math_answer(completion: str) -> str | None:
    """Minerva form ('Final Answer: The final answer is X. I hope it is correct.'), else the last \\boxed{}."""
    found = _FINAL_ANSWER.findall(completion)
    if found:
        return _strip_math(found[-1]) or None
    boxed = last_boxed(completion)
    return _strip_math(boxed) if boxed is not None else None


def extract_gsm8k_answer(completion: str) -> str | None:
    """'#### N' (the GSM8K format), else \\boxed{N}, else 'the answer is N'."""
    for pattern in (_HASHES,):
        found = pattern.findall(completion)
        if found:
            return normalize_number(found[-1])
    boxed = last_boxed(completion)
    if boxed is not None:
        return normalize_number(boxed)
    found = _ANSWER_IS.findall(completion)
    return normalize_number(found[-1]) if found else None


def normalize_number(text: str) -> str | None:
    text = text.strip().strip("$").replace(",", "").replace("\\$", "").strip().rstrip(".")
    m = re.search(r"-?\d+(?:\.\d+)?(?:/\d+)?", text)
    if not m:
        return text or None
    num = m.group(0)
    if "." in num and "/" not in num:
        num = num.rstrip("0").rstrip(".")
    return num


def normalize_answer(ans: str) -> str:
    """A canonical string for voting and the equality shortcut: spacing and trivial LaTeX dropped."""
    ans = _strip_math(ans)
    ans = re.sub(r"\\(?:left|right|!|,|;|:|\s)", "", ans)
    ans = re.sub(r"\\text\{\s*([^}]*)\}", r"\1", ans)
    ans = ans.replace("dfrac", "frac").replace("tfrac", "frac").replace("^\\circ", "").replace("^{\\circ}", "")
    return re.sub(r"\s+", "", ans)


def answers_equivalent(reference: str, candidate: str, timeout_s: int = 5) -> bool:
    """String-equality shortcut, then math-verify with a timeout per parse and per comparison."""
    if normalize_answer(reference) == normalize_answer(candidate):
        return True
    from math_verify import parse, verify

    timeout = timeout_s if threading.current_thread() is threading.main_thread() else None
    try:
        gold = parse(f"${_strip_math(reference)}$", parsing_timeout=timeout)
        pred = parse(f"${_strip_math(candidate)}$", parsing_timeout=timeout)
        if not gold or not pred:
            return False
        return bool(verify(gold, pred, timeout_seconds=timeout))
    except Exception:  # a pathological expression is "not shown equal", never a crash
        return False
