"""Table-driven answer checking: extraction from a solution, then equivalence to the gold.

Each case is (gold answer, model solution text, expected verdict). The traps named by
the issue are marked; they are the reason the fast path and precision settings exist.
"""

from __future__ import annotations

import pytest

from synthmill.verify.equivalence import check_solution, equivalent
from synthmill.verify.extract import extract_answer, extract_code

CASES: list[tuple[str, str, bool]] = [
    # plain integers, and the many ways of stating them
    ("42", "The answer is 42.", True),
    ("42", "Answer: 42", True),
    ("42", "so x = 42", True),
    ("42", "#### 42", True),
    ("42", "$\\boxed{42}$", True),
    ("42", "**Answer:** $42$", True),
    ("42", "Answer: 43", False),
    ("-7", "Answer: -7", True),
    ("-7", "Answer: 7", False),  # trap: a dropped sign
    ("7", "Answer: -7", False),
    ("1000", "Answer: 1,000", True),  # thousands separator
    ("1000", "Answer: 1000.0", True),
    ("1000", "Answer: 1e3", True),
    ("12", "First 3 + 4 = 7, then 7 + 5 = 12.", True),  # last number, not the first
    ("7", "First 3 + 4 = 7, then 7 + 5 = 12.", False),
    ("5", "I am not sure.", False),  # no answer at all
    ("0", "Answer: 0", True),
    ("0", "Answer: -0", True),
    # fractions and decimals: exact comparison
    ("3/4", "Answer: 3/4", True),
    ("3/4", "Answer: 0.75", True),
    ("3/4", "Answer: 6/8", True),
    ("3/4", "$\\boxed{\\frac{3}{4}}$", True),
    ("3/4", "$\\boxed{\\dfrac{3}{4}}$", True),
    ("3/4", "$\\boxed{\\frac34}$", True),
    ("3/4", "Answer: 4/3", False),  # trap: inverted fraction
    ("-3/4", "Answer: $-\\frac{3}{4}$", True),
    ("-3/4", "Answer: 3/4", False),
    ("1/3", "Answer: 0.333333", False),  # trap: a rounded decimal is not exact
    ("1/3", "Answer: 1/3", True),
    ("2.5", "Answer: 5/2", True),
    ("2.5", "Answer: 2.50", True),
    ("0.1", "Answer: 1/10", True),
    ("576.24", "Answer: 576.24", True),
    ("576.24", "Answer: 576.2", False),
    # percentages
    ("25", "Answer: 25%", True),  # question asked for a percent
    ("0.5", "Answer: 50%", True),  # the share form
    ("25", "Answer: 25\\%", True),
    ("25", "Answer: 20%", False),
    ("50%", "Answer: 0.5", True),
    ("50%", "Answer: 50", True),
    # tuples (ordered) and root lists (unordered)
    ("(2, 3)", "Answer: (2, 3)", True),
    ("(2, 3)", "Answer: x = 2, y = 3", True),
    ("(2, 3)", "Answer: (3, 2)", False),  # trap: a system's solution is ordered
    ("-2, 3", "Answer: 3, -2", True),  # roots are a set
    ("-2, 3", "Answer: x = -2 or x = 3", True),
    ("-2, 3", "Answer: -2", False),  # trap: one root of two
    ("-2, 3", "Answer: -2, 3, 4", False),
    ("-2, 3", "$\\boxed{\\{-2, 3\\}}$", True),
    ("-2, 3", "The roots are x = -2 and x = 3.", True),  # no answer line: last two numbers
    ("-2, 3", "The roots are x = 2 and x = 3.", False),
    # symbolic answers (math-verify, gold first)
    ("\\frac{\\sqrt{2}}{2}", "$\\boxed{\\frac{1}{\\sqrt{2}}}$", True),
    ("3\\sqrt{3}", "$\\boxed{\\sqrt{27}}$", True),
    ("x + 1", "$\\boxed{1 + x}$", True),
    ("2x", "$\\boxed{x \\cdot 2}$", True),
    ("x^2 - 1", "$\\boxed{(x-1)(x+1)}$", True),
    ("x^2 - 1", "$\\boxed{(x-1)^2}$", False),
    ("\\pi", "$\\boxed{3.14159}$", False),  # trap: an approximation of pi is not pi
    ("\\pi/2", "$\\boxed{\\frac{\\pi}{2}}$", True),
    ("\\frac{1}{2^{99}}", "$\\boxed{\\frac{1}{2^{98}}}$", False),  # trap: default precision
    ("\\frac{1}{2^{99}}", "$\\boxed{2^{-99}}$", True),
    ("(1, 2]", "$\\boxed{(1, 2]}$", True),
    ("(1, 2]", "$\\boxed{[1, 2]}$", False),  # trap: interval ends
    ("\\{1, 2\\}", "$\\boxed{\\{2, 1\\}}$", True),
    ("30^\\circ", "The angle is $\\boxed{30^\\circ}$.", True),
    ("\\frac{1}{2}", "$\\boxed{\\sin(\\pi/6)}$", True),
    ("\\binom{5}{2}", "$\\boxed{10}$", True),
    ("2^{10}", "Answer: 1024", True),
    ("\\sqrt{2}", "$\\boxed{1.41421356}$", False),
    ("\\log(8)", "$\\boxed{3\\log(2)}$", True),
]


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 60


@pytest.mark.parametrize(("gold", "solution", "expected"), CASES)
def test_equivalence_table(gold: str, solution: str, expected: bool) -> None:
    result = check_solution(gold, solution, timeout=20)
    assert result.outcome in ("correct", "wrong", "no answer"), result
    assert result.ok is expected, result


def test_gold_order_matters_for_equations() -> None:
    # math-verify is asymmetric: the gold "x = 2" accepts the bare value 2.
    assert equivalent("x = 2", "2", timeout=20).ok


@pytest.mark.slow
def test_a_hanging_comparison_times_out_and_the_worker_recovers() -> None:
    slow = equivalent("5", "10^{10^{10}} - 10^{10^{10}} + 5", timeout=2)
    assert slow.outcome == "timeout"
    assert equivalent("x + 1", "1 + x", timeout=20).ok  # a fresh worker answers next


def test_symbolic_off_uses_only_the_exact_path() -> None:
    assert equivalent("3/4", "0.75", symbolic=False).method == "exact"
    assert equivalent("x + 1", "1 + x", symbolic=False).outcome == "wrong"


def test_math_verify_in_a_thread_is_safe() -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda s: equivalent("x+1", s, timeout=20), ["1+x", "x+2"] * 3))
    assert [r.ok for r in results] == [True, False] * 3


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("so \\boxed{\\frac{a}{b}} and \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("The final answer is: $12$.", "12"),
        ("Answer: **7**", "7"),
        ("nothing numeric here", None),
        ("it costs $8.41 in change", "8.41"),
        ("the answer isn't obvious, but it is 5", "5"),
    ],
)
def test_extract_answer(text: str, answer: str | None) -> None:
    assert extract_answer(text) == answer


def test_extract_code_prefers_the_fenced_block() -> None:
    reply = "Here:\n```python\ndef f():\n    return 1\n```\nThat is it."
    assert extract_code(reply) == "def f():\n    return 1\n"
    assert extract_code("def g(): pass") == "def g(): pass"
