"""Process-kept llama.cpp models are closed before the interpreter shuts down, so
`Llama.__del__` never runs against a half-torn-down llama_cpp (the `TypeError` noise
that CI logs showed at exit)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from synthmill.llm import native


class Model:
    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def test_close_models_closes_each_registered_model_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(native, "_OPEN", [])
    a, b = Model(), Model()
    assert native.close_at_exit(a) is a and native.close_at_exit(b) is b
    native.close_models()
    native.close_models()  # nothing left: a second call closes nothing again
    assert (a.closed, b.closed) == (1, 1)


CHILD = """
from synthmill.curate.perplexity import embedded_perplexity
from synthmill.llm.llamacpp import default_model_path, load_model
from synthmill.llm import native
model = load_model(default_model_path(), 256, 1)
assert embedded_perplexity("The cat sat on the mat.") > 1
assert len(native._OPEN) == 2  # both process-kept models are closed at exit
print("ok")
"""


@pytest.mark.model
def test_a_process_that_loaded_models_exits_without_noise() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    assert "Exception ignored" not in done.stderr and "TypeError" not in done.stderr
