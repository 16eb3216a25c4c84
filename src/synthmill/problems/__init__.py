"""Programmatic problem generators with known answers (no model needed).

`FAMILIES` maps a family name to its generator `(rng, difficulty) -> Problem`.
"""

from __future__ import annotations

from synthmill.problems import algebra, arithmetic, code, code_templates, measures, numbers, words
from synthmill.problems.base import Family, Problem

FAMILIES: dict[str, Family] = {
    "arithmetic.integer": arithmetic.integer,
    "arithmetic.fraction": arithmetic.fraction,
    "arithmetic.order_of_operations": arithmetic.order_of_operations,
    "arithmetic.percent": arithmetic.percent,
    "arithmetic.ratio": arithmetic.ratio,
    "algebra.linear": algebra.linear,
    "algebra.system": algebra.system,
    "algebra.quadratic": algebra.quadratic,
    "word.rate": words.rate,
    "word.mixture": words.mixture,
    "word.age": words.age,
    "word.money": words.money,
    "number_theory.gcd": numbers.gcd,
    "number_theory.lcm": numbers.lcm,
    "number_theory.modular": numbers.modular,
    "number_theory.prime": numbers.prime,
    "sequence": numbers.sequence,
    "units": measures.units,
    "probability": measures.probability,
    "code.function": code.function,
    "code.string": code_templates.string_tasks,
    "code.list": code_templates.list_tasks,
    "code.dict": code_templates.dict_tasks,
    "code.math": code_templates.math_tasks,
    "code.parsing": code_templates.parsing_tasks,
}
MATH_FAMILIES = [name for name in FAMILIES if not name.startswith("code.")]

__all__ = ["FAMILIES", "MATH_FAMILIES", "Family", "Problem"]
