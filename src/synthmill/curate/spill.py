"""Append-only numpy files that dedup stages spill to, read back a window at a time.

Memory maps are opened for one read and closed again, so the pages they touched leave
the resident set: whatever the corpus size, a read holds about one window of rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
WINDOW_ROWS = 8192  # rows gathered per memory map in read()


class RowFile:
    """Rows of varying length (a flat array of `dtype`) on disk; row offsets in memory."""

    def __init__(self, path: Path, dtype: Any) -> None:
        self.path = path
        self.dtype = np.dtype(dtype)
        self._fh = open(path, "wb")  # noqa: SIM115 - closed by close()
        self._sizes: list[I64] = []
        self._offsets: I64 | None = None

    def append(self, values: npt.NDArray[Any], sizes: I64) -> None:
        """Write the rows whose lengths are `sizes`, laid end to end in `values`."""
        self._fh.write(np.ascontiguousarray(values, dtype=self.dtype).tobytes())
        self._sizes.append(np.asarray(sizes, dtype=np.int64))

    def close(self) -> None:
        self._fh.close()
        sizes = np.concatenate(self._sizes) if self._sizes else np.zeros(0, dtype=np.int64)
        self._offsets = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        self._sizes = []

    @property
    def offsets(self) -> I64:
        if self._offsets is None:
            raise RuntimeError("RowFile.close() first")
        return self._offsets

    def read(self, rows: I64) -> tuple[npt.NDArray[Any], I64]:
        """The given rows (any order) as one flat array and their offsets into it."""
        off = self.offsets
        sizes = off[rows + 1] - off[rows]
        out = np.empty(int(sizes.sum()), dtype=self.dtype)
        out_off = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        order = np.argsort(rows, kind="stable")
        for start in range(0, len(rows), WINDOW_ROWS):
            part = order[start : start + WINDOW_ROWS]
            lo, hi = int(off[rows[part].min()]), int(off[rows[part].max() + 1])
            if hi == lo:
                continue
            mm = np.memmap(
                self.path,
                dtype=self.dtype,
                mode="r",
                offset=lo * self.dtype.itemsize,
                shape=(hi - lo,),
            )
            src = ragged_index(off[rows[part]] - lo, sizes[part])
            out[ragged_index(out_off[part], sizes[part])] = mm[src]
            del mm
        return out, out_off


def ragged_index(starts: I64, sizes: I64) -> I64:
    """Indices of the segments [starts[k], starts[k] + sizes[k]) laid end to end."""
    total = int(sizes.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(sizes)
    shift: I64 = np.repeat(starts - (ends - sizes), sizes)
    out: I64 = np.arange(total, dtype=np.int64) + shift
    return out


class ColumnFiles:
    """One append-only file per column of a 2-D array, each read back whole on its own."""

    def __init__(self, directory: Path, name: str, columns: int, dtype: Any) -> None:
        self.dtype = np.dtype(dtype)
        self.paths = [directory / f"{name}-{k:03d}.bin" for k in range(columns)]
        self._fhs = [open(p, "wb") for p in self.paths]  # noqa: SIM115 - closed by close()

    def append(self, matrix: npt.NDArray[Any]) -> None:
        for k, fh in enumerate(self._fhs):
            fh.write(np.ascontiguousarray(matrix[:, k], dtype=self.dtype).tobytes())

    def close(self) -> None:
        for fh in self._fhs:
            fh.close()

    def column(self, k: int) -> npt.NDArray[Any]:
        return np.fromfile(self.paths[k], dtype=self.dtype)
