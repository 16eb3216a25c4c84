"""Property tests of the math checker (Hypothesis): the same number written in any
supported form is equal, the relation is symmetric between such forms, and two different
numbers are never equal."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from synthmill.verify.equivalence import check_solution, equivalent

SETTINGS = settings(max_examples=150, deadline=None)
values = st.fractions(min_value=-10_000, max_value=10_000, max_denominator=40)


def forms(q: Fraction) -> list[str]:
    """Ways to write q that the checker reads exactly."""
    sign = "-" if q < 0 else ""
    a = abs(q)
    out = [f"{sign}\\frac{{{a.numerator}}}{{{a.denominator}}}", f"{q.numerator}/{q.denominator}"]
    out.append(f"{sign}\\dfrac{{{a.numerator}}}{{{a.denominator}}}")
    if q.denominator == 1:
        n = q.numerator
        out += [str(n), f"{n}.0", f"{sign}{abs(n):,}" if abs(n) >= 1000 else str(n)]
    elif 1_000_000 % q.denominator == 0:  # a finite decimal
        out.append(f"{float(q):.6f}".rstrip("0"))
    whole, rest = divmod(a, 1)
    if whole and rest and q > 0:
        out.append(f"{whole} {rest.numerator}/{rest.denominator}")  # a mixed number
    return out


def same(gold: str, answer: str) -> bool:
    return equivalent(gold, answer, symbolic=False).ok


@SETTINGS
@given(values, st.data())
def test_every_form_of_a_number_equals_every_other(q: Fraction, data: st.DataObject) -> None:
    written = forms(q)
    a = data.draw(st.sampled_from(written))
    b = data.draw(st.sampled_from(written))
    assert same(a, b), (a, b)
    assert same(b, a), (b, a)


@SETTINGS
@given(values, values, st.data())
def test_different_numbers_are_never_equal(p: Fraction, q: Fraction, data: st.DataObject) -> None:
    assume(p != q)
    a = data.draw(st.sampled_from(forms(p)))
    b = data.draw(st.sampled_from(forms(q)))
    assert not same(a, b), (a, b)
    assert not same(b, a), (b, a)


@SETTINGS
@given(values, values)
def test_symmetric_on_plain_numbers(p: Fraction, q: Fraction) -> None:
    a, b = forms(p)[0], forms(q)[0]
    assert same(a, b) == same(b, a) == (p == q)


@settings(max_examples=60, deadline=None)
@given(values, values, st.sampled_from(["\\boxed{{{}}}", "The answer is {}.", "#### {}"]))
def test_a_solution_passes_exactly_when_its_number_is_the_gold(
    p: Fraction, q: Fraction, template: str
) -> None:
    gold, said = forms(p)[0], forms(q)[1]
    solution = f"We work it out step by step. {template.format(said)}"
    assert check_solution(gold, solution, symbolic=False).ok == (p == q), solution


@settings(max_examples=40, deadline=None)
@given(values, values)
def test_hedged_answers_are_wrong_even_when_one_value_is_right(p: Fraction, q: Fraction) -> None:
    assume(p != q)
    gold = forms(p)[0]
    for hedge in (f"{forms(p)[1]} or {forms(q)[1]}", f"{forms(q)[1]}, {forms(p)[1]}"):
        assert not same(gold, hedge), hedge
