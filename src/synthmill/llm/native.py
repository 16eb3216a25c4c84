"""llama.cpp models freed while the interpreter is still whole.

llama-cpp-python frees a model in `Llama.__del__`. A model kept for the whole process (the
embedded backend's and score.perplexity's, in process-level tables) would otherwise be
freed during interpreter shutdown, after llama_cpp's module globals are gone, and Python
prints `Exception ignored in: <function Llama.__del__> ... TypeError`. `close_at_exit`
closes each such model from an atexit hook instead (registered with the first model, not
at import); `close_models` closes them now.
"""

from __future__ import annotations

import atexit
import threading
from typing import Any, Protocol, TypeVar


class Closable(Protocol):
    def close(self) -> Any: ...


C = TypeVar("C", bound=Closable)

_OPEN: list[Closable] = []
_LOCK = threading.Lock()
_HOOKED: list[bool] = []  # the atexit hook is registered (once per process)


def close_at_exit(model: C) -> C:
    """Have `model` closed before the interpreter shuts down; returns it."""
    with _LOCK:
        _OPEN.append(model)
        if not _HOOKED:
            atexit.register(close_models)
            _HOOKED.append(True)
    return model


def close_models() -> None:
    """Close every model given to close_at_exit; a later `__del__` has nothing left to free.

    Only for the end of the process (or a test's cleanup): the process-level tables still
    hold the closed models."""
    with _LOCK:
        models = list(_OPEN)
        _OPEN.clear()
    for model in models:
        model.close()
