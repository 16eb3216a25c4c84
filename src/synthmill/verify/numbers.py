"""The fast path of answer checking: plain numbers, fractions, percents, units and lists.

Parses answers into exact Fractions, so "0.5", "1/2", "\\frac{1}{2}", "1 3/4", "1,000",
"1.5 \\times 10^{3}" and "50%" compare exactly and without sympy. A percent is a value
(50% = 1/2) unless the problem asks for a percent, where "25" and "25%" are one answer.
Anything else returns None and goes to math-verify.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from synthmill.verify.units import convert, unit_name

_INT = r"\d+|\d{1,3}(?:,\d{3})+"
_FRAC = re.compile(r"^\\[dt]?frac\{([-+]?\d+)\}\{([-+]?\d+)\}$|^\\[dt]?frac(\d)(\d)$")
_MIXED = re.compile(r"^(\d+)(?:\s+|\\[,;:! ]|\s*(?=\\[dt]?frac))(.+)$")
_DECIMAL = re.compile(rf"^(?:{_INT})(?:\.\d+)?(?:[eE][-+]?\d+)?$|^\.\d+(?:[eE][-+]?\d+)?$")
_SCIENTIFIC = re.compile(
    r"^(.+?)\s*(?:\\times|\\cdot|\*|\u00d7)\s*10\s*\^\s*\{?\s*([-+]?\d+)\s*\}?$"
)
_THOUSANDS_SPACE = re.compile(r"^\d{1,3}(?: \d{3})+(?:\.\d+)?$")
_VARIABLE = re.compile(r"^[a-zA-Z](?:_\{?\d+\}?)?\s*=\s*")
_PERCENT = re.compile(r"\s*(?:\\%|%|\\text\{\s*\\?%\s*\}|\s(?:percent|per\s*cent)\b)$")
_TEXT_UNIT = re.compile(r"\s*\\(?:text|mathrm|textrm|mbox|operatorname)\s*\{\s*([^{}]*?)\s*\}$")
_BARE_UNIT = re.compile(r"\s*([a-zA-Z]+(?:\^\{?[23]\}?)?)$")
_DEGREE = re.compile(r"\s*(?:\^\s*\{?\s*\\circ\s*\}?|°|\\degree)$")
_ASKS_PERCENT = re.compile(
    r"\b(?:in|as(?: an?)?|what|how many|by what)\s+(?:percent|percentage|per cent)s?\b"
    r"|\(\s*(?:in\s*)?%\s*\)|\bpercentage\b",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(
    r"\\text\{\s*(?:or|and)\s*\}|\\(?:quad|qquad|lor|vee|land|wedge)\b|\s(?:or|and)\s|;|,"
)


@dataclass(frozen=True)
class Quantity:
    """A number as written, whether it carried a percent sign, and its unit ("" if none)."""

    value: Fraction
    percent: bool = False
    unit: str = ""

    def scaled(self) -> Fraction:
        """The value a percent stands for: 50% -> 1/2."""
        return self.value / 100 if self.percent else self.value


def asks_percent(problem: str) -> bool:
    """Whether the question asks for the answer in percent ("what percent", "in percent")."""
    return bool(_ASKS_PERCENT.search(problem))


def _strip(text: str) -> str:
    """Remove wrapping that never changes a value: $, \\left, \\!, {,} in 1{,}000, a dot."""
    text = text.strip().strip("$").strip()
    text = re.sub(r"\\(?:left|right|displaystyle|!)", "", text)
    text = re.sub(r"\\[ ,;:]", " ", text).replace("{,}", ",")
    text = re.sub(r"^\\\$\s*|^\$\s*", "", text)  # a currency sign
    text = text.replace("\u2212", "-").replace("\u00a0", " ")
    text = re.sub(r"^[\u2013\u2014](?=\s*\d)", "-", text)  # an en dash used as a minus sign
    return " ".join(text.split()).rstrip(".").strip()


def _unsigned(s: str) -> Fraction | None:
    """An exact non-negative value: decimal, thousands, a/b, \\frac, scientific, mixed."""
    if _DECIMAL.match(s) or _THOUSANDS_SPACE.match(s):
        return Fraction(s.replace(",", "").replace(" ", ""))
    m = _FRAC.match(s)
    if m:
        num, den = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        return Fraction(int(num), int(den)) if int(den) else None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)", s)
    if m:
        return Fraction(m.group(1)) / Fraction(m.group(2)) if Fraction(m.group(2)) else None
    m = _SCIENTIFIC.match(s)
    if m:
        mantissa = _unsigned(m.group(1))
        return None if mantissa is None else mantissa * Fraction(10) ** int(m.group(2))
    return _mixed(s)


def _mixed(s: str) -> Fraction | None:
    """A mixed number "1 3/4" or "1\\frac{3}{4}" (a proper fraction after a whole number)."""
    m = _MIXED.match(s)
    if not m:
        return None
    whole, rest = int(m.group(1)), m.group(2).strip()
    part = _unsigned(rest) if ("/" in rest or "frac" in rest) else None
    if part is None or not 0 < part < 1 or _MIXED.match(rest):
        return None
    return whole + part


def parse_number(text: str) -> Fraction | None:
    """An exact value for a plain number, fraction, mixed number or decimal, else None.

    Percents and units are excluded (see parse_quantity).
    """
    s = _strip(text)
    sign = 1
    while s[:1] in "-+" and s:
        sign, s = (-sign if s[0] == "-" else sign), s[1:].strip()
    if s.startswith("(") and s.endswith(")") and sign == -1:
        s = s[1:-1].strip()
    m = re.fullmatch(r"\\[dt]?frac\{-(\d+)\}\{(\d+)\}", s)
    if m:
        sign, s = -sign, f"\\frac{{{m.group(1)}}}{{{m.group(2)}}}"
    try:
        value = _unsigned(s)
    except (ValueError, ZeroDivisionError):
        return None
    return None if value is None else sign * value


def parse_quantity(text: str) -> Quantity | None:
    """A number with its percent sign and unit: "25%", "13 \\text{cm}", "30^\\circ"."""
    s = _strip(text)
    percent, unit = False, ""
    m = _PERCENT.search(s)
    found: str | None
    if m:
        percent, s = True, s[: m.start()]
    else:
        s, found = _split_unit(s)
        if found is None:
            return None
        unit = found
    value = parse_number(s)
    return Quantity(value, percent, unit) if value is not None else None


def _split_unit(s: str) -> tuple[str, str | None]:
    """Split a trailing unit off; the unit is None when a trailing word is no known unit."""
    for pattern in (_DEGREE, _TEXT_UNIT, _BARE_UNIT):
        m = pattern.search(s)
        if not m:
            continue
        word = m.group(1) if pattern is not _DEGREE else "degree"
        if not s[: m.start()].strip():
            return s, None
        if pattern is _TEXT_UNIT:
            return s[: m.start()], unit_name(word) or _free_unit(word)
        name = unit_name(word)
        glued = len(word) == 1 and not m.group(0)[0].isspace()  # 5t is 5*t, 5 t is 5 tonnes
        return (s[: m.start()], name) if name and not glued else (s, None)
    return s, ""


_HEDGE_WORDS = "or and nor either not more less least most about approximately roughly around"
NOT_UNITS = frozenset(f"{_HEDGE_WORDS} maybe possibly perhaps than to plus minus times".split())


def _free_unit(text: str) -> str | None:
    """A \\text{...} that is plainly a unit ("apples"), None for hedges ("or more", "(or 14)")."""
    words = text.lower().split()
    if not words or len(words) > 3 or not all(w.isalpha() for w in words):
        return None
    return None if NOT_UNITS.intersection(words) else " ".join(words)


def same_quantity(gold: Quantity, answer: Quantity, percent_question: bool = False) -> bool:
    """Equal values, percent and units taken into account.

    A percent only equals a plain number of the same value (13% is 0.13, never 13) unless
    the question asks in percent. A unit on one side only is decoration; two different
    units must convert (1 m = 100 cm), else the answer is wrong.
    """
    if gold.unit and answer.unit and gold.unit != answer.unit:
        converted = convert(answer.value, answer.unit, gold.unit)
        return converted is not None and converted == gold.value
    if percent_question:
        return gold.value == answer.value
    return gold.scaled() == answer.scaled()


def _depth_change(text: str, i: int) -> int:
    """+1/-1 when text[i] opens/closes a bracket (\\{ and \\} included), else 0."""
    char = text[i]
    if char in "([{":
        return 1
    if char in ")]}":
        return -1
    return 0


def top_level_split(text: str) -> list[str]:
    """Split on , ; "or" "and" \\quad outside brackets; "1,000" stays one number."""
    items, depth, start, i = [], 0, 0, 0
    while i < len(text):
        depth += _depth_change(text, i)
        m = _SEPARATOR.match(text, i) if depth == 0 else None
        if m and not _thousands_comma(text, i):
            items.append(text[start:i])
            start = i = m.end()
            continue
        i += 1
    items.append(text[start:])
    return [item.strip() for item in items]


def _thousands_comma(text: str, i: int) -> bool:
    """A comma inside 1,000 or 12,345,678 (digits on the left, exactly three on the right)."""
    if text[i] != ",":
        return False
    left = re.search(r"(?:^|[^\d.])\d{1,3}(?:,\d{3})*$", text[:i])
    return bool(left) and re.match(r"\d{3}(?!\d)", text[i + 1 :]) is not None


def _unwrap(s: str) -> tuple[str, bool]:
    """Remove one outer pair of set braces or tuple parentheses; the bool says ordered."""
    for left, right, ordered in (("\\{", "\\}", False), ("{", "}", False), ("(", ")", True)):
        if s.startswith(left) and s.endswith(right):
            inner = s[len(left) : -len(right)]
            if _balanced(inner) and (not ordered or len(top_level_split(inner)) > 1):
                return inner, ordered
    return s, False


def _balanced(s: str) -> bool:
    depth = 0
    for i in range(len(s)):
        depth += _depth_change(s, i)
        if depth < 0:
            return False
    return depth == 0


def split_list(text: str) -> tuple[list[str], bool] | None:
    """Items of "a, b", "(a, b)", "\\{a, b\\}", "x = a or x = b"; the bool says ordered.

    None when the text is one item.
    """
    s, ordered = _unwrap(_strip(text))
    parts = [p for p in top_level_split(s) if p]
    if len(parts) < 2:
        return None
    return [_VARIABLE.sub("", p) for p in parts], ordered


def item_count(text: str) -> int:
    """How many answers a text states: 1 for "13" or "(1, 2]", 2 for "13 or 14"."""
    items = split_list(text)
    return len(items[0]) if items else 1


def same_list(gold: str, answer: str, percent_question: bool = False) -> bool | None:
    """Compare lists of plain numbers: ordered for tuples, as multisets otherwise."""
    g, a = split_list(gold), split_list(answer)
    if g is None or a is None:
        return None
    if len(g[0]) != len(a[0]):
        return False
    gold_values = [parse_quantity(x) for x in g[0]]
    values = [parse_quantity(x) for x in a[0]]
    if None in gold_values or None in values:
        return None
    scaled = [[q.scaled() for q in qs if q] for qs in (gold_values, values)]
    if g[1]:  # the gold is an ordered tuple
        return scaled[0] == scaled[1]
    return sorted(scaled[0]) == sorted(scaled[1])


def fast_equivalent(gold: str, answer: str, percent_question: bool = False) -> bool | None:
    """True/False when the fast path can decide, None when symbolic checking is needed.

    An answer that states more values than the gold ("13 or 14" for 13) is wrong.
    """
    answer = _VARIABLE.sub("", _strip(answer))
    gold_items, answer_items = item_count(gold), item_count(answer)
    if gold_items == 1 and answer_items > 1:
        return False
    if gold_items > 1:
        decided = same_list(gold, answer, percent_question)
        if decided is None and answer_items != gold_items and parse_quantity(answer):
            return False
        return decided
    g, a = parse_quantity(gold), parse_quantity(answer)
    if g is None or a is None:
        return None
    return same_quantity(g, a, percent_question)
