"""Reading the number a GSM8K answer starts with, exactly (a Fraction).

Forms: `-12`, `.18`, `1.5e3`, `1.5 \\times 10^3`, `10^3`, `3/4`, mixed numbers (`3 1/2`),
and a scale word (`2.5 million`, `3 thousand`). A leading worked sum (`12 + 6 = 18`) stands for
its result. What follows the number decides whether it is the answer: another number offered as
an alternative (`18 or 20`, `18-20`, `18, 20`, `18 (or 20)`) makes the text a hedge, which
equals no reference; anything else (units, `(check: 15 + 3 = 18)`) is commentary.
"""
from __future__ import annotations

import re
from fractions import Fraction

_NUM = r"(?:\d+(?:\.\d+)?|\.\d+)"
_SCALES = {"thousand": 10 ** 3, "million": 10 ** 6, "billion": 10 ** 9, "trillion": 10 ** 12}
_LEADING = re.compile(
    rf"""\s*(?P<sign>-\s*)?
    (?:(?P<pow>10)\s*\^\s*\{{?\s*(?P<powexp>-?\d+)\s*\}}?(?![\d.])
     |(?P<whole>\d+)\s+(?P<mnum>\d+)\s*/\s*(?P<mden>\d+)
     |(?P<num>{_NUM})(?:\s*/\s*(?P<den>\d+))?
       (?:[eE](?P<exp>[-+]?\d+)|\s*(?:\\times|\\cdot|×|\*|x)\s*10\s*\^\s*\{{?\s*(?P<texp>-?\d+)\s*\}}?)?)
    (?![\d.]*\d)(?:\s+(?P<scale>{"|".join(_SCALES)})\b)?""", re.VERBOSE | re.IGNORECASE)
_SUM = re.compile(rf"\s*-?\s*{_NUM}(?:\s*[-+*/×x÷]\s*\(?\s*-?{_NUM}\s*\)?)+\s*=(?!=)")
_HEDGE = re.compile(rf"\s*[(\[]?\s*(?:or|to|and|-|–|,|;|/|\|)\s*\$?\s*-?\s*{_NUM}", re.IGNORECASE)


def read_leading(text: str) -> tuple[Fraction, str] | None:
    """(value, what follows) of the number `text` starts with; None if it does not start with one.
    A leading worked sum (`12 + 6 = 18`) is skipped to its result."""
    while (worked := _SUM.match(text)) is not None:
        text = text[worked.end():]
    m = _LEADING.match(text)
    if m is None:
        return None
    g = m.groupdict()
    if g["pow"]:
        value = Fraction(10) ** int(g["powexp"])
    elif g["whole"]:
        if not int(g["mden"]) or int(g["mnum"]) >= int(g["mden"]):
            return None  # "3 4/2" is no mixed number
        value = int(g["whole"]) + Fraction(int(g["mnum"]), int(g["mden"]))
    else:
        value = Fraction(g["num"])
        if g["den"]:
            if not int(g["den"]):
                return None
            value /= int(g["den"])
        if g["exp"] or g["texp"]:
            value *= Fraction(10) ** int(g["exp"] or g["texp"])
    if g["scale"]:
        value *= _SCALES[g["scale"].lower()]
    return (-value if g["sign"] else value), text[m.end():]


def is_hedge(rest: str) -> bool:
    """Whether what follows a number offers another number instead of it."""
    return _HEDGE.match(rest) is not None


def canonical(value: Fraction) -> str:
    """'-10', '0.18', '1500', '3/4': a finite decimal as a decimal, anything else as p/q."""
    if value.denominator == 1:
        return str(value.numerator)
    d = value.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    if d != 1:
        return f"{value.numerator}/{value.denominator}"
    digits = 0
    while (value * 10 ** digits).denominator != 1:
        digits += 1
    text = str(abs((value * 10 ** digits).numerator)).rjust(digits + 1, "0")
    return f"{'-' if value < 0 else ''}{text[:-digits]}.{text[-digits:]}"
