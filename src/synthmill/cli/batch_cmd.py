"""`synthmill batch export|import`: a run's model calls as an offline Batch API file and back."""

from __future__ import annotations

from pathlib import Path

import typer

batch = typer.Typer(
    help="Offline batch files: export a run's pending model calls as OpenAI Batch API JSONL "
    "(what vLLM's run_batch reads), import the replies into the cache.",
    no_args_is_help=True,
)


@batch.command("export")
def export(
    config: Path = typer.Argument(..., help="Pipeline YAML file."),
    out: Path = typer.Option(
        Path("requests.jsonl"), "--out", "-o", help="Batch API request file to write."
    ),
    stage: str | None = typer.Option(
        None, "--stage", help="Only this stage's calls (default: every stage's)."
    ),
    set_: list[str] = typer.Option(
        [], "--set", help="Override a config value, as in synthmill run."
    ),
    dialect: str = typer.Option(
        "json_schema",
        "--dialect",
        help="How structured output is asked for when the backend says structured: auto "
        "(json_schema, json_object or prompt).",
    ),
) -> None:
    """Write the calls `synthmill run CONFIG` would make now (cache misses) as Batch API JSONL.

    A dry run finds them: it runs the pipeline in a scratch folder, answering what the
    cache can and writing down the rest instead of calling. Stages whose calls depend on
    earlier replies show theirs after those replies are imported: export, answer, import
    again until nothing is left, then `synthmill run` makes no calls.
    """
    from synthmill.curate.apply import check_out_file
    from synthmill.errors import ConfigError
    from synthmill.llm.batchfile import export_pending
    from synthmill.pipeline.pipeline import Pipeline

    if dialect not in ("json_schema", "json_object", "prompt"):
        raise ConfigError(f"--dialect {dialect!r}: use json_schema, json_object or prompt")
    pipeline = Pipeline.from_yaml(config, set_)
    # the request file never replaces the config or a file the pipeline reads
    check_out_file(out, [config, *(p for st in pipeline.stages for p in st.input_files())])
    result = export_pending(pipeline, out, stage, dialect)
    if not result.requests:
        typer.echo(f"nothing to export: the cache answers every call {config} makes now")
        return
    stages = ", ".join(f"{label}: {n}" for label, n in result.by_stage.items())
    typer.echo(
        f"exported {result.requests} requests ({stages}) to {out}; answer it with the "
        "OpenAI Batch API or vLLM's run_batch, then: synthmill batch import RESULTS.jsonl"
    )


@batch.command("import")
def import_(
    results: Path = typer.Argument(..., help="Batch API output JSONL (one reply per line)."),
) -> None:
    """Store the replies of a Batch API output file in the response cache.

    The next `synthmill run` (or `batch export`) takes them from the cache. Lines with an
    error stay pending: the run calls them, or export them again.
    """
    from synthmill.errors import DataError
    from synthmill.llm.batchfile import import_results

    result = import_results(results)
    if not result.replies and (result.failed or result.unknown):
        raise DataError(
            f"{results}: no reply imported ({result.failed} failed, {result.unknown} with a "
            "custom_id no `synthmill batch export` of this cache wrote)"
        )
    failed = ", ".join(f"{why}: {n}" for why, n in result.errors.items())
    typer.echo(
        f"imported {result.replies} replies into the cache"
        + (f"; {result.failed} failed ({failed}), still pending" if result.failed else "")
        + (f"; {result.unknown} unknown custom_ids skipped" if result.unknown else "")
    )


def register(app: typer.Typer) -> None:
    app.add_typer(batch, name="batch")
