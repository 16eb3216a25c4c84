"""The templates behind code.string, code.list, code.dict, code.math and code.parsing.

Each spec parameter is named in the docstring, so distinct parameters give distinct
problem texts; tests/problems/test_code_families.py re-derives every answer with its
own implementation of each spec.
"""

from __future__ import annotations

import random
import string

from synthmill.problems.base import Problem
from synthmill.problems.codegen import Params, Template, generate

LOWER = string.ascii_lowercase
CLOSING = {"(": ")", "[": "]", "{": "}", "<": ">"}


def _text(rng: random.Random, limit: int, alphabet: str) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, limit)))


def _ints(rng: random.Random, limit: int, low: int = -20, high: int = 20) -> list[int]:
    return [rng.randint(low, high) for _ in range(rng.randint(0, limit))]


def _others(p: Params, key: str) -> list[str]:
    return [c for c in LOWER if c != p[key]]


STRING = [
    Template(
        "replace_char",
        "s: str",
        "Return s with every {a!r} replaced by {b!r}.",
        "return s.replace({a!r}, {b!r})",
        "return s.replace({a!r}, {b!r}, 1)",
        [("a", lambda p: LOWER), ("b", lambda p: _others(p, "a"))],
        lambda r, p, n: (_text(r, n, p["a"] * 3 + p["b"] + "xy "),),
        lambda p: [(p["a"] * 3,), ("",), (f"{p['a']}x{p['a']}",)],
        "len(s) <= {limit}",
    ),
    Template(
        "caesar_shift",
        "s: str",
        "Shift every lowercase letter a-z of s forward by {k} places in the alphabet, "
        "wrapping from 'z' to 'a'; leave every other character unchanged.",
        "return ''.join(chr((ord(c) - 97 + {k}) % 26 + 97) if 'a' <= c <= 'z' else c for c in s)",
        "return ''.join(chr(ord(c) + {k}) if 'a' <= c <= 'z' else c for c in s)",
        [("k", lambda p: range(1, 26))],
        lambda r, p, n: (_text(r, n, LOWER + "XYZ .!"),),
        lambda p: [("xyz",), ("Hello, World!",), ("",)],
        "len(s) <= {limit}",
    ),
    Template(
        "longest_run",
        "s: str",
        "Return the length of the longest run of consecutive {c!r} characters in s "
        "(0 if s has none).",
        "best = run = 0\nfor ch in s:\n    run = run + 1 if ch == {c!r} else 0\n"
        "    best = max(best, run)\nreturn best",
        "return s.count({c!r})",
        [("c", lambda p: LOWER)],
        lambda r, p, n: (_text(r, n, p["c"] * 3 + "xy"),),
        lambda p: [(p["c"] * 2 + "x" + p["c"] * 3,), ("",), ("xy",)],
        "len(s) <= {limit}",
    ),
    Template(
        "every_kth",
        "s: str",
        "Return the characters of s at the 0-based positions {start}, {start} + {k}, "
        "{start} + 2*{k}, ... joined into one string.",
        "return s[{start}::{k}]",
        "return s[{start}::{k} + 1]",
        [("start", lambda p: range(5)), ("k", lambda p: range(2, 8))],
        lambda r, p, n: (_text(r, n, LOWER),),
        lambda p: [(LOWER,), ("",), ("ab",)],
        "len(s) <= {limit}",
    ),
    Template(
        "pad_left",
        "s: str",
        "Return s padded on the left with {c!r} to length {w}; a string of length {w} "
        "or more is returned unchanged.",
        "return s.rjust({w}, {c!r})",
        "return s.ljust({w}, {c!r})",
        [("c", lambda p: "*#.-0_"), ("w", lambda p: range(4, 21))],
        lambda r, p, n: (_text(r, n, "abc"),),
        lambda p: [("ab",), ("",), ("x" * (p["w"] + 2),)],
        "len(s) <= {limit}",
    ),
]

_OPS = ("sum", "max", "min")

