"""Column samplers for `use: sample`: values drawn from distributions, without a model.

Each sampler is a strict pydantic model named by `type:`; `draw(rng, row)` gets the
row's own random generator and the columns drawn so far. `conditions` override a
sampler's options for rows where a Jinja2 expression holds:

    difficulty:
      type: category
      values: [easy, medium]
      conditions:
        - when: "{{ level == 'expert' }}"
          values: [hard, very hard]
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import cache
from random import Random
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from synthmill.errors import DataError, MissingExtraError
from synthmill.templates import (
    check_template,
    compile_expression,
    evaluate,
    expression_variables,
    is_expression,
    render,
    template_variables,
)

Fakers = dict[str, Any]  # locale -> faker.Faker, made once per rows() call


class Condition(BaseModel):
    """`when` an expression over earlier columns holds, these options replace the sampler's."""

    model_config = ConfigDict(extra="allow")
    when: str = Field(description="Jinja2 expression, e.g. \"{{ level == 'expert' }}\".")

    @field_validator("when")
    @classmethod
    def _compiles(cls, value: str) -> str:
        compile_expression(value)
        return value

    def overrides(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class Sampler(BaseModel):
    """Base of every sampler: strict options, conditions, and the columns it reads."""

    model_config = ConfigDict(extra="forbid")
    conditions: list[Condition] = Field(default=[], description="Options per condition.")

    @model_validator(mode="after")
    def _check_conditions(self) -> Sampler:
        for condition in self.conditions:
            self._variant(condition)  # each override must itself be a valid sampler
        return self

    def _variant(self, condition: Condition) -> Sampler:
        if "type" in condition.overrides() or "conditions" in condition.overrides():
            raise ValueError("a condition may not change type or hold conditions")
        base = self.model_dump(exclude={"conditions"})
        return type(self).model_validate({**base, **condition.overrides()})

    def reads(self) -> set[str]:
        """The columns this sampler needs drawn before it (conditions included)."""
        names: set[str] = set()
        for condition in self.conditions:
            names |= expression_variables(condition.when)
        return names | self.own_reads()

    def own_reads(self) -> set[str]:
        return set()

    def sample(self, rng: Random, row: dict[str, Any], fakers: Fakers) -> Any:
        """A value for this row: the first condition that holds picks the options."""
        for condition in self.conditions:
            if evaluate(condition.when, row):
                return self._variant(condition).draw(rng, row, fakers)
        return self.draw(rng, row, fakers)

    def draw(self, rng: Random, row: dict[str, Any], fakers: Fakers) -> Any:
        raise NotImplementedError


class Category(Sampler):
    """One of `values`, with optional `weights`."""

    type: Literal["category"] = "category"
    values: list[Any] = Field(min_length=1, description="The values to pick from.")
    weights: list[float] | None = Field(default=None, description="Relative weights.")

    @model_validator(mode="after")
    def _weights_fit(self) -> Category:
        if self.weights is not None:
            _check_weights(self.weights, len(self.values))
        return self

    def draw(self, rng: Random, row: dict[str, Any], fakers: Fakers) -> Any:
        return rng.choices(self.values, weights=self.weights)[0]


class Subcategory(Sampler):
    """One of the values listed for the row's value of `parent`."""

    type: Literal["subcategory"] = "subcategory"
    parent: str = Field(description="The category column this one refines.")
    values: dict[str, list[Any]] = Field(min_length=1, description="Values per parent value.")

    @field_validator("values")
    @classmethod
    def _non_empty(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        empty = [k for k, v in value.items() if not v]
        if empty:
            raise ValueError(f"no values listed for parent value {empty[0]!r}")
        return value

    def own_reads(self) -> set[str]:
        return {self.parent}

    def draw(self, rng: Random, row: dict[str, Any], fakers: Fakers) -> Any:
        key = str(row[self.parent])
        if key not in self.values:
            known = ", ".join(map(repr, self.values))
            raise DataError(f"subcategory: no values for {self.parent}={key!r}; listed: {known}")
        return rng.choice(self.values[key])


class Uniform(Sampler):
    """A float between `low` and `high`."""

    type: Literal["uniform"] = "uniform"
    low: float = 0.0
    high: float = 1.0
    decimals: int | None = Field(default=None, ge=0, description="Round to this many places.")

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        _check_order(self.low, self.high)
        return self

    def draw(self, rng: Random, row: dict[str, Any], fakers: Fakers) -> Any:
        return _round(rng.uniform(self.low, self.high), self.decimals)


class Gaussian(Sampler):
    """A normal draw with `mean` and `std`, optionally clipped to [min, max]."""

    type: Literal["gaussian"] = "gaussian"
    mean: float = 0.0
    std: float = Field(default=1.0, ge=0.0)
    min: float | None = None
    max: float | None = None
    decimals: int | None = Field(default=None, ge=0)

    def draw(self, rng: Random, row: dict[str, Any], fakers: Fakers) -> Any:
        value = rng.gauss(self.mean, self.std)
        value = value if self.min is None else max(self.min, value)
        value = value if self.max is None else min(self.max, value)
        return _round(value, self.decimals)


class Integer(Sampler):
    """An integer from `low` to `high`, both included."""

    type: Literal["integer"] = "integer"
    low: int = 0
    high: int = 100

    @model_validator(mode="after")
    def _ordered(self) -> Integer:
        _check_order(self.low, self.high)
        return self

    def draw(self, rng: Random, row: dict[str, Any], fakers: Fakers) -> Any:
        return rng.randint(self.low, self.high)


class Bernoulli(Sampler):
    """True with probability `p`."""

    type: Literal["bernoulli"] = "bernoulli"
    p: float = Field(default=0.5, ge=0.0, le=1.0)

    def draw(self, rng: Random, row: dict[str, Any], fakers: Fakers) -> Any:
        return rng.random() < self.p


class DateTime(Sampler):
    """A moment between `start` and `end`, written with `format` (strftime)."""

    type: Literal["datetime"] = "datetime"
    start: datetime
    end: datetime
    format: str = Field(default="%Y-%m-%d", description="strftime format of the value.")

    @field_validator("start", "end", mode="before")
    @classmethod
    def _dates(cls, value: Any) -> Any:
        is_date = isinstance(value, date) and not isinstance(value, datetime)
        return datetime.combine(value, datetime.min.time()) if is_date else value

    @model_validator(mode="after")
    def _ordered(self) -> DateTime:
        _check_order(self.start, self.end)
        return self

    def draw(self, rng: Random, row: dict[str, Any], fakers: Fakers) -> Any:
        seconds = (self.end - self.start).total_seconds()
        return (self.start + timedelta(seconds=rng.uniform(0, seconds))).strftime(self.format)


class UUID(Sampler):
    """A random (version 4) UUID, drawn from the row's generator so reruns repeat it."""

    type: Literal["uuid"] = "uuid"

    def draw(self, rng: Random, row: dict[str, Any], fakers: Fakers) -> Any:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class Expression(Sampler):
    """A Jinja2 template over other columns; exactly one `{{ ... }}` keeps its type."""

    type: Literal["expression"] = "expression"
    expr: str = Field(description="e.g. '{{ first }} {{ last }}' or '{{ age * 12 }}'.")

    @field_validator("expr")
    @classmethod
    def _compiles(cls, value: str) -> str:
        if is_expression(value):
            compile_expression(value)
            return value
        return check_template(value)

    def own_reads(self) -> set[str]:
        return set(template_variables(self.expr))

    def draw(self, rng: Random, row: dict[str, Any], fakers: Fakers) -> Any:
        return evaluate(self.expr, row) if is_expression(self.expr) else render(self.expr, row)


FAKER_KINDS = (
    "person",
    "name",
    "first_name",
    "last_name",
    "email",
    "phone",
    "address",
    "city",
    "country",
    "company",
    "job",
    "street_address",
    "postcode",
    "faker",
)


class FakerSampler(Sampler):
    """Realistic values from Faker in a `locale`; `person` is a record of a person's fields."""

    type: Literal[FAKER_KINDS]  # type: ignore[valid-type]
    locale: str = Field(default="en_US", description="Faker locale, e.g. de_DE, ja_JP.")
    method: str | None = Field(default=None, description="type: faker: the Faker method.")

    @model_validator(mode="after")
    def _check_method(self) -> FakerSampler:
        if (self.type == "faker") != (self.method is not None):
            raise ValueError("method: is required with type: faker and only there")
        faker = _checking_faker(self.locale)
        name = self.method or _FAKER_METHODS.get(self.type, self.type)
        if self.type != "person" and not callable(getattr(faker, name, None)):
            raise ValueError(f"Faker has no method {name!r}")
        return self

    def draw(self, rng: Random, row: dict[str, Any], fakers: Fakers) -> Any:
        if self.locale not in fakers:
            fakers[self.locale] = make_faker(self.locale)
        faker = fakers[self.locale]
        faker.seed_instance(rng.getrandbits(64))
        if self.type == "person":
            return _person(faker, rng)
        method: Callable[[], Any] = getattr(
            faker, self.method or _FAKER_METHODS.get(self.type, self.type)
        )
        return method()


_FAKER_METHODS = {"phone": "phone_number"}


def make_faker(locale: str) -> Any:
    """A Faker for `locale`, or the pip line to install it; a bad locale is a ValueError."""
    try:
        from faker import Faker
    except ImportError:
        raise MissingExtraError("faker", "sample") from None
    try:
        return Faker(locale)
    except AttributeError:
        raise ValueError(f"unknown Faker locale {locale!r}; e.g. en_US, de_DE, fr_FR") from None


_checking_faker = cache(make_faker)  # config checks only; rows() makes its own


def _person(faker: Any, rng: Random) -> dict[str, Any]:
    sex = rng.choice(["female", "male"])
    first = faker.first_name_female() if sex == "female" else faker.first_name_male()
    last = faker.last_name()
    return {
        "first_name": first,
        "last_name": last,
        "name": f"{first} {last}",
        "sex": sex,
        "age": rng.randint(18, 85),
        "email": faker.email(),
        "city": faker.city(),
    }


SAMPLER_CLASSES: tuple[type[Sampler], ...] = (
    Category,
    Subcategory,
    Uniform,
    Gaussian,
    Integer,
    Bernoulli,
    DateTime,
    UUID,
    Expression,
    FakerSampler,
)
# type name -> sampler class (the Faker one serves several names).
SAMPLERS: dict[str, type[Sampler]] = {
    name: cls
    for cls in SAMPLER_CLASSES
    for name in getattr(cls.model_fields["type"].annotation, "__args__", ())
}


def _check_weights(weights: list[float], n: int) -> None:
    if len(weights) != n:
        raise ValueError(f"weights: {len(weights)} weights for {n} values; give one per value")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError("weights: must be non-negative with a positive sum")


def _check_order(low: Any, high: Any) -> None:
    if low > high:
        raise ValueError(f"the lower bound {low} is above the upper bound {high}")


def _round(value: float, decimals: int | None) -> float:
    return value if decimals is None else round(value, decimals)
