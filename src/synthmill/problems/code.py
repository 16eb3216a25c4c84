"""Function-writing tasks with hidden tests, in HumanEval's shape (prompt, check(candidate)).

The answer column holds a reference solution; the hidden tests are computed by running
that reference (our own trusted code) on seeded random inputs.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from synthmill.problems.base import Problem


@dataclass(frozen=True)
class Task:
    """One template: a signature, a docstring, a reference solution and an input maker."""

    name: str
    signature: str
    doc: str
    reference: str
    inputs: Callable[[random.Random, int], tuple[Any, ...]]
    level: int


def _words(rng: random.Random, d: int) -> str:
    return " ".join(
        "".join(rng.choices(string.ascii_lowercase, k=rng.randint(1, 6)))
        for _ in range(rng.randint(0, 2 + d))
    )


def _ints(rng: random.Random, d: int) -> list[int]:
    return [rng.randint(-10 * d, 10 * d) for _ in range(rng.randint(0, 3 + 2 * d))]


TASKS = [
    Task(
        "sum_of_multiples",
        "n: int, k: int",
        "Return the sum of the positive integers below n that are divisible by k.",
        "return sum(i for i in range(1, n) if i % k == 0)",
        lambda r, d: (r.randint(1, 30 * d), r.randint(1, 9)),
        1,
    ),
    Task(
        "count_vowels",
        "s: str",
        "Return how many characters of s are vowels (a, e, i, o, u; upper or lower case).",
        "return sum(c in 'aeiouAEIOU' for c in s)",
        lambda r, d: ("".join(r.choices(string.ascii_letters + " ", k=r.randint(0, 8 * d))),),
        1,
    ),
    Task(
        "reverse_words",
        "s: str",
        "Return the words of s (separated by spaces) in reverse order, joined by single spaces.",
        "return ' '.join(reversed(s.split()))",
        lambda r, d: (_words(r, d),),
        2,
    ),
    Task(
        "running_max",
        "xs: list[int]",
        "Return the list whose i-th item is the largest of xs[0..i].",
        "out = []\n    for x in xs:\n        out.append(x if not out else "
        "max(out[-1], x))\n    return out",
        lambda r, d: (_ints(r, d),),
        2,
    ),
    Task(
        "is_palindrome",
        "s: str",
        "Return True if s reads the same backwards, ignoring case "
        "and any character that is not a letter or digit.",
        "t = [c.lower() for c in s if c.isalnum()]\n    return t == t[::-1]",
        lambda r, d: (
            r.choice(["A man, a plan, a canal: Panama", "ab", "Noon!", "x"])
            if r.random() < 0.5
            else _words(r, d),
        ),
        2,
    ),
    Task(
        "second_largest",
        "xs: list[int]",
        "Return the second largest distinct value in xs, or None if there is none.",
        "v = sorted(set(xs))\n    return v[-2] if len(v) > 1 else None",
        lambda r, d: (_ints(r, d),),
        3,
    ),
    Task(
        "rotate_right",
        "xs: list[int], k: int",
        "Return xs rotated right by k places (k >= 0 may exceed len(xs)).",
        "if not xs:\n        return []\n    k %= len(xs)\n    "
        "return xs[-k:] + xs[:-k] if k else list(xs)",
        lambda r, d: (_ints(r, d), r.randint(0, 10)),
        3,
    ),
    Task(
        "digital_root",
        "n: int",
        "Return the digital root of n >= 0: sum its digits repeatedly until one digit is left.",
        "while n >= 10:\n        n = sum(int(c) for c in str(n))\n    return n",
        lambda r, d: (r.randint(0, 10 ** (2 * d)),),
        3,
    ),
    Task(
        "run_length",
        "s: str",
        "Return the run-length encoding of s: each run of a repeated "
        "character becomes the character followed by the run length, e.g. 'aaab' -> 'a3b1'.",
        "out, i = [], 0\n    while i < len(s):\n        j = i\n        while j < len(s) and "
        "s[j] == s[i]:\n            j += 1\n        out.append(f'{s[i]}{j - i}')\n        i = j"
        "\n    return ''.join(out)",
        lambda r, d: (
            "".join(c * r.randint(1, 4) for c in r.choices("abc", k=r.randint(0, d + 2))),
        ),
        4,
    ),
    Task(
        "merge_intervals",
        "intervals: list[list[int]]",
        "Merge overlapping closed intervals [a, b] and return them sorted by start, as lists.",
        "out: list[list[int]] = []\n    for a, b in sorted(intervals):\n        if out and a "
        "<= out[-1][1]:\n            out[-1][1] = max(out[-1][1], b)\n        else:\n"
        "            out.append([a, b])\n    return out",
        lambda r, d: (
            [
                sorted([r.randint(0, 20 * d), r.randint(0, 20 * d)])
                for _ in range(r.randint(0, 2 + d))
            ],
        ),
        5,
    ),
]


def _prompt(task: Task) -> str:
    return f'def {task.name}({task.signature}):\n    """{task.doc}"""\n'


def _tests(task: Task, rng: random.Random, difficulty: int) -> str:
    namespace: dict[str, Any] = {}
    exec(_prompt(task) + f"    {task.reference}\n", namespace)
    func = namespace[task.name]
    lines = ["def check(candidate):"]
    for _ in range(3 + 2 * difficulty):
        args = task.inputs(rng, difficulty)
        expected = func(*[_copy(a) for a in args])
        call = ", ".join(repr(a) for a in args)
        lines.append(f"    assert candidate({call}) == {expected!r}")
    return "\n".join(lines) + "\n"


def _copy(value: Any) -> Any:
    return [_copy(v) for v in value] if isinstance(value, list) else value


def function(rng: random.Random, difficulty: int) -> Problem:
    """Write one Python function; hidden tests call it as check(candidate)."""
    task = rng.choice([t for t in TASKS if t.level <= difficulty])
    prompt = _prompt(task)
    question = (
        "Complete this Python function. Reply with the whole function in a ```python block."
        f"\n\n{prompt}"
    )
    solution = f"{prompt}    {task.reference}\n"
    tests = _tests(task, rng, difficulty)
    return Problem(question, solution, "code.function", difficulty, "code", task.name, tests)