LIST = [
    Template(
        "keep_multiples",
        "xs: list[int]",
        "Return the items of xs that are divisible by {k} and greater than {t}, in order.",
        "return [x for x in xs if x % {k} == 0 and x > {t}]",
        "return [x for x in xs if x % {k} == 0 or x > {t}]",
        [("k", lambda p: range(2, 10)), ("t", lambda p: range(-5, 6))],
        lambda r, p, n: (_ints(r, n),),
        lambda p: [(list(range(p["t"] - p["k"], p["t"] + 2 * p["k"] + 2)),), ([],)],
        "len(xs) <= {limit}",
    ),
    Template(
        "chunk_totals",
        "xs: list[int]",
        "Split xs into consecutive chunks of {k} items (the last chunk may be shorter) "
        "and return the {op} of each chunk, in order.",
        "return [{op}(xs[i:i + {k}]) for i in range(0, len(xs), {k})]",
        "return [{op}(xs[i:i + {k}]) for i in range(0, len(xs) - {k} + 1, {k})]",
        [("op", lambda p: _OPS), ("k", lambda p: range(2, 9))],
        lambda r, p, n: (_ints(r, n),),
        lambda p: [(list(range(1, p["k"] + 2)),), ([],)],
        "len(xs) <= {limit}",
    ),
    Template(
        "window_totals",
        "xs: list[int]",
        "Return the {op} of every window of {k} consecutive items of xs, in order "
        "(an empty list when xs has fewer than {k} items).",
        "return [{op}(xs[i:i + {k}]) for i in range(len(xs) - {k} + 1)]",
        "return [{op}(xs[i:i + {k}]) for i in range(len(xs) - {k})]",
        [("op", lambda p: _OPS), ("k", lambda p: range(2, 9))],
        lambda r, p, n: (_ints(r, n),),
        lambda p: [(list(range(p["k"] + 2)),), (list(range(p["k"])),)],
        "len(xs) <= {limit}",
    ),
    Template(
        "clamp_all",
        "xs: list[int]",
        "Return xs with every item below {lo} replaced by {lo} and every item above {hi} "
        "replaced by {hi}.",
        "return [min(max(x, {lo}), {hi}) for x in xs]",
        "return [max(x, {lo}) for x in xs]",
        [("lo", lambda p: range(-10, 1)), ("hi", lambda p: range(1, 11))],
        lambda r, p, n: (_ints(r, n),),
        lambda p: [([p["lo"] - 5, 0, p["hi"] + 5],), ([],)],
        "len(xs) <= {limit}",
    ),
    Template(
        "rotate_left",
        "xs: list[int]",
        "Return xs rotated left by {k} places (k may exceed len(xs); [] stays []).",
        "if not xs:\n    return []\nk = {k} % len(xs)\nreturn xs[k:] + xs[:k]",
        "return xs[{k}:] + xs[:{k}]",
        [("k", lambda p: range(4, 19))],
        lambda r, p, n: (_ints(r, n),),
        lambda p: [(list(range(1, p["k"])),), ([],), ([7],)],
        "len(xs) <= {limit}",
    ),
]

