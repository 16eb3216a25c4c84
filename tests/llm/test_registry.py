"""The backend registry, BackendField and how a pipeline passes its backend to a stage."""

from __future__ import annotations

import pickle
from typing import ClassVar

import pytest

from synthmill.errors import ConfigError
from synthmill.llm import BackendField, backend_option, make_backend
from synthmill.llm.fake import FakeBackend
from synthmill.llm.llamacpp import LlamaCppBackend
from synthmill.llm.registry import backend_names
from synthmill.pipeline.config import validate
from synthmill.pipeline.stage import Stage


class Asks(Stage):
    kind: ClassVar[str] = "asks"
    backend: BackendField = backend_option()


def test_builtins_come_through_entry_points() -> None:
    names = backend_names()
    assert {"llamacpp", "fake"} <= set(names)
    assert isinstance(make_backend({"type": "fake"}), FakeBackend)


def test_none_means_embedded_default() -> None:
    backend = make_backend(None)
    assert isinstance(backend, LlamaCppBackend)
    assert backend.model_name.startswith("SmolLM2-135M-Instruct")


def test_backend_object_passes_through() -> None:
    fake = FakeBackend(replies=["a"])
    assert make_backend(fake) is fake


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "fak"}, "backend.type: unknown backend 'fak'; did you mean 'fake'?"),
        ({"type": "fake", "replys": ["x"]}, "backend.replys: unknown key; did you mean"),
        ({"model": "x"}, "backend.type: required key is missing"),
        ({"type": "llamacpp", "n_threads": 0}, "backend.n_threads: Input should be greater"),
    ],
)
def test_bad_specs_give_one_line_config_errors(spec: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_backend(spec)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_stage_field_accepts_dict_and_round_trips() -> None:
    stage = Asks(backend={"type": "fake", "replies": ["x", "y"]})
    assert isinstance(stage.backend, FakeBackend)
    config = stage.to_config()
    assert config["backend"] == {"type": "fake", "replies": ["x", "y"]}
    again = validate(Asks, {k: v for k, v in config.items() if k != "use"}, "s")
    assert again == stage
    assert pickle.loads(pickle.dumps(stage)) == stage


def test_stage_error_names_the_path() -> None:
    with pytest.raises(ConfigError, match=r"^stages\.0\.backend: replys: unknown key"):
        validate(Asks, {"backend": {"type": "fake", "replys": 1}}, "stages.0")


def test_stage_default_is_the_embedded_model() -> None:
    assert isinstance(Asks().backend, LlamaCppBackend)
    assert Asks().to_config()["backend"] == {"type": "llamacpp"}
