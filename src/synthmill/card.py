"""Dataset cards: a README.md with Hugging Face front matter and the whole provenance story."""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from synthmill.io.atomic import write_text_atomic

if TYPE_CHECKING:
    from synthmill.pipeline.pipeline import Pipeline

_SIZES = [
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
]


def size_category(rows: int) -> str:
    return next((label for limit, label in _SIZES if rows < limit), "n>10M")


def synthetic_share(origin: dict[str, int]) -> float:
    total = sum(origin.values())
    return origin.get("synthetic", 0) / total if total else 0.0


def front_matter(pipeline: Pipeline, stats: dict[str, Any]) -> dict[str, Any]:
    ext = pipeline.output.format
    return {
        "pretty_name": pipeline.name,
        "size_categories": [size_category(stats["rows"])],
        "tags": ["synthetic", "synthmill"],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": "train", "path": f"data/train-*.{ext}"}],
            }
        ],
    }


def render_card(
    pipeline: Pipeline,
    stats: dict[str, Any],
    run: dict[str, Any],
    rows: list[dict[str, Any]] | None = None,
) -> str:
    """The whole card as Markdown; `rows` (a sample of the published rows) are checked
    for the "Known limitations" section."""
    share = synthetic_share(stats["origin"])
    head = yaml.safe_dump(front_matter(pipeline, stats), sort_keys=False)
    versions = run["attempts"][-1]["versions"]
    parts = [
        f"---\n{head}---\n",
        f"# {pipeline.name}\n",
        f"{stats['rows']} rows, **{share:.1%} synthetic** "
        f"({_counts(stats['origin'])}). Made with synthmill {versions.get('synthmill', '?')} "
        f"from seed {pipeline.seed}.{_kept(pipeline, stats)}\n",
        *_limitations(pipeline, stats, rows or []),
        "## How it was made\n",
        _stage_table(pipeline, stats),
        "## What the filters removed, and why\n",
        _rejects(stats),
        *_summaries(stats),
        "## Models\n",
        _models(stats, pipeline),
        *_traffic(stats),
        "## Provenance\n",
        "Every row carries a `_meta` column: its `id`, the `parents` it was derived from, the "
        "`stage` and `recipe` that made it, `origin` (real or synthetic), `seed`, `model`, "
        "`prompt_hash`, sampling `params`, check `verdicts` and `scores` (JSON strings). "
        "Rejected rows, with the reason and the raw output, are in `rejects/` of the run "
        "directory.\n",
        "## Reproduce\n",
        "Save this as a file and run `synthmill run FILE` from the folder the run was started "
        "in: paths inside that folder are written relative to it (paths outside it stay "
        "absolute).\n",
        "```yaml\n" + pipeline.to_yaml() + "```\n",
        f"Environment: {_counts(versions)}.\n",
        "## Load\n",
        _load_snippet(pipeline.output.format),
    ]
    return "\n".join(parts)


def _limitations(
    pipeline: Pipeline, stats: dict[str, Any], rows: list[dict[str, Any]]
) -> list[str]:
    """A "Known limitations" section when most rows were rejected or kept rows fail the
    sanity checks of synthmill.card_checks; nothing when the data looks fine."""
    from synthmill.card_checks import SAMPLE, limitations

    notes = limitations(pipeline, stats, rows)
    if not notes:
        return []
    checked = f"Row checks looked at the first {min(len(rows), SAMPLE)} rows."
    return ["## Known limitations\n", "\n".join(f"- {n}" for n in notes) + f"\n\n{checked}\n"]


def _kept(pipeline: Pipeline, stats: dict[str, Any]) -> str:
    """' Kept M of the N rows the source made (x%).', the share that survived the stages."""
    made = stats.get("stages", {}).get(pipeline.stages[0].label, {}).get("rows_out")
    if not made or len(pipeline.stages) < 2:
        return ""
    return f" Kept {stats['rows']} of the {made} rows the source made ({stats['rows'] / made:.0%})."


def _load_snippet(fmt: str) -> str:
    builder = "parquet" if fmt == "parquet" else "json"
    return (
        "```python\nfrom datasets import load_dataset\n"
        f'ds = load_dataset("{builder}", data_files="data/train-*.{fmt}", split="train")\n```\n'
    )


def _counts(d: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in d.items()) or "none"


def markdown_table(
    columns: Sequence[str], rows: Iterable[Sequence[object]], right: Container[int] = ()
) -> list[str]:
    """A Markdown table's lines: header, rule (`---:` right-aligns the columns whose index
    is in `right`) and one line per row."""
    rule = "|" + "".join("---:|" if i in right else "---|" for i in range(len(columns)))
    return [_table_row(columns), rule, *(_table_row(row) for row in rows)]


