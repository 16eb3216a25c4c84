"""Jinja2 templates and expressions over a row's columns: sandboxed, strict, checked early.

A template that names a column the rows lack is an error before any model call (the
columns it names are known from the template alone), and rendering never yields empty
text for a misspelt name (StrictUndefined). The sandbox keeps a template from reaching
Python internals, since pipelines are shared as YAML.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Mapping
from functools import cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from synthmill.errors import DataError

# What a template can raise on a particular row (a bad operand, a missing key or index).
_ROW_ERRORS = (TypeError, ValueError, ArithmeticError, LookupError)
_ONE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\{\{|\}\}).)*)\}\}\s*$", re.DOTALL)


@cache
def environment() -> ImmutableSandboxedEnvironment:
    """The one template environment: sandboxed, strict about undefined names, no escaping."""
    return ImmutableSandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
    )


def check_template(source: str) -> str:
    """`source` if it compiles; otherwise a ValueError saying where it is broken."""
    compile_template(source)
    return source


@cache
def compile_template(source: str) -> Template:
    """The compiled template (cached by its text); a syntax error is a ValueError."""
    try:
        return environment().from_string(source)
    except TemplateSyntaxError as exc:
        raise ValueError(f"template syntax error at line {exc.lineno}: {exc.message}") from None


@cache
def template_variables(source: str) -> frozenset[str]:
    """The names a template reads from the row (the undeclared variables)."""
    try:
        names = meta.find_undeclared_variables(environment().parse(source))
        return frozenset(names - set(environment().globals))  # range, dict, namespace...
    except TemplateSyntaxError as exc:
        raise ValueError(f"template syntax error at line {exc.lineno}: {exc.message}") from None


def render(source: str, row: Mapping[str, Any]) -> str:
    """The template filled from `row`; a missing name or unsafe access is a DataError."""
    template = compile_template(source)
    try:
        return template.render(**row)
    except UndefinedError as exc:
        raise DataError(missing_message(template_variables(source), row.keys())) from exc
    except SecurityError as exc:
        raise DataError(f"template refused by the sandbox: {exc}") from None
    except _ROW_ERRORS as exc:
        raise DataError(f"template failed on a row: {type(exc).__name__}: {exc}") from None


def missing_message(wanted: Collection[str], columns: Collection[str]) -> str:
    """'template names column 'x' that the rows lack; columns: a, b (did you mean 'y'?)'."""
    missing = sorted(set(wanted) - set(columns))
    have = ", ".join(sorted(columns)) or "none"
    shown = ", ".join(repr(m) for m in missing)
    close = difflib.get_close_matches(missing[0], list(columns), n=1) if missing else []
    hint = f"; did you mean {close[0]!r}?" if close else ""
    noun = "column" if len(missing) == 1 else "columns"
    return f"template names {noun} {shown} that the rows lack (columns: {have}){hint}"


def expression_source(text: str) -> str:
    """The bare expression of `{{ expr }}` or of `expr` itself."""
    match = _ONE_EXPRESSION.match(text)
    return (match.group("expr") if match else text).strip()


def is_expression(text: str) -> bool:
    """True when `text` is exactly one `{{ ... }}` and nothing else."""
    return _ONE_EXPRESSION.match(text) is not None


@cache
def compile_expression(text: str) -> Callable[..., Any]:
    """A Jinja2 expression (`level == 'expert'` or `{{ level == 'expert' }}`) as a function."""
    source = expression_source(text)
    try:
        return environment().compile_expression(source, undefined_to_none=False)
    except TemplateSyntaxError as exc:
        raise ValueError(f"expression syntax error in {source!r}: {exc.message}") from None


def expression_variables(text: str) -> frozenset[str]:
    """The names an expression reads."""
    return template_variables("{{ " + expression_source(text) + " }}")


def evaluate(text: str, row: Mapping[str, Any]) -> Any:
    """The value of an expression over `row` (a native value, not text)."""
    fn = compile_expression(text)
    try:
        value = fn(**row)
    except UndefinedError as exc:
        raise DataError(missing_message(expression_variables(text), row.keys())) from exc
    except SecurityError as exc:
        raise DataError(f"expression refused by the sandbox: {exc}") from None
    except _ROW_ERRORS as exc:
        raise DataError(f"expression {text!r} failed: {type(exc).__name__}: {exc}") from None
    if isinstance(value, StrictUndefined):
        raise DataError(missing_message(expression_variables(text), row.keys()))
    return value
