"""`sample`: `n` rows whose columns are drawn from samplers, to seed diversity cheaply.

    - use: sample
      n: 40
      columns:
        topic: [volcanoes, tides, bees]                     # a list: a category
        level: {type: category, values: [beginner, expert], weights: [3, 1]}
        detail: {type: subcategory, parent: topic, values: {volcanoes: [lava, ash], ...}}
        age: {type: integer, low: 18, high: 80}
        persona: {type: person, locale: de_DE}
        intro: "A {{ level }} learner asks about {{ topic }}."   # a string: an expression

Columns are drawn in the order their references require; each value comes from
ctx.rng(row id, column), so resumed and sharded runs draw the same rows, and adding a
column does not change the others.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import Field, ValidationError, field_validator, model_validator

from synthmill.io.records_io import META_TYPE
from synthmill.pipeline.columnar import meta_table
from synthmill.pipeline.config import describe
from synthmill.pipeline.stage import Source, StageContext
from synthmill.records import META_COLUMN, Record, stable_hash
from synthmill.sources.samplers import SAMPLERS, Fakers, Sampler


def parse_sampler(name: str, spec: Any) -> Sampler:
    """A sampler from its YAML: a mapping with `type`, a list (category), or a template."""
    if isinstance(spec, Sampler):
        return spec
    if isinstance(spec, list):
        spec = {"type": "category", "values": spec}
    elif isinstance(spec, str):
        spec = {"type": "expression", "expr": spec}
    if not isinstance(spec, dict):
        raise ValueError(f"{name}: expected a mapping with type:, a list, or a template")
    cls = SAMPLERS.get(str(spec.get("type")))
    if cls is None:
        known = ", ".join(SAMPLERS)
        raise ValueError(f"{name}: unknown sampler type {spec.get('type')!r}; known: {known}")
    unknown = sorted(set(spec) - set(cls.model_fields))
    if unknown:  # a misspelt key first: it usually explains the "missing" one too
        close = difflib.get_close_matches(unknown[0], list(cls.model_fields), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(cls.model_fields)}"
        raise ValueError(f"{name}.{unknown[0]}: unknown key; {hint}")
    try:
        return cls.model_validate(spec)
    except ValidationError as exc:
        raise ValueError(describe(exc, cls, name)) from None


def spec_of(sampler: Sampler) -> dict[str, Any]:
    """The YAML form of a sampler object."""
    kind = sampler.model_dump()["type"]
    return {"type": kind, **sampler.model_dump(mode="json", exclude_defaults=True)}


def draw_order(samplers: dict[str, Sampler]) -> list[str]:
    """Columns in an order where each comes after those it reads; a cycle is an error."""
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "active":
            raise ValueError(f"columns refer to each other in a cycle: {' -> '.join(path)}")
        state[name] = "active"
        for dep in sorted(samplers[name].reads()):
            if dep not in samplers:
                known = ", ".join(samplers)
                raise ValueError(f"{name}: refers to unknown column {dep!r} (columns: {known})")
            visit(dep, (*path, dep))
        state[name] = "done"
        order.append(name)

    for name in samplers:
        visit(name, (name,))
    return order


class Sample(Source):
    """A source of `n` rows with columns drawn from samplers (category, gaussian, Faker...)."""

    kind: ClassVar[str] = "sample"
    n: int = Field(ge=0, description="How many rows to make.")
    columns: dict[str, Any] = Field(min_length=1, description="column -> sampler spec.")

    @field_validator("columns")
    @classmethod
    def _parse(cls, value: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for name, spec in value.items():
            if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
                raise ValueError(f"{name!r} is not a column name (letters, digits, _)")
            sampler = parse_sampler(name, spec)
            out[name] = spec_of(sampler) if isinstance(spec, Sampler) else spec
        return out

    @model_validator(mode="after")
    def _ordered(self) -> Sample:
        draw_order(self.samplers())
        return self

    def samplers(self) -> dict[str, Sampler]:
        return {name: parse_sampler(name, spec) for name, spec in self.columns.items()}

    def count(self) -> int:
        return self.n

    def writes(self) -> list[str]:
        return list(self.columns)

    def rows(self, ctx: StageContext) -> Iterator[Record]:
        samplers = self.samplers()
        order = draw_order(samplers)
        fakers: Fakers = {}
        for i in range(self.n):
            record = Record.new({}, key=i, stage=self.label, seed=ctx.seed, recipe="sample")
            drawn: dict[str, Any] = {}
            for name in order:
                drawn[name] = samplers[name].sample(ctx.rng(record.meta.id, name), drawn, fakers)
            yield record.with_data(**{name: drawn[name] for name in self.columns})

    def tables(self, ctx: StageContext) -> Iterator[pa.Table]:
        """rows() as tables of up to CHUNK rows: the same draws, no Record made.

        The runner cuts tables into shards, and the row path types each shard's columns by
        the values in it; a chunk whose columns all hold one Python type (no nulls) types
        the same in any cut. Any other chunk goes a row a table, so that the runner's
        concatenation types each shard by its own values (ints with floats are floats).
        """
        samplers = self.samplers()
        order = draw_order(samplers)
        fakers: Fakers = {}
        for start in range(0, self.n, CHUNK):
            ids = [stable_hash(self.label, i, ()) for i in range(start, min(start + CHUNK, self.n))]
            values: dict[str, list[Any]] = {name: [] for name in order}
            for rid in ids:
                drawn: dict[str, Any] = {}
                for name in order:
                    value = samplers[name].sample(ctx.rng(rid, name), drawn, fakers)
                    drawn[name] = value
                    values[name].append(value)
            if all(_one_type(values[name]) for name in self.columns):
                data = pa.table({name: values[name] for name in self.columns})
                yield self._with_meta(ids, data, ctx.seed)
                continue
            for k, rid in enumerate(ids):
                row = pa.table({name: values[name][k : k + 1] for name in self.columns})
                yield self._with_meta([rid], row, ctx.seed)

    def _with_meta(self, ids: list[str], data: pa.Table, seed: int) -> pa.Table:
        """`data` with the `_meta` column Record.new(..., seed, recipe="sample") writes."""
        table = meta_table(ids, self.label, "synthetic", data)
        meta = table.column(META_COLUMN).combine_chunks()
        fields = {f.name: meta.field(f.name) for f in META_TYPE}
        fields["seed"] = pa.array([seed] * len(ids), pa.int64())
        fields["recipe"] = pa.array(["sample"] * len(ids), pa.string())
        meta = pa.StructArray.from_arrays(
            [fields[f.name] for f in META_TYPE], fields=list(META_TYPE)
        )
        return table.set_column(table.num_columns - 1, pa.field(META_COLUMN, META_TYPE), meta)


CHUNK = 8192  # rows drawn per table


def _one_type(values: list[Any]) -> bool:
    """Whether every value is a str, or every one an int, a float or a bool (no nulls)."""
    kind = type(values[0]) if values else str
    return kind in (str, int, float, bool) and all(type(v) is kind for v in values)
