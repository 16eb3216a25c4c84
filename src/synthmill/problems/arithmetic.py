"""Arithmetic families: integers, fractions, order of operations, percentages, ratios."""

from __future__ import annotations

import random
from fractions import Fraction

from synthmill.problems.base import Problem, coin, fmt, fmt_decimal, nonzero, scale


def integer(rng: random.Random, difficulty: int) -> Problem:
    """A chain of + - * on integers; harder means longer chains and bigger numbers."""
    terms = scale(difficulty, 2, 3, 3, 4, 5)
    bound = scale(difficulty, 20, 100, 500, 1000, 10000)
    value = rng.randint(-bound // 4 if difficulty > 2 else 1, bound)
    text = str(value)
    for _ in range(terms - 1):
        op = rng.choice("+-*" if difficulty > 1 else "+-")
        n = rng.randint(2, 12) if op == "*" else rng.randint(1, bound)
        compound = any(c in text[1:] for c in "+-*")
        # parenthesize so that left-to-right evaluation is also the textbook one
        text = f"({text}) * {n}" if op == "*" and compound else f"{text} {op} {n}"
        value = value * n if op == "*" else value + n if op == "+" else value - n
    return Problem(f"Compute {text}.", fmt(value), "arithmetic.integer", difficulty)


def fraction(rng: random.Random, difficulty: int) -> Problem:
    """Add, subtract, multiply or divide two fractions; the answer is reduced."""
    den = scale(difficulty, 6, 10, 12, 20, 30)
    a = Fraction(nonzero(rng, -den if difficulty > 2 else 1, den), rng.randint(2, den))
    b = Fraction(nonzero(rng, 1, den), rng.randint(2, den))
    op = rng.choice("+-" if difficulty == 1 else "+-*/")
    value = {"+": a + b, "-": a - b, "*": a * b, "/": a / b}[op]
    question = (
        f"Compute {_frac(a)} {op} {_frac(b)}. Give the answer as a reduced fraction or an integer."
    )
    return Problem(question, fmt(value), "arithmetic.fraction", difficulty)


def _frac(x: Fraction) -> str:
    return f"({x.numerator}/{x.denominator})" if x.denominator != 1 else str(x.numerator)


def order_of_operations(rng: random.Random, difficulty: int) -> Problem:
    """An expression mixing + - * and parentheses, evaluated by the usual precedence."""
    size = scale(difficulty, 3, 4, 5, 6, 7)
    bound = scale(difficulty, 9, 12, 20, 30, 50)
    text = str(rng.randint(1, bound))
    for _ in range(size - 1):
        op = rng.choice("+-*")
        operand = str(rng.randint(1, bound))
        if difficulty >= 3 and coin(rng, 3):
            operand = f"({operand} {rng.choice('+-')} {rng.randint(1, bound)})"
        text = f"{text} {op} {operand}"
        if difficulty >= 4 and coin(rng, 2):
            text = f"({text})"
    value = _eval_int(text)
    return Problem(f"Evaluate {text}.", fmt(value), "arithmetic.order_of_operations", difficulty)


def _eval_int(text: str) -> int:
    """Evaluate an expression we built ourselves (digits, + - * and parentheses only)."""
    assert set(text) <= set("0123456789+-*() ")
    return int(eval(text, {"__builtins__": {}}, {}))


def percent(rng: random.Random, difficulty: int) -> Problem:
    """Percent of a number, what percent one number is of another, or a percent change."""
    mode = rng.choice(["of", "what", "change"][: scale(difficulty, 1, 2, 3, 3, 3)])
    base = rng.randint(2, scale(difficulty, 20, 50, 200, 500, 2000)) * 4
    pct = rng.choice([5, 10, 20, 25, 50, 75] if difficulty < 3 else list(range(1, 100)))
    part = Fraction(pct * base, 100)
    if mode == "of":
        question = f"What is {pct}% of {base}?"
        return Problem(question, fmt_decimal(part), "arithmetic.percent", difficulty)
    if mode == "what":
        question = f"What percent of {base} is {fmt_decimal(part)}? Answer with the number only."
        return Problem(question, str(pct), "arithmetic.percent", difficulty)
    up = coin(rng)
    new = base + part if up else base - part
    question = (
        f"A price changes from {base} to {fmt_decimal(new)}. By what percent did it "
        f"{'increase' if up else 'decrease'}? Answer with the number only."
    )
    return Problem(question, str(pct), "arithmetic.percent", difficulty)


def ratio(rng: random.Random, difficulty: int) -> Problem:
    """Split a total in a given ratio, or scale a ratio up."""
    parts = [rng.randint(1, scale(difficulty, 4, 6, 9, 12, 15)) for _ in range(2)]
    unit = rng.randint(2, scale(difficulty, 10, 20, 40, 60, 100))
    total = sum(parts) * unit
    names = rng.sample(["Ann", "Ben", "Cai", "Dee", "Eli", "Fay"], 2)
    question = (
        f"{names[0]} and {names[1]} share {total} coins in the ratio {parts[0]}:{parts[1]}. "
        f"How many coins does {names[1]} get?"
    )
    return Problem(question, str(parts[1] * unit), "arithmetic.ratio", difficulty)
