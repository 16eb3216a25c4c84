"""A cheap symbolic path for the common LaTeX subset, tried before math-verify.

math-verify parses LaTeX with an ANTLR grammar (tens of ms per new expression) and
compares with `simplify`. Most answers are polynomials, fractions, radicals and pi:
this module translates that subset (digits, + - * / ^, \\frac, \\sqrt, \\pi, \\cdot,
single-letter variables, parentheses) to sympy with its Python parser, and decides:
unequal when the difference is non-zero at a probe point (exact rationals, 60 digits),
equal only when sympy's expand/cancel make the difference exactly zero. Everything
else (sets, intervals, relations, functions, e, i, any doubt) returns None and goes to
math-verify. Runs inside the math worker processes (it imports sympy).
"""

from __future__ import annotations

import re
from typing import Any

_SIMPLE = re.compile(r"^[0-9a-zA-Z.+\-*/(),\s]*$")  # commas only from binomial(a, b)
_WORD = re.compile(r"[a-zA-Z]+")
_ALLOWED_WORDS = {"sqrt", "pi", "binomial", "sin", "cos", "tan"}
_MIXED = re.compile(r"\d\s*\\frac")
_FUNCTION_POWER = re.compile(r"(?:sin|cos|tan)\s*\*\*")  # \sin^2(x): leave it to math-verify
_RESERVED = set("eiEISNOQ")  # Euler's e, the imaginary unit, sympy's own one-letter names
_AMBIGUOUS_DIVISION = re.compile(r"/\s*(?:[\d.]+|[a-zA-Z]\w*|\([^()]*\))\s*(?=[a-zA-Z(])")
PROBES = ((7, 5), (11, 7), (13, 9))


def _group(text: str, i: int) -> tuple[str, int] | None:
    """The braced group starting at text[i] == "{" (its content) and the index after it."""
    if i >= len(text) or text[i] != "{":
        return None
    depth = 0
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1 : j], j + 1
    return None


def _argument(text: str, i: int) -> tuple[str, int] | None:
    """A command argument: a braced group, or one digit or letter (\\frac12, x^2)."""
    while i < len(text) and text[i] == " ":
        i += 1
    if i < len(text) and text[i].isalnum():
        return text[i], i + 1
    return _group(text, i)


def _translate(text: str) -> str | None:
    """Python syntax for the LaTeX subset, or None at the first thing outside it."""
    out, i = [], 0
    while i < len(text):
        for command, arity, form in (
            ("\\frac", 2, "(({0})/({1}))"),
            ("\\sqrt", 1, "sqrt({0})"),
            ("\\binom", 2, "binomial(({0}), ({1}))"),
            ("^", 1, "**({0})"),
        ):
            if text.startswith(command, i):
                args, j = [], i + len(command)
                for _ in range(arity):
                    arg = _argument(text, j)
                    if arg is None:
                        return None
                    inner = _translate(arg[0])
                    if inner is None:
                        return None
                    args.append(inner)
                    j = arg[1]
                out.append(form.format(*args))
                i = j
                break
        else:
            if text[i] in "\\{}[],=<>|!_&":
                return None
            out.append(text[i])
            i += 1
    return "".join(out)


def _normalize(latex: str) -> str:
    text = latex.strip().strip("$").strip()
    text = re.sub(r"\\[dt]frac", r"\\frac", text)
    text = re.sub(r"\\(?:left|right|displaystyle|[,;!: ])", " ", text)
    text = re.sub(r"\\(?:cdot|times)", "*", text)
    text = re.sub(r"\\pi(?![a-zA-Z])", " pi ", text)
    text = re.sub(r"\\(sin|cos|tan)\s*(?=\()", r" \1", text)  # only with parentheses
    return text.rstrip(".")


