"""`filter.expression`: keep rows where a sandboxed Jinja2 expression holds."""

from __future__ import annotations

import pytest

from synthmill import ConfigError, Pipeline
from synthmill.curate.expression import ExpressionFilter
from synthmill.pipeline.stage import StageContext
from synthmill.records import Record


def rows(*questions: object) -> list[Record]:
    return [
        Record.new({"q": q, "topic": "tides"}, key=i, stage="s") for i, q in enumerate(questions)
    ]


def test_keeps_true_rejects_false_with_reason_and_reads_its_columns() -> None:
    f = ExpressionFilter(expr="{{ q.endswith('?') and topic in q }}", reason="off topic")
    assert f.reads() == ["q", "topic"]
    out = f.process(rows("Why tides?", "Why bees?", "tides."), StageContext(seed=0, stage="f"))
    assert [r.rejected for r in out] == [False, True, True]
    assert out[1].meta.rejection is not None and out[1].meta.rejection.reason == "off topic"
    assert out[0].meta.verdicts["filter.expression"]["ok"] is True


def test_a_value_the_expression_cannot_handle_rejects_the_row_not_the_run() -> None:
    f = ExpressionFilter(expr="q.split()[0] == 'Why'")
    out = f.process(rows("Why not?", None, ""), StageContext(seed=0, stage="f"))
    assert [r.rejected for r in out] == [False, True, True]
    assert {r.meta.rejection.reason for r in out[1:] if r.meta.rejection} == {"expression failed"}


def test_sandbox_and_bad_syntax() -> None:
    f = ExpressionFilter(expr="q.__class__")
    (r,) = f.process(rows("x"), StageContext(seed=0, stage="f"))
    assert r.rejected
    with pytest.raises(ConfigError, match=r"stages\.1\.expr: expression syntax error"):
        Pipeline.from_config(
            {
                "stages": [
                    {"use": "range", "n": 1},
                    {"use": "filter.expression", "expr": "{{ a == }}"},
                ],
                "output": {"dir": "x"},
            }
        )
