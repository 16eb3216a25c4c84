"""Small real-looking tables for the tabular tests (seeded, a few thousand rows at most)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest


def mixed_table(n: int = 1500, seed: int = 0) -> pa.Table:
    """Correlated numbers, bounded integers, 2-decimal floats, dates, bools, categories, nulls."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = 0.8 * x + 0.6 * rng.normal(size=n)
    age = np.clip(np.round(40 + 12 * x), 18, 90).astype(np.int64)
    income = np.round(np.exp(10 + 0.5 * y), 2)
    score = np.where(x > 1.0, np.nan, np.round(50 + 10 * y, 1))  # missing when x is high
    city = np.where(y > 0.5, "north", np.where(y < -0.5, "south", "centre"))
    start = datetime(2020, 1, 1)
    day = [start + timedelta(days=int(d)) for d in rng.integers(0, 1000, n)]
    return pa.table(
        {
            "age": pa.array(age),
            "income": pa.array(income),
            "score": pa.array(score, from_pandas=True),
            "city": pa.array(city.tolist()),
            "member": pa.array((x + rng.normal(size=n) > 0).tolist()),
            "joined": pa.array(day, type=pa.timestamp("s")),
            "label": pa.array(np.where(x + y + 0.3 * rng.normal(size=n) > 0, "yes", "no").tolist()),
        }
    )


@pytest.fixture
def table() -> pa.Table:
    return mixed_table()