def _split_set(text: str) -> list[str] | None:
    """The elements of a set written \\{a, b\\}, or None when text is no such set."""
    if not (text.startswith("\\{") and text.endswith("\\}")):
        return None
    items, depth, start, inner = [], 0, 0, text[2:-2]
    for i, ch in enumerate(inner):
        depth += (ch in "({[") - (ch in ")}]")
        if ch == "," and depth == 0:
            items.append(inner[start:i])
            start = i + 1
    return [*items, inner[start:]]


def to_sympy(latex: str) -> Any | None:
    """A sympy expression (or a FiniteSet of them) for an answer in the subset, else None."""
    from sympy import FiniteSet  # type: ignore[import-untyped]

    elements = _split_set(_normalize(latex))
    if elements is None:
        return _expression(latex)
    parsed = [_expression(e) for e in elements]
    return None if any(e is None for e in parsed) else FiniteSet(*parsed)


def _expression(latex: str) -> Any | None:
    """A sympy expression for one answer in the subset, else None (never a guess)."""
    from sympy import Symbol, binomial, cos, pi, sin, sqrt, tan
    from sympy.parsing.sympy_parser import (  # type: ignore[import-untyped]
        implicit_multiplication,
        parse_expr,
        rationalize,
        standard_transformations,
    )

    if _MIXED.search(_normalize(latex)):  # 3\\frac{1}{2}: 3.5 or 1.5? let math-verify say
        return None
    text = _translate(_normalize(latex))
    if text is None or not text.strip() or not _SIMPLE.match(text):
        return None
    words = set(_WORD.findall(text))
    letters = {w for w in words if len(w) == 1}
    if words - letters - _ALLOWED_WORDS or letters & _RESERVED:
        return None
    if _AMBIGUOUS_DIVISION.search(text) or _FUNCTION_POWER.search(
        text
    ):  # 1/2x: is it x/2 or 1/(2x)? let math-verify say
        return None
    names: dict[str, Any] = {w: Symbol(w) for w in letters}
    names.update(sqrt=sqrt, pi=pi, binomial=binomial, sin=sin, cos=cos, tan=tan)
    try:
        transformations = (*standard_transformations, rationalize, implicit_multiplication)
        return parse_expr(text, local_dict=names, transformations=transformations)
    except Exception:  # anything unparsable is simply not in the subset
        return None


def compare(gold: Any, answer: Any) -> bool | None:
    """True only when sympy proves the answers equal; False when a probe shows they are not."""
    import sympy

    if gold is None or answer is None:
        return None
    sets = isinstance(gold, sympy.FiniteSet), isinstance(answer, sympy.FiniteSet)
    if any(sets):
        return _compare_sets(gold, answer) if all(sets) else None
    if gold.free_symbols != answer.free_symbols:
        return None
    diff = gold - answer
    if diff == 0:
        return True
    if _nonzero_at(diff, gold, PROBES[0]):
        return False
    for method in (sympy.expand, sympy.cancel, sympy.radsimp):
        if method(diff) == 0:
            return True
    if any(_nonzero_at(diff, gold, probe) for probe in PROBES[1:]):
        return False
    return None


def _nonzero_at(diff: Any, gold: Any, probe: tuple[int, int]) -> bool:
    """Whether diff is provably non-zero at an exact rational point (evalf at 40 digits)."""
    import sympy

    p, q = probe
    point = {
        s: sympy.Rational(p + 2 * n, q + n)
        for n, s in enumerate(sorted(diff.free_symbols, key=str))
    }
    value = diff.subs(point)
    if value.is_Rational:
        return bool(value != 0)
    value, size = value.evalf(40), gold.subs(point).evalf(40)
    if not (value.is_number and size.is_number) or value.has(sympy.nan, sympy.zoo):
        return False
    return abs(complex(value)) > 1e-30 * max(1.0, abs(complex(size)))


def _compare_sets(gold: Any, answer: Any) -> bool | None:
    """Equal sets; unequal only when every element is a rational number (else undecided)."""
    if gold == answer:
        return True
    if all(e.is_Rational for e in (*gold, *answer)):
        return False
    return None
