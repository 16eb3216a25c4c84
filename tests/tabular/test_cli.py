"""`synthmill tabular` as a user meets it: a run directory, a card, evaluation.json, and
one-line errors (or a stated handling in the card) for every kind of bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO
from tests.helpers import Done, cli

CLI = [sys.executable, "-m", "synthmill"]
GERMAN = REPO.parent / "shared" / "data" / "germancredit.csv"


def process(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`synthmill ARGS` as a real process (a fresh interpreter, a bare environment)."""
    env = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=600, env=env
    )


def one_line_error(run: Done | subprocess.CompletedProcess[str], words: str) -> None:
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], run.stderr


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.skipif(not GERMAN.exists(), reason="needs shared/data/germancredit.csv")
def test_synthesize_writes_a_run_and_evaluate_agrees(tmp_path: Path) -> None:
    run = process(
        "tabular",
        "synthesize",
        str(GERMAN),
        "-o",
        "out",
        "--target",
        "creditability",
        "--rows",
        "500",
        "--seed",
        "3",
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert "detection_auc" in run.stdout and "credit_amount" in run.stdout
    out = tmp_path / "out"
    table = pq.read_table(next((out / "data").glob("*.parquet")))
    assert table.num_rows == 500 and "credit_amount" in table.column_names
    meta = table.column("_meta").to_pylist()
    assert {m["origin"] for m in meta} == {"synthetic"} and {m["seed"] for m in meta} == {3}
    assert {m["recipe"] for m in meta} == {"tabular.copula"}
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "100.0% synthetic" in card and "method: copula" in card
    assert "| column credit_amount |" in card and "| detection_auc |" in card
    report = json.loads((out / "evaluation.json").read_text(encoding="utf-8"))
    ev = report["evaluation"]
    assert ev["rows"] == {"train": 800, "synthetic": 500, "holdout": 200}
    assert ev["utility"]["target"] == "creditability"
    assert 0.8 < ev["fidelity"]["overall"] <= 1.0 and ev["privacy"]["exact_copies"] == 0
    again = process(
        "tabular",
        "synthesize",
        str(GERMAN),
        "-o",
        "out",
        "--target",
        "creditability",
        "--rows",
        "500",
        "--seed",
        "3",
        cwd=tmp_path,
    )  # a finished run: card kept
    assert again.returncode == 0, again.stderr
    assert "| detection_auc |" in (out / "README.md").read_text(encoding="utf-8")
    shown = process(
        "tabular", "evaluate", "--real", str(GERMAN), "--synthetic", "out", "--json", cwd=tmp_path
    )
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["rows"]["synthetic"] == 500


@pytest.mark.slow
def test_odd_columns_are_handled_and_stated_in_the_card(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 10_000
    lines = ["customer_ref,amount,mixed,nothing,group"]
    for i in range(n):
        mixed = str(rng.integers(0, 9)) if i % 4 else rng.choice(["n/a", "unknown"])
        lines.append(f"C{i:05d}X,{rng.gamma(2, 50):.2f},{mixed},,{rng.choice(['a', 'b'])}")
    src = write(tmp_path / "odd.csv", "\n".join(lines) + "\n")
    run = cli("tabular", "synthesize", str(src), "-o", "out", "--target", "group", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    card = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert "ID-like column (10000 distinct of 10000)" in card
    assert "mixes numbers" in card and "empty in the real data" in card
    data = pq.read_table(next((tmp_path / "out" / "data").glob("*.parquet")))
    ids = data.column("customer_ref").to_pylist()
    assert len(set(ids)) == len(ids) and ids[0][0] == "C" and ids[0][-1] == "X"
    assert data.column("nothing").null_count == data.num_rows


def test_a_single_column_works_and_says_there_are_no_pairs(tmp_path: Path) -> None:
    src = write(tmp_path / "one.csv", "x\n" + "\n".join(str(i % 17) for i in range(200)) + "\n")
    run = cli("tabular", "synthesize", str(src), "-o", "out", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "no column pairs" in (tmp_path / "out" / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("content", "args", "words"),
    [
        (b"", (), "is empty"),
        (b"a,b\n", (), "no rows"),
        (b"a,b\n" + b"".join(b"%d,yes\n" % i for i in range(50)), ("--target", "b"), "one value"),
        (b"a,b\n1,x\n2,y\n", ("--target", "c"), "is not a column"),
        ("name,city\nJos\xe9,K\xf6ln\n".encode("latin-1"), (), "not UTF-8"),
        (b"a,b\n1,x\n2,y\n", ("--method", "gan"), "unknown method"),
        (b"a,b\n1,x\n", ("--holdout", "0.5"), "too few"),
        (b"a,a,b\n1,2,x\n", (), "column names repeat: a"),
        (b"a,b\n1,x\n2,y\n", ("--holdout", "1.5"), "must be in [0, 1)"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    tmp_path: Path, content: bytes, args: tuple[str, ...], words: str
) -> None:
    src = write(tmp_path / "in.csv", content)
    run = cli("tabular", "synthesize", str(src), "-o", "out", *args, cwd=tmp_path)
    one_line_error(run, words)
    assert not (tmp_path / "out").exists()


def test_evaluate_refuses_tables_of_another_schema(tmp_path: Path) -> None:
    real = write(tmp_path / "real.csv", "a,b\n1,x\n2,y\n3,z\n")
    other = write(tmp_path / "syn.csv", "a,c\n1,x\n")
    run = cli("tabular", "evaluate", "--real", str(real), "--synthetic", str(other), cwd=tmp_path)
    one_line_error(run, "lacks columns ['b']")


@pytest.mark.slow
def test_the_non_utf8_error_reaches_a_real_process(tmp_path: Path) -> None:
    src = write(tmp_path / "in.csv", "name\nJos\xe9\n".encode("latin-1"))
    one_line_error(process("tabular", "synthesize", str(src), "-o", "out", cwd=tmp_path), "line 2")


@pytest.mark.parametrize(
    ("column", "words"),
    [
        (pa.array([[1, 2], [3]] * 10), "is list<element: int64>; only numbers"),
        (pa.array([1.5, float("inf")] * 10), "holds infinite values"),
    ],
)
def test_columns_that_cannot_be_modelled_are_named(
    tmp_path: Path, column: pa.Array, words: str
) -> None:
    pq.write_table(pa.table({"odd": column, "x": list(range(20))}), tmp_path / "in.parquet")
    one_line_error(cli("tabular", "synthesize", "in.parquet", "-o", "out", cwd=tmp_path), words)
    assert not (tmp_path / "out").exists()
