"""`synthmill.generate(...)`: the `generate` stage as one call, for notebooks.

    import synthmill
    rows = synthmill.generate(
        [{"topic": "tides"}, {"topic": "bees"}],
        prompt="Write one question about {{ topic }}.",
        schema={"question": "str"},
        backend={"type": "openai", "base_url": "http://127.0.0.1:8000/v1", "model": "m"},
    )

Rows may be a list of dicts, a pandas DataFrame or a `datasets.Dataset`; the same type
comes back with the new columns and a `_meta` column (provenance; `rejection` on a row
whose call failed). It uses the response cache, retries and accounting of a pipeline run.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

from pydantic import BaseModel

from synthmill.llm.base import Backend
from synthmill.pipeline.config import validate
from synthmill.pipeline.rundir import default_cache_dir
from synthmill.pipeline.stage import StageContext
from synthmill.recipes.generate import Generate, check_rows
from synthmill.records import META_COLUMN, Record, stable_hash

log = logging.getLogger(__name__)
INPUT_STAGE = "input"
DEFAULT_OUTPUT = "response"


def generate(
    rows: Any,
    prompt: str,
    *,
    schema: dict[str, Any] | str | type[BaseModel] | None = None,
    output: str | None = None,
    system: str | None = None,
    backend: dict[str, Any] | Backend | None = None,
    n: int = 1,
    seed: int = 0,
    cache: bool = True,
    progress: bool = True,
    on_error: Literal["keep", "drop"] = "keep",
    **options: Any,
) -> Any:
    """Ask the model once per row (n times with `n`); returns `rows`' type with new columns.

    `options` are the `generate` stage's other options (temperature, top_p, max_tokens,
    retries, max_chars, stop, batch_size). Free text goes to `output` ("response" by
    default); a `schema` adds one column per field. A failed row keeps None in its new
    columns and says why in `_meta["rejection"]`, unless on_error="drop".
    """
    if schema is None and output is None:
        output = DEFAULT_OUTPUT
    spec = {"prompt": prompt, "schema": schema, "output": output, "system": system}
    spec = {k: v for k, v in spec.items() if v is not None}
    stage = validate(Generate, {**spec, "backend": backend, "n": n, **options}, "generate")
    assert isinstance(stage, Generate)
    plain, rebuild = _unpack(rows)
    records = to_records(plain)
    check_rows(records, stage.reads())  # a missing column fails before any call
    out = _run(stage, records, seed, cache, progress)
    kept = [r for r in out if not (r.rejected and on_error == "drop")]
    return rebuild([_row(r, json_meta=rebuild is _to_dataset) for r in kept])


def to_records(rows: Sequence[dict[str, Any]]) -> list[Record]:
    """Records of plain rows; ids come from each row's content (and its repeat count).

    So a row keeps its id, seeds and cached replies when others are added or reordered;
    rows carrying a `_meta` from an earlier call keep their provenance.
    """
    seen: Counter[str] = Counter()
    out = []
    for row in rows:
        if isinstance(row.get(META_COLUMN), dict) and "id" in row[META_COLUMN]:
            out.append(Record.from_row(row))
            continue
        content = stable_hash(row)
        seen[content] += 1
        out.append(
            Record.new(dict(row), key=(content, seen[content]), stage=INPUT_STAGE, origin="real")
        )
    return out


def _run(
    stage: Generate, records: list[Record], seed: int, cache: bool, progress: bool
) -> list[Record]:
    cache_dir = str(default_cache_dir()) if cache else None
    ctx = StageContext(seed=seed, stage=stage.label, cache_dir=cache_dir)
    out: list[Record] = []
    with _progress(progress, len(records)) as advance:
        for start in range(0, len(records), stage.batch_size):
            batch = records[start : start + stage.batch_size]
            out.extend(stage.process(batch, ctx))
            advance(len(batch))
    failed = sum(r.rejected for r in out)
    if failed:
        log.warning("generate: %d of %d rows failed (see _meta['rejection'])", failed, len(out))
    log.info("generate: %s", dict(ctx.counters))
    return out


class _progress:
    """A rich progress bar (rows, rate, ETA), or nothing when switched off."""

    def __init__(self, show: bool, total: int) -> None:
        self.show, self.total = show, total

    def __enter__(self) -> Callable[[int], None]:
        if not self.show:
            return lambda n: None
        from rich.progress import Progress

        self.bar = Progress(*Progress.get_default_columns(), transient=False)
        self.bar.start()
        task = self.bar.add_task("generate", total=self.total)
        return lambda n: self.bar.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self.show:
            self.bar.stop()


def _row(record: Record, json_meta: bool) -> dict[str, Any]:
    row = record.to_row(json_fields=json_meta)
    rejection = record.meta.rejection
    if rejection is not None:
        row[META_COLUMN]["rejection"] = {
            "stage": rejection.stage,
            "reason": rejection.reason,
            "raw": rejection.raw,
        }
    return row


def _unpack(rows: Any) -> tuple[list[dict[str, Any]], Callable[[list[dict[str, Any]]], Any]]:
    """Plain rows, and the function that turns result rows back into the input's type."""
    module, name = type(rows).__module__, type(rows).__name__
    if module.startswith("pandas") and name == "DataFrame":
        return rows.to_dict("records"), _to_dataframe
    if module.startswith("datasets") and name == "Dataset":
        return rows.to_list(), _to_dataset
    if isinstance(rows, dict):
        raise TypeError("rows: give a list of dicts (one per row), a DataFrame or a Dataset")
    plain = list(_dicts(rows))
    return plain, list


def _dicts(rows: Any) -> Iterator[dict[str, Any]]:
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise TypeError(f"rows[{i}] is a {type(row).__name__}, not a dict of columns")
        yield row


def _to_dataframe(rows: list[dict[str, Any]]) -> Any:
    import pandas as pd

    return pd.DataFrame(rows)


def _to_dataset(rows: list[dict[str, Any]]) -> Any:
    import datasets

    return datasets.Dataset.from_list(rows)