DICT = [
    Template(
        "word_counts",
        "s: str",
        "Split s on {sep!r}, lowercase each piece, drop empty pieces, and return a dict "
        "mapping each piece to how often it occurs, keeping pieces seen at least {k} times.",
        "counts: dict[str, int] = {{}}\nfor w in s.split({sep!r}):\n    if w:\n"
        "        counts[w.lower()] = counts.get(w.lower(), 0) + 1\n"
        "return {{w: c for w, c in counts.items() if c >= {k}}}",
        "counts: dict[str, int] = {{}}\nfor w in s.split({sep!r}):\n    if w:\n"
        "        counts[w] = counts.get(w, 0) + 1\n"
        "return {{w: c for w, c in counts.items() if c >= {k}}}",
        [("sep", lambda p: [" ", ",", ";", "|"]), ("k", lambda p: range(1, 5))],
        lambda r, p, n: (
            p["sep"].join(r.choice(["a", "A", "b", "B", "cc", ""]) for _ in range(n)),
        ),
        lambda p: [(p["sep"].join(["A", "a", "a", "A", "b"]),), ("",)],
        "at most {limit} pieces",
    ),
    Template(
        "group_by_remainder",
        "xs: list[int]",
        "Return a dict mapping each remainder r = x % {m} that occurs among the items x "
        "of xs to the sorted list of those items.",
        "groups: dict[int, list[int]] = {{}}\nfor x in xs:\n"
        "    groups.setdefault(x % {m}, []).append(x)\n"
        "return {{r: sorted(v) for r, v in groups.items()}}",
        "groups: dict[int, list[int]] = {{}}\nfor x in xs:\n"
        "    groups.setdefault(x % {m}, []).append(x)\nreturn groups",
        [("m", lambda p: range(2, 13))],
        lambda r, p, n: (_ints(r, n),),
        lambda p: [([3 * p["m"] + 1, 1, 2 * p["m"] + 1],), ([],)],
        "len(xs) <= {limit}",
    ),
    Template(
        "merge_totals",
        "a: dict[str, int], b: dict[str, int]",
        "Merge a and b: each key's value is the sum of its values in a and b (a missing "
        "key counts 0); drop the keys whose total is below {t}.",
        "keys = list(a) + [k for k in b if k not in a]\n"
        "totals = {{k: a.get(k, 0) + b.get(k, 0) for k in keys}}\n"
        "return {{k: v for k, v in totals.items() if v >= {t}}}",
        "merged = {{**a, **b}}\nreturn {{k: v for k, v in merged.items() if v >= {t}}}",
        [("t", lambda p: range(-5, 21))],
        lambda r, p, n: tuple(
            {r.choice("wxyz"): r.randint(-10, 25) for _ in range(r.randint(0, n))} for _ in range(2)
        ),
        lambda p: [({"x": p["t"], "y": 1}, {"x": 1, "z": p["t"] + 5})],
        "at most {limit} keys in each dict",
    ),
    Template(
        "top_keys",
        "d: dict[str, int]",
        "Return the {k} keys of d with the largest values, largest first; ties go to the "
        "alphabetically smaller key. Return every key when d has fewer than {k}.",
        "return sorted(d, key=lambda key: (-d[key], key))[:{k}]",
        "return sorted(d, key=lambda key: (d[key], key), reverse=True)[:{k}]",
        [("k", lambda p: range(1, 7))],
        lambda r, p, n: ({r.choice(LOWER[:8]): r.randint(0, 5) for _ in range(r.randint(0, n))},),
        lambda p: [(dict.fromkeys("abcdefg", 1),), ({},)],
        "at most {limit} keys",
    ),
    Template(
        "first_letter_counts",
        "words: list[str]",
        "Return a dict mapping each first letter to how many words of words start with it, "
        "counting only the words with at least {n} letters.",
        "counts: dict[str, int] = {{}}\nfor w in words:\n    if len(w) >= {n}:\n"
        "        counts[w[0]] = counts.get(w[0], 0) + 1\nreturn counts",
        "counts: dict[str, int] = {{}}\nfor w in words:\n    if w:\n"
        "        counts[w[0]] = counts.get(w[0], 0) + 1\nreturn counts",
        [("n", lambda p: range(2, 8))],
        lambda r, p, n: ([_text(r, 9, "abc") for _ in range(r.randint(0, n))],),
        lambda p: [(["a", "ab", "abc", "abcdefgh", "b", "bcdefghi"],), ([],)],
        "len(words) <= {limit}",
    ),
]

