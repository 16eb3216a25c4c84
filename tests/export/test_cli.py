"""`synthmill export` as a user runs it: exit codes, one-line errors, safe and atomic files."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.export.runs import lines, read_run
from tests.helpers import run_main

ROWS = [{"question": f"Q{i}?", "answer": f"A{i}.", "sys": "Terse."} for i in range(3)]


def synthmill(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str]:
    """Run the real entry point; return the exit code and stderr."""
    code = run_main(args)
    return code, capsys.readouterr().err


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_columns_by_name_and_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = read_run(tmp_path, ROWS)
    out = tmp_path / "chat.jsonl"
    args = ["export", root, "-f", "openai", "--prompt", "question", "--response", "answer"]
    code, err = synthmill(capsys, *args, "--system", "sys", "-o", out)
    assert code == 0 and f"exported 3 rows as openai to {out}" in err.replace("\n", "")
    assert [m["role"] for m in lines(out)[0]["messages"]] == ["system", "user", "assistant"]


def test_a_misspelt_column_exits_2_in_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = read_run(tmp_path, ROWS)
    args = ["export", root, "-f", "sharegpt", "--prompt", "qestion", "--response", "answer"]
    code, err = synthmill(capsys, *args)
    assert code == 2
    assert err.strip().count("\n") == 0 and err.startswith("error: --prompt 'qestion'")
    assert "question, answer, sys" in err
    assert not (root / "export").exists()
    code, err = synthmill(capsys, "export", tmp_path / "nowhere")
    assert code == 2 and "not a synthmill run directory" in err


def test_skipped_rows_are_stated_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = read_run(tmp_path, [*ROWS, {"question": "Q?", "answer": "", "sys": ""}])
    code, err = synthmill(capsys, "export", root, "-f", "alpaca")
    assert code == 2 and "row 3 (id " in err and "'answer' is empty" in err
    code, err = synthmill(capsys, "export", root, "-f", "alpaca", "--skip-invalid")
    assert code == 0 and "skipped 1 rows: 'answer' is empty (1)" in err and "first: row 3" in err
    assert len(lines(root / "export" / "alpaca.jsonl")) == 3


def test_the_input_is_never_overwritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = read_run(tmp_path, ROWS)
    (data,) = (root / "data").glob("*.parquet")
    before = hashlib.sha256(data.read_bytes()).hexdigest()
    card = (root / "README.md").read_text()
    (tmp_path / "link.jsonl").symlink_to(data)
    targets = [
        data,
        root / "data" / "chat.jsonl",
        root / "export" / ".." / "data" / "x.jsonl",
        root / "README.md",
        root,
        tmp_path / "link.jsonl",
    ]
    for target in targets:
        code, err = synthmill(capsys, "export", root, "-o", target)
        assert code == 2 and "inside the run directory" in err, target
    assert hashlib.sha256(data.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in (root / "data").iterdir()) == [data.name]
    assert (root / "README.md").read_text() == card
    (tmp_path / "dir.jsonl").mkdir()
    code, err = synthmill(capsys, "export", root, "-o", tmp_path / "dir.jsonl")
    assert code == 2 and "is a directory" in err


@pytest.mark.usefixtures("umask")
def test_files_follow_the_umask_and_replace_atomically(tmp_path: Path) -> None:
    from synthmill.errors import DataError
    from synthmill.export import export

    root = read_run(tmp_path, [*ROWS, {"question": "Q?", "answer": None, "sys": ""}])
    out = tmp_path / "o.jsonl"
    export(root, out, "openai", skip_invalid=True)
    assert out.stat().st_mode & 0o777 == 0o644
    os.umask(0o027)
    out.write_text("old content\n")
    with pytest.raises(DataError, match="row 3"):  # the bad row comes after three good ones
        export(root, out, "openai")
    assert out.read_text() == "old content\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".o.jsonl")) == []
    export(root, out, "rl", skip_invalid=True)
    assert out.stat().st_mode & 0o777 == 0o640 and len(lines(out)) == 3
