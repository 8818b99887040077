"""The MATH equivalence judgement itself: math-verify, guarded by an exact comparison.

This module runs inside a math worker process (math_pool.py), never in the caller's: sympy can
take unbounded time and memory on a pathological answer, and only a separate process can be
killed at a deadline.

math-verify decides first. Where it says equal, `confirm` re-parses both whole answers and
compares them exactly, because math-verify is lenient on purpose and that leniency becomes
false solves at thousands of samples per problem:
- floats: it rounds, so `0.333333` equals `\\frac{1}{3}`; here a finite decimal equals an exact
  reference only if it is exactly equal (a decimal reference keeps math-verify's verdict);
- large factorials and powers (`\\frac{1}{2004!}` vs `\\frac{1}{2006!}`) underflow its numeric
  comparison; here they are exact rationals;
- equations are compared by one side (`x+2=5` for `5`); here an equation stands for its right
  side only when its left side is a lone variable (`x = 5`), and two equations match side by side;
- a LaTeX parse that fails falls back to a number found in the text (`\\sqrt{x} = 5 \\mbox{bad`
  is 5); here an answer that does not parse whole is not equal.
Where it says not equal, `rescue` accepts the right forms it misses: powers denested for positive
variables (`\\sqrt{\\frac{1}{n}}` is `\\frac{1}{\\sqrt{n}}`), and a one-variable inequality for the
interval it describes (`x < 3` for `(-\\infty, 3)`). Repeating decimals (`0.\\overline{3}`) are
rewritten as fractions before anything else.
"""
from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

_REPEATING = re.compile(r"(-?)(\d*)\.(\d*)\\overline\{(\d+)\}")


def expand_repeating(text: str) -> str:
    """`0.\\overline{3}` -> `\\frac{1}{3}`, `1.2\\overline{45}` -> its exact fraction."""
    def fraction(m: re.Match) -> str:
        sign, whole, fixed, cycle = m.groups()
        value = Fraction(int(whole or "0")) + Fraction(int(fixed or "0"), 10 ** len(fixed))
        value += Fraction(int(cycle), (10 ** len(cycle) - 1) * 10 ** len(fixed))
        value = -value if sign else value
        body = f"\\frac{{{abs(value.numerator)}}}{{{value.denominator}}}"
        return ("-" if value < 0 else "") + body
    return _REPEATING.sub(fraction, text)


def judge(reference: str, candidate: str, timeout_s: int) -> bool:
    """Whether `candidate` is the same answer as `reference` (both LaTeX, without $)."""
    from math_verify import parse, verify

    reference, candidate = expand_repeating(reference), expand_repeating(candidate)
    gold = parse(f"${reference}$", parsing_timeout=timeout_s)
    pred = parse(f"${candidate}$", parsing_timeout=timeout_s)
    said = bool(gold and pred and verify(gold, pred, timeout_seconds=timeout_s))
    return confirm(reference, candidate) if said else rescue(reference, candidate)


def strict(text: str) -> Any:
    """The whole answer as sympy, as math-verify normalizes and parses it; None if it does not parse."""
    from math_verify.parser import LatexExtractionConfig, normalize_latex, parse_latex_cached

    try:
        return parse_latex_cached(normalize_latex(text, config=LatexExtractionConfig().normalization_config))
    except Exception:
        return None


def confirm(reference: str, candidate: str) -> bool:
    """math-verify said equal: is it exactly so?"""
    import sympy

    gold, pred = strict(reference), strict(candidate)
    if gold is None:
        return True  # the reference is trusted text; nothing stricter to compare with
    if pred is None:
        return False  # math-verify found a number inside an answer that does not parse
    if not isinstance(gold, sympy.Basic) or not isinstance(pred, sympy.Basic) or gold.atoms(sympy.Float):
        return True  # a decimal reference (or a form we do not model) keeps math-verify's verdict
    try:
        return exact_equal(gold, exact_floats(pred))
    except Exception:
        return True


def rescue(reference: str, candidate: str) -> bool:
    """math-verify said not equal: is it a right form it misses?"""
    import sympy

    gold, pred = strict(reference), strict(candidate)
    if not isinstance(gold, sympy.Basic) or not isinstance(pred, sympy.Basic):
        return False
    try:
        if inequality_as_set(pred) is not None and isinstance(gold, sympy.Set):
            return inequality_as_set(pred) == gold
        if isinstance(gold, sympy.Expr) and isinstance(pred, sympy.Expr) and has_root(gold) | has_root(pred):
            return exact_equal(denest(gold), denest(exact_floats(pred)))
    except Exception:
        return False
    return False