MATH = [
    Template(
        "digit_sum_in_base",
        "n: int",
        "Return the sum of the digits of n >= 0 written in base {b}.",
        "total = 0\nwhile n:\n    n, digit = divmod(n, {b})\n    total += digit\nreturn total",
        "return sum(int(c) for c in str(n))",
        [("b", lambda p: [b for b in range(2, 17) if b != 10])],
        lambda r, p, n: (r.randint(0, n),),
        lambda p: [(0,), (12345,), (p["b"] ** 3 - 1,)],
        "0 <= n <= {limit}",
        lambda d: 10 ** (1 + d),
    ),
    Template(
        "count_divisible",
        "n: int",
        "Return how many integers in 1..n are divisible by {a} or by {b}.",
        "return sum(1 for i in range(1, n + 1) if i % {a} == 0 or i % {b} == 0)",
        "return n // {a} + n // {b}",
        [("a", lambda p: range(2, 16)), ("b", lambda p: range(p["a"] + 1, 17))],
        lambda r, p, n: (r.randint(0, n),),
        lambda p: [(p["a"] * p["b"],), (0,)],
        "0 <= n <= {limit}",
        lambda d: 50 * d,
    ),
    Template(
        "nth_term",
        "n: int",
        "A sequence starts at {s}; each next term is the previous one times {r} plus {d}. "
        "Return the n-th term (n >= 1; the first term is {s}).",
        "term = {s}\nfor _ in range(n - 1):\n    term = term * {r} + {d}\nreturn term",
        "term = {s}\nfor _ in range(n):\n    term = term * {r} + {d}\nreturn term",
        [("s", lambda p: range(10)), ("r", lambda p: range(2, 5)), ("d", lambda p: range(1, 6))],
        lambda r, p, n: (r.randint(1, n),),
        lambda p: [(1,), (3,)],
        "1 <= n <= {limit}",
        lambda d: 5 + 3 * d,
    ),
    Template(
        "is_power_of",
        "n: int",
        "Return True if n is a power of {b} ({b}**0 = 1 counts), else False.",
        "if n < 1:\n    return False\nwhile n % {b} == 0:\n    n //= {b}\nreturn n == 1",
        "if n <= 1:\n    return False\nwhile n % {b} == 0:\n    n //= {b}\nreturn n == 1",
        [("b", lambda p: range(2, 11))],
        lambda r, p, n: (r.choice([r.randint(-5, n), p["b"] ** r.randint(0, 6)]),),
        lambda p: [(1,), (p["b"] ** 3,), (p["b"] ** 3 + 1,), (0,)],
        "-5 <= n <= {limit}",
        lambda d: 10 ** (1 + d),
    ),
    Template(
        "digit_power_sum",
        "n: int",
        "Return the sum of the {k}-th powers of the decimal digits of n >= 0.",
        "return sum(int(c) ** {k} for c in str(n))",
        "return {k} * sum(int(c) for c in str(n))",
        [("k", lambda p: range(2, 8))],
        lambda r, p, n: (r.randint(0, n),),
        lambda p: [(123,), (0,)],
        "0 <= n <= {limit}",
        lambda d: 10 ** (1 + d),
    ),
]


def _pairs(r: random.Random, p: Params, n: int) -> tuple[str]:
    keys = [r.choice(p["p"] + "xyz") + _text(r, 2, "abc") for _ in range(r.randint(0, n))]
    return (p["sep"].join(f"{k}{p['kv']}{r.randint(-20, 20)}" for k in keys),)


def _table(r: random.Random, p: Params, n: int) -> tuple[str]:
    rows = [
        [str(r.randint(-9, 99)) for _ in range(r.randint(1, 6))] for _ in range(r.randint(0, n))
    ]
    return ("\n".join(p["d"].join(row) for row in rows),)


