"""`synthmill evaluate RUN --reference REAL`: does the data help? LoRA-fine-tune the
embedded SmolLM2-135M on the run's rows and measure loss on held-out real rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Column, Table

from synthmill.errors import ConfigError, DataError
from synthmill.io.atomic import write_text_atomic

MAX_HELDOUT = 200  # held-out rows scored by default: each is scored eval_points x seeds times


def evaluate(
    src: Path = typer.Argument(
        ..., help="The data to train on: a run directory (or a JSONL, Parquet or CSV file)."
    ),
    reference: Path = typer.Option(
        ..., "--reference", help="Real rows to score: held out, never trained on."
    ),
    baseline: list[Path] = typer.Option(
        [], "--baseline", help="Another dataset trained with the same budget (repeatable)."
    ),
    real_baseline: bool = typer.Option(
        False,
        "--real-baseline",
        help="Also train on a split of --reference; the rest of it is held out.",
    ),
    heldout: int | None = typer.Option(
        None,
        "--heldout",
        help=f"Reference rows held out and scored (default: all, at most {MAX_HELDOUT}; "
        "half with --real-baseline).",
    ),
    steps: int | None = typer.Option(
        None,
        "--steps",
        help="Training steps per arm and seed (default: 3 passes over --rows at --batch-size, "
        "at most 60; more than 4 passes warns: small data overfits).",
    ),
    seeds: str = typer.Option("0,1,2", "--seeds", help="Seeds, comma-separated (one run each)."),
    rows: int | None = typer.Option(
        None, "--rows", help="Rows each arm trains on (default: the smallest arm's count)."
    ),
    lr: float = typer.Option(1e-3, "--lr", help="Learning rate of the LoRA adapters (AdamW)."),
    rank: int = typer.Option(8, "--rank", help="LoRA rank (alpha is twice the rank)."),
    batch_size: int = typer.Option(4, "--batch-size", help="Rows per training step."),
    max_len: int = typer.Option(128, "--max-len", help="Tokens per row at most."),
    threads: int = typer.Option(
        0, "--threads", help="Torch threads (0: the usable cores not busy, at least 1)."
    ),
    prompt: str | None = typer.Option(None, "--prompt", help="Prompt column (with --response)."),
    response: str | None = typer.Option(None, "--response", help="Response column."),
    text: str | None = typer.Option(None, "--text", help="Plain-text column, scored whole."),
    accuracy: int = typer.Option(
        0,
        "--accuracy",
        help="For a run of verified problem/solution rows (rejection_sampling): also score "
        "N held-out generated problems per family, before and after, with synthmill's "
        "verifier (0: off).",
    ),
    accuracy_tokens: int = typer.Option(
        64, "--accuracy-tokens", help="Tokens each --accuracy answer may have at most."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Write the JSON here (default: RUN/closed_loop.json)."
    ),
) -> None:
    """Fine-tune the embedded model on the data (LoRA) and measure held-out real loss."""
    from synthmill.measure import closed_loop as cl

    settings = cl.Settings(
        steps=steps,
        seeds=_seeds(seeds),
        lr=lr,
        rank=rank,
        alpha=2 * rank,
        batch_size=batch_size,
        max_len=max_len,
        rows=rows,
        threads=threads,
    )
    settings.check()
    cl.require_extras()
    target, run_dir = _target(src, out)
    _spare_inputs(
        src,
        out,
        [(src, "input"), (reference, "--reference")] + [(b, "--baseline") for b in baseline],
    )
    columns = {"prompt": prompt, "response": response, "text": text}
    arms, held = _datasets(src, reference, baseline, real_baseline, heldout, columns)
    plan = None
    if accuracy < 0 or accuracy_tokens < 1:
        raise ConfigError("--accuracy must be 0 (off) or more, --accuracy-tokens at least 1")
    if accuracy:
        from synthmill.measure.problem_accuracy import plan_for

        plan = plan_for(_rows(src, "input"), accuracy, accuracy_tokens)
    console = Console(stderr=True)
    model = cl.load_model()
    result = cl.run_closed_loop(model, arms, held, settings, console.print, plan)
    result["reference_path"] = str(reference)
    write_text_atomic(target, json.dumps(result, indent=2) + "\n")
    if run_dir is not None and (run_dir / "README.md").is_file():
        from synthmill.measure.closed_loop_card import update_card

        update_card(run_dir / "README.md", result, target.name)
    show(result)
    typer.echo(f"wrote {target}")


def _seeds(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise ConfigError(
            f"--seeds {text!r}: give integers separated by commas, e.g. 0,1,2"
        ) from None


def _target(src: Path, out: Path | None) -> tuple[Path, Path | None]:
    """Where the JSON goes, and the run directory whose card gets a section (if any)."""
    run_dir = src if (src / "run.json").is_file() and (src / "config.yaml").is_file() else None
    if out is None and run_dir is None:
        if not src.exists():
            raise ConfigError(f"{src} does not exist; give a run directory or a data file")
        raise ConfigError(f"{src} is not a run directory; name the JSON to write with --out")
    target = out or src / "closed_loop.json"
    if target.is_dir() or not target.parent.is_dir():
        raise ConfigError(f"--out {target}: give a file in an existing folder")
    return target, run_dir


def _spare_inputs(src: Path, out: Path | None, inputs: list[tuple[Path, str]]) -> None:
    """An --out other than RUN/closed_loop.json is a .json file that is no input (SRC,
    --reference, --baseline) and not in a run directory but under its export/: the JSON,
    written after minutes of training, would replace it."""
    if out is None or out.resolve() == (src / "closed_loop.json").resolve():
        return
    if out.suffix.lower() != ".json":
        raise ConfigError(f"--out {out}: the results are JSON; end it in .json")
    from synthmill.curate.apply import check_out_file, input_files

    check_out_file(out, [f for path, what in inputs for f in input_files(path, what)])


def _datasets(
    src: Path,
    reference: Path,
    baselines: list[Path],
    real_baseline: bool,
    heldout: int | None,
    columns: dict[str, str | None],
) -> tuple[list[Any], Any]:
    """Every dataset read and turned into examples before the model loads: a bad input is
    one line and nothing is written."""
    from synthmill.measure import closed_loop as cl

    arms = [cl.make_dataset("run", str(src), _rows(src, "input"), columns)]
    for i, path in enumerate(baselines, 1):
        name = f"baseline {i}" if len(baselines) > 1 else "baseline"
        arms.append(cl.make_dataset(name, str(path), _rows(path, "--baseline"), columns))
    ref = cl.make_dataset("reference", str(reference), _rows(reference, "--reference"), columns)
    n = len(ref.examples)
    if real_baseline:
        held, rest = cl.split_reference(ref, heldout or n // 2 or 1)
        arms.append(rest)
        return arms, held
    if heldout is not None and not 1 <= heldout <= n:
        raise DataError(f"--heldout {heldout}: the reference has {n} rows")
    keep = heldout or min(n, MAX_HELDOUT)
    held, _ = cl.split_reference(ref, keep) if keep < n else (ref, None)
    return arms, held


def _rows(path: Path, what: str) -> list[dict[str, Any]]:
    from synthmill.curate.apply import FileRecords, input_files

    input_files(path, what)
    return [record.data for record in FileRecords(path, 0)]


def show(result: dict[str, Any]) -> None:
    """The arms as a table, then each comparison in words."""
    table = Table("arm", "rows", "format", "held-out loss after", "change (95% CI)")
    for arm in result["arms"]:
        low, high = arm["delta_ci95"]
        after = sum(arm["after"]) / len(arm["after"])
        table.add_row(
            arm["name"],
            str(arm["rows_trained"]),
            arm["format"],
            f"{after:.4f}",
            f"{arm['delta_mean']:+.4f} [{low:+.4f}, {high:+.4f}]",
        )
    console = Console()
    console.print(f"held-out loss before training: {result['before']:.4f} nats/token")
    console.print(table)
    for comparison in result["comparisons"]:
        console.print(comparison["verdict"])
    if "accuracy" in result:
        show_accuracy(console, result["accuracy"])


def show_accuracy(console: Console, acc: dict[str, Any]) -> None:
    """Held-out problems solved per family: before, after (mean and 95% CI over seeds)."""
    table = Table(Column("family", no_wrap=True), "problems", "before", "after (95% CI)",
                  "after per seed")  # fmt: skip
    for family, f in acc["families"].items():
        low, high = f["after_ci95"]
        table.add_row(family, str(f["problems"]), f"{f['before']:.2f}",
                      f"{f['after_mean']:.2f} [{low:.2f}, {high:.2f}]",
                      ", ".join(f"{v:.2f}" for v in f["after"]))  # fmt: skip
    console.print("held-out generated problems, checked by synthmill's verifier:")
    console.print(table)
    if acc["code_families_not_scored"]:
        console.print(f"code families not scored: {', '.join(acc['code_families_not_scored'])}")


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
