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

_SIMPLE = re.compile(r"^[0-9a-zA-Z.+\-*/()\s]*$")
_WORD = re.compile(r"[a-zA-Z]+")
_ALLOWED_WORDS = {"sqrt", "pi"}
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
    return text.rstrip(".")


def to_sympy(latex: str) -> Any | None:
    """A sympy expression for an answer in the subset, else None (never a guess)."""
    from sympy import Symbol, pi, sqrt  # type: ignore[import-untyped]
    from sympy.parsing.sympy_parser import (  # type: ignore[import-untyped]
        implicit_multiplication,
        parse_expr,
        rationalize,
        standard_transformations,
    )

    text = _translate(_normalize(latex))
    if text is None or not text.strip() or not _SIMPLE.match(text):
        return None
    words = set(_WORD.findall(text))
    letters = {w for w in words if len(w) == 1}
    if words - letters - _ALLOWED_WORDS or letters & _RESERVED:
        return None
    if _AMBIGUOUS_DIVISION.search(text):  # 1/2x: is it x/2 or 1/(2x)? let math-verify say
        return None
    names: dict[str, Any] = {w: Symbol(w) for w in letters}
    names.update(sqrt=sqrt, pi=pi)
    try:
        transformations = (*standard_transformations, rationalize, implicit_multiplication)
        return parse_expr(text, local_dict=names, transformations=transformations)
    except Exception:  # anything unparsable is simply not in the subset
        return None


def compare(gold: Any, answer: Any) -> bool | None:
    """True only when sympy proves the difference zero; False when a probe shows it is not."""
    import sympy

    if gold is None or answer is None or gold.free_symbols != answer.free_symbols:
        return None
    diff = gold - answer
    if diff == 0:
        return True
    symbols = sorted(diff.free_symbols, key=str)
    for k, (p, q) in enumerate(PROBES):
        point = {s: sympy.Rational(p + 2 * n, q + k) for n, s in enumerate(symbols)}
        value, size = diff.subs(point).evalf(60), gold.subs(point).evalf(60)
        if not (value.is_number and size.is_number) or value.has(sympy.nan, sympy.zoo):
            return None
        if abs(complex(value)) > 1e-40 * max(1.0, abs(complex(size))):
            return False
    for method in (sympy.expand, sympy.cancel, sympy.radsimp):
        if method(diff) == 0:
            return True
    return None
