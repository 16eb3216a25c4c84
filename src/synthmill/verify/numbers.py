"""The fast path of answer checking: plain numbers, fractions, percents and lists of them.

Parses answers into exact Fractions, so "0.5", "1/2", "\\frac{1}{2}" and "50%" compare
exactly and without sympy. Anything else returns None and goes to math-verify.
"""

from __future__ import annotations

import re
from fractions import Fraction

_FRAC = re.compile(r"^\\[dt]?frac\{(-?\d+)\}\{(-?\d+)\}$|^\\[dt]?frac(\d)(\d)$")
_THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
_VARIABLE = re.compile(r"^[a-zA-Z](?:_\{?\d+\}?)?\s*=\s*")


def _strip(text: str) -> str:
    """Remove wrapping that never changes a number's value: $, \\!, spaces, \\text{}, units."""
    text = text.strip().strip("$").strip()
    text = re.sub(r"\\(?:left|right|displaystyle|!|,|;)", "", text)
    text = re.sub(r"\\text\{\s*\}|\\mathrm\{\s*\}", "", text)
    text = text.replace("\u2212", "-").replace(" ", "")
    return text.rstrip(".")


def parse_number(text: str) -> Fraction | None:
    """An exact value for a plain number, fraction or decimal, else None. Percents excluded."""
    s = _strip(text)
    if _THOUSANDS.match(s):
        s = s.replace(",", "")
    m = _FRAC.match(s)
    if m:
        num, den = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        return Fraction(int(num), int(den)) if int(den) else None
    if s.startswith("-\\") and _FRAC.match(s[1:]):
        inner = parse_number(s[1:])
        return -inner if inner is not None else None
    try:
        if "/" in s:
            num, den = s.split("/")
            return Fraction(num) / Fraction(den) if Fraction(den) else None
        return Fraction(s) if re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", s) else None
    except (ValueError, ZeroDivisionError):
        return None


def parse_percent(text: str) -> Fraction | None:
    """The number in front of a percent sign ("75%", "75\\%"), else None."""
    s = _strip(text)
    if s.endswith("\\%"):
        return parse_number(s[:-2])
    if s.endswith("%"):
        return parse_number(s[:-1])
    return None


def split_list(text: str) -> tuple[list[str], bool] | None:
    """Items of "a, b", "(a, b)", "x = a, y = b", "x=a or x=b"; the bool says ordered."""
    s = text.strip().strip("$").strip()
    ordered = s.startswith("(") and s.endswith(")")
    if ordered or (s.startswith("\\{") and s.endswith("\\}")):
        s = s[1:-1] if ordered else s[2:-2]
    elif s.startswith("{") and s.endswith("}"):
        s = s[1:-1]
    parts = re.split(r",|;|\bor\b|\band\b", s)
    if len(parts) < 2:
        return None
    return [_VARIABLE.sub("", p.strip()) for p in parts], ordered


def same_number(gold: str, answer: str) -> bool | None:
    """Exact comparison when both sides are plain numbers (percent aware), else None.

    A percent answer matches a plain gold either as written ("25%" for 25, the question
    asked for a percent) or as a share ("50%" for 0.5); a percent gold the same way.
    """
    g, a = parse_number(gold), parse_number(answer)
    if g is not None and a is not None:
        return g == a
    gp, ap = parse_percent(gold), parse_percent(answer)
    if g is not None and ap is not None:
        return g in (ap, ap / 100)
    if gp is not None and a is not None:
        return a in (gp, gp / 100)
    if gp is not None and ap is not None:
        return gp == ap
    return None


def same_list(gold: str, answer: str) -> bool | None:
    """Compare lists of plain numbers: ordered for tuples, as multisets otherwise."""
    g, a = split_list(gold), split_list(answer)
    if g is None:
        return None
    if a is None:
        return False if parse_number(answer) is not None else None
    gold_values = [parse_number(x) for x in g[0]]
    values = [parse_number(x) for x in a[0]]
    if None in gold_values or None in values:
        return None
    if g[1]:  # the gold is an ordered tuple
        return gold_values == values
    return sorted(gold_values) == sorted(values)  # type: ignore[type-var]


def fast_equivalent(gold: str, answer: str) -> bool | None:
    """True/False when the fast path can decide, None when symbolic checking is needed."""
    answer = _VARIABLE.sub("", answer.strip().strip("$").strip())
    if split_list(gold) is not None:
        return same_list(gold, answer)
    return same_number(gold, answer)
