"""Every registered stage loads, and its `kind` is the name YAML uses for it."""

from __future__ import annotations

import sys

import pytest

from synthmill.pipeline.registry import stage_class, stage_names


@pytest.mark.parametrize("name", sorted(stage_names()))
def test_entry_point_name_is_the_stage_kind(name: str) -> None:
    cls = stage_class(name)
    assert cls.kind == name
    assert cls.model_config.get("extra") == "forbid"
    doc = cls.__doc__ or sys.modules[cls.__module__].__doc__ or ""
    assert doc.strip(), f"{name} needs a docstring for `synthmill stages`"
