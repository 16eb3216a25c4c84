"""Code problems from templates with randomized specs, in HumanEval's shape.

A template is a function to write whose spec has parameters ("the items divisible by
{k}"), a reference body, a plausible wrong body, and input makers. One problem is a
template with drawn parameters and an input bound stated in the docstring (it grows
with difficulty). Hidden tests are the reference's outputs on edge inputs plus random
ones; more random inputs are added until the wrong body fails at least one, so every
problem's tests reject at least that mistake.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from synthmill.problems.base import Problem

INSTRUCTION = "Complete this Python function. Reply with the whole function in a ```python block."
MAX_EXTRA_INPUTS = 60
Params = dict[str, Any]
Space = list[tuple[str, Callable[[Params], Sequence[Any]]]]


@dataclass(frozen=True)
class Template:
    """One kind of function. Strings are str.format templates over the parameters."""

    name: str
    signature: str
    doc: str
    body: str
    wrong: str
    space: Space
    inputs: Callable[[random.Random, Params, int], tuple[Any, ...]]
    edges: Callable[[Params], list[tuple[Any, ...]]]
    constraint: str  # e.g. "len(xs) <= {limit}"
    limit: Callable[[int], int] = lambda d: 4 + 4 * d

    def draw(self, rng: random.Random) -> Params:
        """Parameters, each drawn from a range that may depend on the earlier ones."""
        params: Params = {}
        for key, values in self.space:
            params[key] = rng.choice(list(values(params)))
        return params

    def variants(self) -> int:
        """How many parameter combinations (distinct specs) there are."""
        return _count(self.space, {})

    def prompt(self, params: Params, limit: int) -> str:
        doc = self.doc.format(**params)
        rule = self.constraint.format(limit=limit, **params)
        head = f"def {self.name}({self.signature}):\n"
        return f'{head}    """{doc}\n\n    Constraint: {rule}.\n    """\n'

    def source(self, params: Params, wrong: bool = False) -> str:
        body = (self.wrong if wrong else self.body).format(**params)
        lines = "\n".join(f"    {line}" if line else "" for line in body.splitlines())
        return f"def {self.name}({self.signature}):\n{lines}\n"


def _count(space: Space, params: Params) -> int:
    if not space:
        return 1
    (key, values), rest = space[0], space[1:]
    return sum(_count(rest, {**params, key: v}) for v in values(params))


@lru_cache(maxsize=4096)
def _compiled(source: str, name: str) -> Callable[..., Any]:
    """Our own trusted reference (or wrong) code, compiled once per spec."""
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<{name}>", "exec"), namespace)
    return namespace[name]  # type: ignore[no-any-return]


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _run(func: Callable[..., Any], args: tuple[Any, ...]) -> tuple[bool, Any]:
    try:
        return True, func(*[_copy(a) for a in args])
    except Exception as exc:  # the wrong body may crash: that is a failing answer
        return False, exc


def make_tests(
    template: Template, params: Params, rng: random.Random, difficulty: int
) -> tuple[list[tuple[tuple[Any, ...], Any]], bool]:
    """(args, expected) pairs, and whether the wrong body fails at least one of them."""
    right = _compiled(template.source(params), template.name)
    wrong = _compiled(template.source(params, wrong=True), template.name)
    limit = template.limit(difficulty)
    inputs = template.edges(params) + [
        template.inputs(rng, params, limit) for _ in range(3 + 2 * difficulty)
    ]
    cases = [(args, right(*[_copy(a) for a in args])) for args in inputs]
    caught = any(_run(wrong, args) != (True, out) for args, out in cases)
    for _ in range(MAX_EXTRA_INPUTS):
        if caught:
            break
        args = template.inputs(rng, params, limit)
        out = right(*[_copy(a) for a in args])
        cases.append((args, out))
        caught = _run(wrong, args) != (True, out)
    return cases, caught


def check_source(entry: str, cases: list[tuple[tuple[Any, ...], Any]]) -> str:
    """HumanEval's check(candidate) with one assert per case."""
    lines = ["def check(candidate):"]
    for args, out in cases:
        lines.append(f"    assert candidate({', '.join(map(repr, args))}) == {out!r}")
    return "\n".join(lines) + "\n"


def generate(
    templates: Sequence[Template], family: str, rng: random.Random, difficulty: int
) -> Problem:
    """One problem of `family`: a template, its parameters, its tests."""
    template = rng.choice(list(templates))
    params = template.draw(rng)
    prompt = template.prompt(params, template.limit(difficulty))
    cases, _ = make_tests(template, params, rng, difficulty)
    solution = prompt + template.source(params).split("\n", 1)[1]
    return Problem(
        f"{INSTRUCTION}\n\n{prompt}",
        solution,
        family,
        difficulty,
        "code",
        template.name,
        check_source(template.name, cases),
        params={"template": template.name, **params},
    )
