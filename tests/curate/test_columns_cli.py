"""Every curation command refuses a column the file does not have: exit 2, one line.

Each case once ended with exit 0 and wrong data: `dedup -c questoin` kept 1 of 1000 rows,
a misspelt `--benchmark-column` indexed nothing, `filter` and `measure` on a file without
`text` kept 0 rows or reported a Vendi score of 1.0. Run through a real subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "synthmill", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)


def jsonl(path: Path, rows: Sequence[Mapping[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def qa(tmp_path: Path) -> Path:
    """1000 distinct questions (no `text` column)."""
    rows = [
        {"question": f"What is {i} plus {i + 3}? Show the steps.", "answer": str(2 * i + 3)}
        for i in range(1000)
    ]
    return jsonl(tmp_path / "qa.jsonl", rows)


def refused(run: subprocess.CompletedProcess[str], *parts: str) -> str:
    """The run exited 2 with one `error:` line holding every part, and no traceback."""
    assert run.returncode == 2, (run.returncode, run.stdout, run.stderr)
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith("error: ") and "Traceback" not in run.stderr
    for part in parts:
        assert part in line, line
    return line


def nothing_written(tmp_path: Path) -> None:
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("out")) == []


@pytest.mark.parametrize("method", ["exact", "minhash", "semantic"])
def test_dedup_misspelt_column(method: str, qa: Path, tmp_path: Path) -> None:
    run = cli(
        "dedup", str(qa), "-o", "out.jsonl", "--method", method, "-c", "questoin", cwd=tmp_path
    )
    refused(run, "reads column 'questoin'", "did you mean 'question'?", "'answer', 'question'")
    nothing_written(tmp_path)


def test_dedup_default_text_column_missing(qa: Path, tmp_path: Path) -> None:
    run = cli("dedup", str(qa), "-o", "out.jsonl", "--method", "exact", cwd=tmp_path)
    refused(run, "stage 'dedup.exact' reads column 'text'", str(qa))
    nothing_written(tmp_path)


def test_dedup_right_column_keeps_every_distinct_row(qa: Path, tmp_path: Path) -> None:
    run = cli(
        "dedup", str(qa), "-o", "out.jsonl", "--method", "exact", "-c", "question", cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 1000


def test_decontaminate_misspelt_row_column(qa: Path, tmp_path: Path) -> None:
    run = cli("decontaminate", str(qa), "-o", "out.jsonl", "-c", "qeustion", cwd=tmp_path)
    refused(run, "stage 'decontaminate' reads column 'qeustion'", "did you mean 'question'?")
    nothing_written(tmp_path)


def _bench(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    return jsonl(tmp_path / "bench.jsonl", rows)


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--benchmark-column", "promtp", "reads column 'promtp'"),
        ("--benchmark-id", "task_di", "reads column 'task_di'"),
    ],
)
def test_decontaminate_misspelt_benchmark_columns(
    option: str, value: str, expected: str, qa: Path, tmp_path: Path
) -> None:
    bench = _bench(tmp_path, [{"task_id": "t1", "prompt": "What is 1 plus 4? Show the steps."}])
    args = ["--benchmark-file", str(bench), "--benchmark-column", "prompt"]
    args += ["--benchmark-id", "task_id", "-c", "question", option, value]
    run = cli("decontaminate", str(qa), "-o", "out.jsonl", *args, cwd=tmp_path)
    refused(run, "benchmark 'bench'", expected, "did you mean", "'prompt', 'task_id'")
    nothing_written(tmp_path)


def test_decontaminate_benchmark_column_left_at_its_default(qa: Path, tmp_path: Path) -> None:
    """--benchmark-column defaults to `text`; a file without it used to index 0 items."""
    bench = _bench(tmp_path, [{"prompt": "What is 1 plus 4? Show the steps."}])
    args = ["--benchmark-file", str(bench), "-c", "question"]
    run = cli("decontaminate", str(qa), "-o", "out.jsonl", *args, cwd=tmp_path)
    refused(run, "benchmark 'bench' reads column 'text'", "'prompt'")


@pytest.mark.parametrize("content", ["", "\n\n"])
def test_decontaminate_empty_benchmark_file(content: str, qa: Path, tmp_path: Path) -> None:
    bench = tmp_path / "bench.jsonl"
    bench.write_text(content)
    args = ["--benchmark-file", str(bench), "--benchmark-column", "prompt", "-c", "question"]
    run = cli("decontaminate", str(qa), "-o", "out.jsonl", *args, cwd=tmp_path)
    refused(run, "has no rows")
    nothing_written(tmp_path)


def test_decontaminate_benchmark_of_empty_texts(qa: Path, tmp_path: Path) -> None:
    bench = _bench(tmp_path, [{"prompt": ""}, {"prompt": None}])
    args = ["--benchmark-file", str(bench), "--benchmark-column", "prompt", "-c", "question"]
    run = cli("decontaminate", str(qa), "-o", "out.jsonl", *args, cwd=tmp_path)
    refused(run, "benchmark 'bench' has no text")
    nothing_written(tmp_path)


def test_decontaminate_with_the_right_columns_finds_the_leak(qa: Path, tmp_path: Path) -> None:
    bench = _bench(tmp_path, [{"task_id": "t1", "prompt": "What is 1 plus 4? Show the steps."}])
    args = ["--benchmark-file", str(bench), "--benchmark-column", "prompt"]
    args += ["--benchmark-id", "task_id", "-c", "question", "--n", "4"]
    run = cli("decontaminate", str(qa), "-o", "out.jsonl", *args, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    (reject,) = [json.loads(x) for x in (tmp_path / "out.rejects.jsonl").read_text().splitlines()]
    assert reject["raw"]["item"] == "t1" and reject["row"]["answer"] == "5"


@pytest.mark.parametrize("args", [[], ["--profile", "none", "--language", "en"]])
def test_filter_without_a_text_column(args: list[str], qa: Path, tmp_path: Path) -> None:
    run = cli("filter", str(qa), "-o", "out.jsonl", *args, cwd=tmp_path)
    refused(run, "reads column 'text'", "'answer', 'question'")
    nothing_written(tmp_path)


def test_filter_with_one_of_two_columns_misspelt(qa: Path, tmp_path: Path) -> None:
    run = cli("filter", str(qa), "-o", "out.jsonl", "-c", "question", "-c", "anwser", cwd=tmp_path)
    refused(run, "stage 'filter.quality' reads column 'anwser'", "did you mean 'answer'?")
    nothing_written(tmp_path)


def test_measure_refuses_a_missing_column(qa: Path, tmp_path: Path) -> None:
    run = cli("measure", str(qa), "--embedder", "hashed", "-o", "out.json", cwd=tmp_path)
    refused(run, "measure reads column 'text'", "'answer', 'question'")
    run = cli("measure", str(qa), "-c", "questoin", "--embedder", "none", cwd=tmp_path)
    refused(run, "did you mean 'question'?")
    nothing_written(tmp_path)


def test_measure_of_an_empty_file_is_an_error(tmp_path: Path) -> None:
    empty = jsonl(tmp_path / "empty.jsonl", [])
    refused(cli("measure", str(empty), "--embedder", "hashed", cwd=tmp_path), "no rows")


def test_measure_refuses_a_reference_without_the_column(qa: Path, tmp_path: Path) -> None:
    real = jsonl(tmp_path / "real.jsonl", [{"text": f"row {i}"} for i in range(5)])
    run = cli("measure", str(qa), "-c", "question", "--reference", str(real), cwd=tmp_path)
    refused(run, "measure --reference reads column 'question'", "'text'")
