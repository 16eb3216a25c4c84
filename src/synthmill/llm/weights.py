"""`weights: q8_0`: a Q8_0 copy of a GGUF model's Q4_1/Q5_x matrices, for llama-server.

On a CPU, llama.cpp decodes a batch of sequences with one matrix product per layer; its
tiled kernels cover Q8_0 and Q4_0 (and floats), not Q4_1 or Q5_0/Q5_1. Measured on 2
cores (bench/results/llm_throughput.json, part `kernel`): 16 free-text sequences at
once 302 tokens/s on the Q8_0 copy vs 248 on the shipped Q4_1; but in a pipeline (the
quickstart) no faster, 141.7 vs 144.5: there short prefill-heavy calls, the JSON grammar
and stage tails weigh as much as the products. So it is an option, not the default.
Q8_0 keeps 8 bits a weight, so each weight stays within half a Q8_0 step (1/254 of its
block's largest magnitude) of the Q4_1 value: the same model to within rounding, not
bit-identical. Like Q4_1 and unlike the float types, Q8_0 products are integer sums,
so a reply does not depend on which other sequences share the decode step (24 seeded
replies: 0 differ, alone or 16 at once; F16/F32 copies: 1-2).

The copy is made once (about 4 s for the 135M model) with gguf-py and kept under
$SYNTHMILL_MODELS_DIR, else $XDG_CACHE_HOME/synthmill/models, else
~/.cache/synthmill/models, named by the source's path, size and modification time; it is
written to a temporary name and renamed, so a killed conversion leaves no half file.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

from synthmill.errors import BackendError, MissingExtraError

# Matrix types without a batched CPU kernel in llama.cpp (measured on Q4_1 only).
SLOW_TYPES = frozenset({"Q4_1", "Q5_0", "Q5_1"})
Q8_0_FILE_TYPE = 7  # llama_ftype LLAMA_FTYPE_MOSTLY_Q8_0


def models_dir() -> Path:
    """$SYNTHMILL_MODELS_DIR, else $XDG_CACHE_HOME/synthmill/models, else ~/.cache/..."""
    if env := os.environ.get("SYNTHMILL_MODELS_DIR"):
        return Path(env)
    from synthmill.pipeline.rundir import user_cache_dir

    return user_cache_dir() / "models"


def needs_q8_0(path: str) -> bool:
    """Whether any matrix of the GGUF file is of a type without a batched kernel."""
    stat = Path(path).stat()
    return _needs_q8_0(path, stat.st_size, stat.st_mtime_ns)


@functools.cache
def _needs_q8_0(path: str, size: int, mtime_ns: int) -> bool:
    return any(_slow(t) for t in _reader(path).tensors)


def _slow(tensor: Any) -> bool:
    """A matrix of a type without a batched kernel (what the copy re-quantizes)."""
    return len(tensor.shape) == 2 and tensor.tensor_type.name in SLOW_TYPES


def q8_0_copy(path: str) -> Path:
    """The Q8_0 copy of `path`, made on first use (BackendError when it cannot be made)."""
    source = Path(path)
    stat = source.stat()
    key = f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()
    target = models_dir() / f"{source.stem}.{hashlib.sha256(key).hexdigest()[:16]}.Q8_0.gguf"
    if target.is_file():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
        try:
            _convert(source, Path(tmp))
            os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide it from other users
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
    except (OSError, ValueError, KeyError, NotImplementedError) as exc:
        raise BackendError(
            f"llamacpp: could not write a Q8_0 copy of {source.name} to {target.parent} "
            f"({type(exc).__name__}: {exc}); free space there, set SYNTHMILL_MODELS_DIR, "
            "or set weights: file"
        ) from None
    return target


def _reader(path: str) -> Any:
    try:
        import gguf
    except ImportError:
        raise MissingExtraError("gguf", "local", "llamacpp weights: q8_0") from None
    try:
        return gguf.GGUFReader(path)
    except (OSError, ValueError) as exc:
        raise BackendError(f"llamacpp: {path} is not a readable GGUF file ({exc})") from None


def _convert(source: Path, target: Path) -> None:
    """Every SLOW_TYPES matrix dequantized and re-quantized to Q8_0; the rest as it is."""
    import gguf
    import numpy as np
    from gguf.quants import dequantize, quantize

    reader = _reader(str(source))
    arch = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    writer = gguf.GGUFWriter(str(target), arch)
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue  # written by the writer itself
        kind = field.types[0]
        sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        value = field.contents()
        if field.name == gguf.Keys.General.FILE_TYPE:
            value = Q8_0_FILE_TYPE
        writer.add_key_value(field.name, value, kind, sub_type=sub)
    q8_0 = gguf.GGMLQuantizationType.Q8_0
    for tensor in reader.tensors:
        if _slow(tensor):
            shape = tuple(int(n) for n in reversed(tensor.shape))
            values = dequantize(tensor.data, tensor.tensor_type).reshape(shape)
            data = quantize(values.astype(np.float32), q8_0)
            writer.add_tensor(tensor.name, data, raw_shape=data.shape, raw_dtype=q8_0)
        else:
            data = tensor.data
            writer.add_tensor(tensor.name, data, raw_shape=data.shape, raw_dtype=tensor.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
