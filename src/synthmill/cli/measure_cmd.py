"""`synthmill measure IN`: diversity and homogeneity metrics of a file, as a table and JSON."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from synthmill.curate import embed as embedding
from synthmill.curate.apply import FileRecords, check_file_columns, check_out_file, input_files
from synthmill.curate.text import text_of
from synthmill.errors import ConfigError, DataError
from synthmill.io.atomic import write_text_atomic
from synthmill.measure import diversity, tails


class Embedder(str, Enum):
    auto = "auto"
    minilm = "minilm"
    hashed = "hashed"
    none = "none"


def read_texts(src: Path, columns: list[str], limit: int | None) -> list[str]:
    """The texts of JSONL/Parquet/CSV data (columns joined), at most `limit` of them."""
    input_files(src)
    check_file_columns("measure", src, columns)
    texts: list[str] = []
    for record in FileRecords(src, 0):
        if limit is not None and len(texts) >= limit:
            break
        texts.append(text_of(record.data, columns))
    if not texts:
        raise DataError(f"input {src} has no rows; there is nothing to measure")
    return texts


def check_reference(reference: Path, columns: list[str]) -> None:
    """--reference names files with the columns and at least one row: tails measured
    against nothing would read as 0% coverage (and go into a run's card)."""
    input_files(reference, "--reference")
    check_file_columns("measure --reference", reference, columns)
    if next(iter(FileRecords(reference, 0)), None) is None:
        raise DataError(f"--reference {reference} has no rows; give real data to compare with")


def vectors(texts: list[str], how: Embedder) -> tuple[str, diversity.F32 | None]:
    """The embedder's name and the unit-length vectors (None when switched off)."""
    if how is Embedder.none:
        return "none", None
    if how is Embedder.minilm or (how is Embedder.auto and embedding.available()):
        return "all-MiniLM-L6-v2", embedding.embed(texts)
    return "hashed-bow-1024", diversity.hashed_vectors(texts)


def show(metrics: dict[str, Any]) -> None:
    table = Table("metric", "value")
    for name, value in metrics.items():
        table.add_row(name, f"{value:.4f}" if isinstance(value, float) else str(value))
    Console().print(table)


def measure(
    src: Path = typer.Argument(
        ..., help="Data to measure: a JSONL, Parquet or CSV file, a folder, a glob or a run."
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the metrics as JSON here."),
    column: list[str] = typer.Option(["text"], "--column", "-c", help="Text column(s)."),
    embedder: Embedder = typer.Option(
        Embedder.auto, help="auto (MiniLM if installed, else hashed), minilm, hashed or none."
    ),
    sample: int = typer.Option(300, help="Rows sampled for self-BLEU."),
    clusters: int = typer.Option(20, help="k-means clusters for cluster entropy."),
    limit: int | None = typer.Option(None, help="Measure only the first N rows."),
    seed: int = typer.Option(0, help="Seed for sampling and clustering."),
    reference: Path | None = typer.Option(
        None, "--reference", help="Real data: how much of its tail SRC covers (warns in card)."
    ),
) -> None:
    """Print distinct-n, entropy, compression, self-BLEU, cosine, Vendi and cluster metrics."""
    if reference is not None:  # checked first: a bad reference fails before any work
        check_reference(reference, column)
    if out is not None:  # before any work: never over an input, a run's files, or non-JSON
        check_out_file(
            out, [*input_files(src), *(input_files(reference, "--reference") if reference else [])]
        )
        if out.suffix.lower() != ".json":
            raise ConfigError(f"--out {out}: the metrics are JSON; end it in .json")
    texts = read_texts(src, column, limit)
    metrics: dict[str, Any] = {"rows": len(texts)}
    metrics |= diversity.lexical(texts, sample, seed)
    name, emb = vectors(texts, embedder)
    metrics["embedder"] = name
    if emb is not None:
        metrics |= diversity.semantic(emb, clusters, seed)
    if reference is not None:  # embedding coverage only with the real embedder (embed extra)
        embed = (lambda t: vectors(t, embedder)[1]) if name == "all-MiniLM-L6-v2" else None
        metrics |= tails.against_reference(src, reference, column, limit, seed, embed)
    show(metrics)
    if out is not None:
        write_text_atomic(out, json.dumps(metrics, indent=2) + "\n")


def register(app: typer.Typer) -> None:
    app.command("measure")(measure)