def _table_row(cells: Sequence[object]) -> str:
    return "|" + "|".join(f" {c} " for c in cells) + "|"


def replace_section(card: Path, section: str, start: str, end: str) -> None:
    """Put a section marked by `start` and `end` comments into a card file, replacing an
    earlier one (a rerun of `evaluate` or `measure` updates its section in place)."""
    text = card.read_text(encoding="utf-8")
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + section + rest.split(end, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    write_text_atomic(card, text)


def _stage_table(pipeline: Pipeline, stats: dict[str, Any]) -> str:
    rows = []
    for stage in pipeline.stages:
        s = stats["stages"].get(stage.label, {})
        opts = {k: v for k, v in stage.to_config().items() if k not in ("use", "name")}
        rows.append([stage.label, stage.kind, f"`{_inline(opts)}`", s.get("rows_in", 0),
                     s.get("rows_out", 0), s.get("rejected_total", 0),
                     f"{s.get('seconds', 0):.2f}"])  # fmt: skip
    columns = ["stage", "kind", "options", "rows in", "rows out", "rejected", "seconds"]
    return "\n".join(markdown_table(columns, rows, right=range(3, 7))) + "\n"


def _inline(opts: dict[str, Any]) -> str:
    """Options on one table line: newlines inside values shown as \\n, pipes escaped."""
    text = yaml.safe_dump(_one_line(opts), default_flow_style=True, width=10_000).strip()
    text = text.replace("|", "\\|")
    return text if len(text) <= 160 else text[:157] + "..."


def _one_line(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\n", "\\n")
    if isinstance(value, dict):
        return {k: _one_line(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_one_line(v) for v in value]
    return value


def _rejects(stats: dict[str, Any]) -> str:
    lines = []
    for label, s in stats["stages"].items():
        for reason, n in s["rejected"].items():
            lines.append(f"- **{label}** removed {n} rows: {reason}")
        if s.get("rejected_transient"):
            lines.append(
                f"- **{label}**: {s['rejected_transient']} of these failed for transient "
                "reasons (a model call failed); running the same command again retries them"
            )
    return ("\n".join(lines) if lines else "No rows were removed.") + "\n"


def _summaries(stats: dict[str, Any]) -> list[str]:
    """One section per stage that summarized its own stats (for example pass@k)."""
    parts = []
    for label, s in stats["stages"].items():
        if s.get("summary"):
            parts += [f"## {label}: summary\n", _summary_table(s["summary"])]
    return parts


def _summary_table(summary: dict[str, Any]) -> str:
    """A table when the summary is rows of metrics, else one bullet per value."""
    if all(isinstance(v, dict) for v in summary.values()):
        columns = list(dict.fromkeys(k for row in summary.values() for k in row))
        rows = [[name, *(row.get(c, "") for c in columns)] for name, row in summary.items()]
        return "\n".join(markdown_table(["", *columns], rows)) + "\n"
    return "\n".join(f"- {k}: {v}" for k, v in summary.items()) + "\n"


def _models(stats: dict[str, Any], pipeline: Pipeline) -> str:
    models = {k: v for k, v in stats["models"].items() if k != "None"}
    lines = [f"- `{m}`: {n} rows" for m, n in models.items()]
    for label, s in stats["stages"].items():
        if s["counters"]:
            lines.append(f"- stage **{label}** counters: {_counts(s['counters'])}")
    if pipeline.backend:
        lines.append(f"- default backend: `{_inline(pipeline.backend)}`")
    return ("\n".join(lines) if lines else "No model wrote any row of this dataset.") + "\n"


def _traffic(stats: dict[str, Any]) -> list[str]:
    """Per stage that called a server: HTTP requests, 429s, retries, effective concurrency
    (time requests spent in flight / the stage's wall time)."""
    rows = []
    for label, s in stats["stages"].items():
        c = s.get("counters", {})
        if not c.get("llm.requests"):
            continue
        wall = s.get("wall_seconds") or s.get("seconds") or 0
        busy = c.get("llm.wire_ms", 0) / 1000 / wall if wall else 0.0
        rows.append([label, c.get("llm.calls", 0), c["llm.requests"], c.get("llm.status_429", 0),
                     c.get("llm.retries", 0), f"{busy:.1f}"])  # fmt: skip
    if not rows:
        return []
    columns = ["stage", "calls", "HTTP requests", "answered 429", "retries",
               "effective concurrency"]  # fmt: skip
    table = markdown_table(columns, rows, right=range(1, 6))
    return ["## Model server traffic\n", "\n".join(table) + "\n"]
