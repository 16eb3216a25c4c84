"""`mix`: combine real and synthetic datasets by policy, share and budget, keeping lineage.

The default policy is accumulate: every real row and every synthetic generation stays
(Gerstgrasser et al. 2024 show that accumulating, unlike replacing, avoids model collapse).
Each row keeps its origin (real or synthetic) in `meta.origin`, and `meta.params["mix"]`
records the dataset it came from and its generation (0 for real data), so the card's
synthetic share and any later audit can trace every row. Subsampling ranks rows by a hash
of (seed, row id), so the same inputs and seed always give the same rows.

The inputs are read twice rather than held: a first pass keeps an 8-byte hash a row to
decide which rows the share and budget keep, the second yields those rows, checking their
ids for repeats against 8-byte keys (SeenIds), not a set of strings: 10M rows hold about
160 MB between the passes' arrays, not gigabytes.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import sys
from array import array
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field, PrivateAttr, model_validator

from synthmill.errors import ConfigError
from synthmill.io.rows import ColumnKinds, read_rows, scan_rows, sniff_format
from synthmill.pipeline.stage import Source, StageContext
from synthmill.records import META_COLUMN, Origin, Record, stable_hash
from synthmill.sources.read import expand


def dataset_files(path: str) -> str:
    """The data of a path: a synthmill run directory means its data/ folder."""
    p = Path(path).expanduser()
    if p.is_dir() and (p / "run.json").exists() and (p / "data").is_dir():
        return str(p / "data")
    return path


def dataset_name(path: str) -> str:
    """A short name for a dataset: its run directory, folder or file name."""
    p = Path(path).expanduser()
    return p.name if p.is_dir() else p.stem


class Mix(Source):
    """Real + synthetic rows by policy, synthetic share and budget; lineage in meta."""

    kind: ClassVar[str] = "mix"
    real: list[str] = Field(default=[], description="Real datasets: files, folders, globs, runs.")
    synthetic: list[str] = Field(
        default=[], description="Synthetic datasets, oldest generation first."
    )
    generations: list[int] | None = Field(
        default=None, description="Generation of each synthetic dataset; default 1, 2, 3, ..."
    )
    policy: Literal["accumulate", "replace"] = Field(
        default="accumulate",
        description="accumulate keeps every generation; replace keeps only the newest one.",
    )
    synthetic_share: float | None = Field(
        default=None, ge=0.0, le=1.0, description="Target share of synthetic rows (0..1)."
    )
    budget: int | None = Field(default=None, ge=1, description="Rows in the mix at most.")
    text_column: str = Field(default="text", description="Column for plain text files.")
    _warnings: list[str] = PrivateAttr(default_factory=list)  # for the card, set by rows()

    @model_validator(mode="after")
    def _check(self) -> Mix:
        if not self.real and not self.synthetic:
            raise ValueError("give at least one real or synthetic dataset to mix")
        share = self.synthetic_share
        if share is not None and (
            (share > 0 and not self.synthetic) or (share < 1 and not self.real)
        ):
            raise ValueError(f"synthetic_share {share} needs real and synthetic datasets; add both")
        if self.generations is not None and len(self.generations) != len(self.synthetic):
            raise ValueError("generations needs one number per synthetic dataset")
        for path in [*self.real, *self.synthetic]:
            if not expand(dataset_files(path)):
                raise ValueError(f"no file matches {path!r}; check the path")
        return self

    def input_files(self) -> list[Path]:
        """Every file mixed in, fingerprinted in run.json so a resume sees a changed one."""
        return [f for path in [*self.real, *self.synthetic] for f in expand(dataset_files(path))]

    def preflight(self) -> None:
        """Read every input file once before the run: a damaged file or a column with two
        types fails here, before anything is written."""
        kinds = ColumnKinds()
        for path in self.input_files():
            scan_rows(path, sniff_format(path), kinds, text_column=self.text_column)

    def _generation_of(self) -> list[int]:
        return self.generations or list(range(1, len(self.synthetic) + 1))

    def _inputs(self) -> list[tuple[str, Origin, int]]:
        """(path, origin, generation) of every dataset the policy keeps."""
        inputs: list[tuple[str, Origin, int]] = [(p, "real", 0) for p in self.real]
        synth = list(zip(self.synthetic, self._generation_of(), strict=True))
        if self.policy == "replace" and synth:
            newest = max(g for _, g in synth)
            synth = [(p, g) for p, g in synth if g == newest]
        return inputs + [(p, "synthetic", g) for p, g in synth]

    def _records(
        self, path: str, origin: Origin, generation: int, disagree: list[int]
    ) -> Iterator[Record]:
        """The rows of one dataset; disagree[0] counts those with another stored origin.

        The --real/--synthetic choice decides a row's origin; stored provenance that says
        otherwise is overridden (and counted, for a warning in the card).
        """
        name = dataset_name(path)
        for file in expand(dataset_files(path)):
            rows = read_rows(file, sniff_format(file), text_column=self.text_column)
            for index, row in enumerate(rows):
                if isinstance(row.get(META_COLUMN), dict):
                    record = Record.from_row(row)
                    if record.meta.origin != origin:
                        disagree[0] += 1
                        record = record.with_meta(origin=origin)
                else:
                    key = (name, generation, file.name, index)
                    record = Record.new(row, key=key, stage=self.label, origin=origin)
                yield _with_lineage(record, name, generation)

    def rows(self, ctx: StageContext) -> Iterator[Record]:
        ranks: dict[bool, array[int]] = {True: array("Q"), False: array("Q")}  # by is-real
        columns: dict[str, set[str]] = {}
        for path, origin, generation in self._inputs():  # pass 1: hashes, not rows
            disagree = [0]
            have: set[str] = set()
            for r in self._records(path, origin, generation, disagree):
                have.update(r.data)
                ranks[r.meta.origin == "real"].append(_rank(ctx.seed, r))
            if disagree[0]:
                self._warnings.append(
                    f"{disagree[0]} rows of {dataset_name(path)} were stored as "
                    f"{'synthetic' if origin == 'real' else 'real'} but given as {origin}; "
                    f"counted as {origin}"
                )
            columns[dataset_name(path)] = have
        self._warnings += column_warnings(columns)
        for warning in self._warnings:
            print(f"warning: {warning}", file=sys.stderr)
        n_real, n_synth = len(ranks[True]), len(ranks[False])
        check_share(self.synthetic_share, n_real, n_synth)
        k_real, k_synth = shares(n_real, n_synth, self.synthetic_share, self.budget)
        cut = {True: _cutoff(ranks[True], k_real), False: _cutoff(ranks[False], k_synth)}
        del ranks
        yield from _unique_ids(self._chosen(cut, ctx.seed))

    def _chosen(self, cut: dict[bool, tuple[int, int] | None], seed: int) -> Iterator[Record]:
        """Pass 2: the rows whose (rank, position among their kind) is within the cut."""
        position = {True: 0, False: 0}
        for path, origin, generation in self._inputs():
            for r in self._records(path, origin, generation, [0]):
                real = r.meta.origin == "real"
                limit = cut[real]
                if limit is None or (_rank(seed, r), position[real]) <= limit:
                    yield r
                position[real] += 1

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        """Count rows per origin, dataset and generation; the counts go into the card."""
        for r in batch:
            mix = r.meta.params.get("mix", {})
            ctx.count(
                f"{r.meta.origin} rows from {mix.get('source')} (gen {mix.get('generation')})"
            )
        return batch

    def summarize(self, stats: dict[str, Any]) -> dict[str, Any] | None:
        """The warnings (origin disagreements, columns filled with nulls) for the card."""
        return {f"warning {i}": w for i, w in enumerate(self._warnings, 1)} or None


def column_warnings(columns: dict[str, set[str]]) -> list[str]:
    """One line per dataset that lacks columns another has (they become nulls)."""
    union = set().union(*columns.values()) if columns else set()
    return [
        f"{name} lacks column(s) {', '.join(sorted(union - have))}; its rows hold nulls there"
        for name, have in columns.items()
        if union - have
    ]


def _with_lineage(record: Record, source: str, generation: int) -> Record:
    """Record where a row came from, unless an earlier mix already did."""
    if "mix" in record.meta.params:
        return record
    params = {**record.meta.params, "mix": {"source": source, "generation": generation}}
    return record.with_meta(params=params)


def _rank(seed: int, record: Record) -> int:
    """The 64-bit hash of (seed, id) that orders rows for subsampling."""
    return int(stable_hash(seed, record.meta.id), 16)


def _cutoff(ranks: array[int], k: int) -> tuple[int, int] | None:
    """The k-th smallest (rank, position): rows at or below it are kept; None keeps all.

    A selection, not a sort: the k-th rank, then among the rows of that rank (almost
    always one) the one at the place left."""
    if k >= len(ranks):
        return None
    if k <= 0:
        return (-1, -1)
    values = np.frombuffer(ranks, dtype=np.uint64)
    kth = np.partition(values, k - 1)[k - 1]
    below = int(np.count_nonzero(values < kth))
    i = int(np.flatnonzero(values == kth)[k - 1 - below])
    return (int(kth), i)


def check_share(share: float | None, n_real: int, n_synth: int) -> None:
    """A share strictly between 0 and 1 needs rows of both kinds."""
    if share is not None and ((share > 0 and not n_synth) or (share < 1 and not n_real)):
        raise ConfigError(
            f"synthetic_share {share} needs both real and synthetic rows; add the missing kind"
        )


def _unique_ids(records: Iterable[Record]) -> Iterator[Record]:
    """Rows from different runs may share an id; give later ones a derived id.

    The ids seen so far are held as 8-byte keys (SeenIds), checked a chunk at a time: a
    row whose id an earlier row has (as its own or derived id) gets a derived one.
    """
    seen = SeenIds()
    rows = iter(records)
    while chunk := list(itertools.islice(rows, ID_CHUNK)):
        keys = [id_key(r.meta.id) for r in chunk]
        earlier = seen.contains(np.array(keys, dtype=np.uint64))
        added: set[int] = set()
        for r, key, before in zip(chunk, keys, earlier.tolist(), strict=True):
            if before or key in added:
                mix = r.meta.params["mix"]
                r = r.with_meta(id=stable_hash(r.meta.id, mix["source"], mix["generation"]))
                key = id_key(r.meta.id)
            added.add(key)
            yield r
        seen.add(np.fromiter(added, dtype=np.uint64, count=len(added)))


ID_CHUNK = 4096
_HEX_ID = re.compile(r"[0-9a-f]{16}")


def id_key(rid: str) -> int:
    """An id as 8 bytes: a synthmill id (16 hex digits) exactly, any other by its hash
    (two such ids share a key with probability 2**-64)."""
    if _HEX_ID.fullmatch(rid):
        return int(rid, 16)
    digest = hashlib.blake2b(rid.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


class SeenIds:
    """A growing set of 8-byte keys as sorted numpy runs, merged as they grow (fewer than
    log2(n) runs): 8 bytes a key, where a set of id strings takes about 100."""

    def __init__(self) -> None:
        self.runs: list[npt.NDArray[np.uint64]] = []

    def contains(self, keys: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
        found = np.zeros(len(keys), dtype=bool)
        for run in self.runs:
            at = np.searchsorted(run, keys).clip(max=len(run) - 1)
            found |= run[at] == keys
        return found

    def add(self, keys: npt.NDArray[np.uint64]) -> None:
        if not len(keys):
            return
        self.runs.append(np.sort(keys))
        while len(self.runs) > 1 and len(self.runs[-2]) <= 2 * len(self.runs[-1]):
            merged = np.concatenate((self.runs.pop(), self.runs.pop()))
            merged.sort()  # in place: no second copy of the merged keys
            self.runs.append(merged)


def _take(records: list[Record], k: int, seed: int) -> list[Record]:
    """k rows chosen by a hash of (seed, id): stable under reordering; order kept."""
    if k >= len(records):
        return records
    keep = set(sorted(range(len(records)), key=lambda i: stable_hash(seed, records[i].meta.id))[:k])
    return [r for i, r in enumerate(records) if i in keep]


def shares(n_real: int, n_synth: int, share: float | None, budget: int | None) -> tuple[int, int]:
    """How many real and synthetic rows to keep for a target share and budget."""
    total = n_real + n_synth if budget is None else min(budget, n_real + n_synth)
    if share is None:
        if total >= n_real + n_synth:
            return n_real, n_synth
        want_synth = round(total * n_synth / max(n_real + n_synth, 1))
        return total - want_synth, want_synth
    if share in (0.0, 1.0):
        return (0, min(n_synth, total)) if share == 1.0 else (min(n_real, total), 0)
    most = min(n_real / (1 - share), n_synth / share, total)  # the largest mix with this share
    synth = round(most * share)
    return round(most) - synth, synth


def select(pool: list[Record], share: float | None, budget: int | None, seed: int) -> list[Record]:
    """Keep the rows that meet the share and budget; raise if the share cannot be met.

    The in-memory form of what Mix.rows() does in two passes (tests compare the two)."""
    real = [r for r in pool if r.meta.origin == "real"]
    synth = [r for r in pool if r.meta.origin != "real"]
    check_share(share, len(real), len(synth))
    k_real, k_synth = shares(len(real), len(synth), share, budget)
    return _take(real, k_real, seed) + _take(synth, k_synth, seed)


def describe(stats: dict[str, Any]) -> str:
    """One line about a finished mix: rows and synthetic share."""
    origin = stats.get("origin", {})
    total = sum(origin.values()) or 1
    return f"{stats['rows']} rows, {origin.get('synthetic', 0) / total:.1%} synthetic"