def exact_floats(expr: Any) -> Any:
    """Every decimal in `expr` as the exact rational it writes (0.333333 is 333333/1000000)."""
    import sympy

    return expr.xreplace({f: sympy.Rational(str(f)) for f in expr.atoms(sympy.Float)})


def has_root(expr: Any) -> bool:
    import sympy

    return any(not p.exp.is_integer for p in expr.atoms(sympy.Pow))


def denest(expr: Any) -> Any:
    """Powers combined as for positive variables (sqrt(1/n) -> 1/sqrt(n))."""
    import sympy

    positive = {s: sympy.Symbol(s.name, positive=True) for s in expr.free_symbols}
    return sympy.powsimp(sympy.powdenest(expr.xreplace(positive), force=True), force=True)


def inequality_as_set(expr: Any) -> Any:
    """The set a one-variable inequality (or a chain of them) describes; None for anything else."""
    import sympy

    if isinstance(expr, (sympy.Eq, sympy.Ne)) or not isinstance(expr, (sympy.Rel, sympy.And, sympy.Or)):
        return None
    if len(expr.free_symbols) != 1:
        return None
    return expr.as_set()


def exact_equal(a: Any, b: Any) -> bool:
    """Exact structural equality: numbers exactly, equations side by side, containers element-wise."""
    import sympy

    if isinstance(a, sympy.Eq) or isinstance(b, sympy.Eq):
        return equations_equal(a, b)
    if isinstance(a, sympy.FiniteSet) and isinstance(b, sympy.FiniteSet):
        return len(a) == len(b) and all(any(exact_equal(x, y) for y in b.args) for x in a.args) \
            and all(any(exact_equal(x, y) for x in a.args) for y in b.args)
    if isinstance(a, sympy.FiniteSet) and len(a) == 1:
        return exact_equal(a.args[0], b)
    if isinstance(b, sympy.FiniteSet) and len(b) == 1:
        return exact_equal(a, b.args[0])
    if isinstance(a, (sympy.Tuple, sympy.FiniteSet)) and isinstance(b, (sympy.Tuple, sympy.FiniteSet)):
        return len(a.args) == len(b.args) and all(exact_equal(x, y) for x, y in zip(a.args, b.args))
    if isinstance(a, sympy.MatrixBase) and isinstance(b, sympy.MatrixBase):
        return a.shape == b.shape and all(exact_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, sympy.Interval) and isinstance(b, sympy.Interval):
        return (a.left_open, a.right_open) == (b.left_open, b.right_open) \
            and exact_equal(a.start, b.start) and exact_equal(a.end, b.end)
    if isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr):
        return expressions_equal(a, b)
    return True  # other forms (unions, relations, text): math-verify's verdict stands


def equations_equal(a: Any, b: Any) -> bool:
    """`x = 5` is 5; `x + 2 = 5` is not 5; two equations match side by side (either way round)."""
    import sympy

    if isinstance(a, sympy.Eq) and isinstance(b, sympy.Eq):
        return (exact_equal(a.lhs, b.lhs) and exact_equal(a.rhs, b.rhs)) or \
            (exact_equal(a.lhs, b.rhs) and exact_equal(a.rhs, b.lhs))
    eq, other = (a, b) if isinstance(a, sympy.Eq) else (b, a)
    return isinstance(eq.lhs, sympy.Symbol) and exact_equal(eq.rhs, other)


def expressions_equal(a: Any, b: Any) -> bool:
    """Exactly equal: rationals compared as rationals; others by sympy's zero test of a - b."""
    import sympy

    difference = a - b
    if difference.is_Number:
        return difference == 0
    if difference.is_zero is not None:
        return bool(difference.is_zero)
    if sympy.simplify(difference) == 0:
        return True
    proven = difference.equals(0)
    if proven is not None:
        return bool(proven)
    if difference.free_symbols:
        return True  # sympy cannot decide; math-verify's verdict stands
    value = sympy.N(difference, 60)
    scale = max(abs(sympy.N(a, 60)), abs(sympy.N(b, 60)), 1)
    return bool(abs(value) <= scale * sympy.Rational(1, 10 ** 50))