PARSING = [
    Template(
        "sum_pairs",
        "s: str",
        "s holds pairs key{kv}value separated by {sep!r}, each value an integer (s may be "
        "empty). Return the sum of the values whose key starts with {p!r}.",
        "total = 0\nfor pair in s.split({sep!r}) if s else []:\n"
        "    key, value = pair.split({kv!r})\n    if key.startswith({p!r}):\n"
        "        total += int(value)\nreturn total",
        "total = 0\nfor pair in s.split({sep!r}) if s else []:\n"
        "    key, value = pair.split({kv!r})\n    if key == {p!r}:\n"
        "        total += int(value)\nreturn total",
        [("kv", lambda p: "=:"), ("sep", lambda p: ",;|&"), ("p", lambda p: "abcde")],
        _pairs,
        lambda p: [(f"{p['p']}x{p['kv']}3{p['sep']}{p['p']}{p['kv']}4{p['sep']}z{p['kv']}5",)],
        "at most {limit} pairs",
    ),
    Template(
        "csv_column",
        "s: str",
        "s has lines of fields separated by {d!r}. Return, in order, the integer in "
        "column {c} (0-based) of every line that has such a column.",
        "out = []\nfor line in s.splitlines():\n    parts = line.split({d!r})\n"
        "    if len(parts) > {c}:\n        out.append(int(parts[{c}]))\nreturn out",
        "return [int(line.split({d!r})[{c}]) for line in s.splitlines() "
        "if len(line.split({d!r})) >= {c}]",
        [("d", lambda p: ",;|"), ("c", lambda p: range(1, 6))],
        _table,
        lambda p: [("\n".join(p["d"].join(map(str, range(w))) for w in range(1, p["c"] + 3)),)],
        "at most {limit} lines",
    ),
    Template(
        "minutes_until",
        "s: str",
        "s is a 24-hour time 'HH:MM'. Return how many minutes pass from s until the clock "
        "next shows {h:02d}:{m:02d} (0 if s is {h:02d}:{m:02d}).",
        "hours, minutes = map(int, s.split(':'))\n"
        "return ({h} * 60 + {m} - hours * 60 - minutes) % 1440",
        "hours, minutes = map(int, s.split(':'))\nreturn {h} * 60 + {m} - hours * 60 - minutes",
        [("h", lambda p: range(24)), ("m", lambda p: (0, 15, 30, 45))],
        lambda r, p, n: (f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}",),
        lambda p: [("23:59",), (f"{p['h']:02d}:{p['m']:02d}",), ("00:00",)],
        "s is a valid time",
    ),
    Template(
        "sum_numbers_over",
        "s: str",
        "Return the sum of the integers written in s that are greater than {t}; an integer "
        "is a run of digits, negative when a '-' comes right before it.",
        "import re\nreturn sum(v for v in map(int, re.findall(r'-?\\d+', s)) if v > {t})",
        "import re\nreturn sum(v for v in map(int, re.findall(r'\\d+', s)) if v > {t})",
        [("t", lambda p: range(-10, 11))],
        lambda r, p, n: (_text(r, n, "ab -123"),),
        lambda p: [("a-5b12c-30d7",), ("",)],
        "len(s) <= {limit}",
    ),
    Template(
        "bracket_depth",
        "s: str",
        "Return the deepest nesting of the brackets {o!r} and {c!r} in s (other characters "
        "are ignored), or -1 when they are not balanced.",
        "depth = best = 0\nfor ch in s:\n    if ch == {o!r}:\n        depth += 1\n"
        "        best = max(best, depth)\n    elif ch == {c!r}:\n        depth -= 1\n"
        "        if depth < 0:\n            return -1\nreturn best if depth == 0 else -1",
        "depth = best = 0\nfor ch in s:\n    if ch == {o!r}:\n        depth += 1\n"
        "        best = max(best, depth)\n    elif ch == {c!r}:\n        depth -= 1\nreturn best",
        [
            ("o", lambda p: "([{<"),
            ("c", lambda p: {"(": ")", "[": "]", "{": "}", "<": ">"}[p["o"]]),
        ],
        lambda r, p, n: (_text(r, n, p["o"] * 2 + p["c"] * 2 + "x"),),
        lambda p: [(p["o"] + p["c"] + p["c"],), (p["o"] * 2 + "x" + p["c"] * 2,), ("",)],
        "len(s) <= {limit}",
    ),
]


def string_tasks(rng: random.Random, difficulty: int) -> Problem:
    """Write a string function (replace, shift, runs, slices, padding) with drawn specs."""
    return generate(STRING, "code.string", rng, difficulty)


def list_tasks(rng: random.Random, difficulty: int) -> Problem:
    """Write a list function (filters, chunks, windows, clamping, rotation)."""
    return generate(LIST, "code.list", rng, difficulty)


def dict_tasks(rng: random.Random, difficulty: int) -> Problem:
    """Write a dict function (counting, grouping, merging, ranking)."""
    return generate(DICT, "code.dict", rng, difficulty)


def math_tasks(rng: random.Random, difficulty: int) -> Problem:
    """Write an integer function (bases, divisibility, recurrences, powers)."""
    return generate(MATH, "code.math", rng, difficulty)


def parsing_tasks(rng: random.Random, difficulty: int) -> Problem:
    """Write a parser (key-value pairs, CSV columns, times, numbers in text, brackets)."""
    return generate(PARSING, "code.parsing", rng, difficulty)


TEMPLATES = {
    "code.string": STRING,
    "code.list": LIST,
    "code.dict": DICT,
    "code.math": MATH,
    "code.parsing": PARSING,
}
