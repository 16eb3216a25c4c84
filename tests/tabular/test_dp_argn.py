"""`--method dp` (smartnoise-synth MST) and `--method argn` (mostlyai-engine TabularARGN)
end to end through the CLI on a small real table, with the real libraries; their options'
one-line errors; and the one-line install hint when a library is missing."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from synthmill.tabular import run
from synthmill.tabular.table import read_table
from tests.helpers import cli
from tests.tabular.test_cli import GERMAN, one_line_error

needs_german = pytest.mark.skipif(not GERMAN.exists(), reason="needs shared/data/germancredit.csv")
COLUMNS = ["duration_in_month", "credit_amount", "age_in_years", "purpose", "housing"]
TARGET = "creditability"


def small_german(tmp_path: Path, rows: int = 400, columns: list[str] = COLUMNS) -> Path:
    """The first rows and a few columns of the German credit data, as a CSV."""
    table = read_table(GERMAN).select([*columns, TARGET]).slice(0, rows)
    path = tmp_path / "credit.csv"
    pacsv.write_csv(table, path)
    return path


def finished_run(out: Path) -> tuple[pa.Table, str, dict[str, object]]:
    data = pq.read_table(next((out / "data").glob("*.parquet")))
    card = (out / "README.md").read_text(encoding="utf-8")
    report = json.loads((out / "evaluation.json").read_text(encoding="utf-8"))
    return data, card, report


@pytest.mark.slow
@needs_german
def test_dp_synthesizes_a_run_with_epsilon_and_delta_stated(tmp_path: Path) -> None:
    # MST's cost is mostly JAX compiling a kernel per marginal: few columns keep it short
    src = small_german(tmp_path, columns=["age_in_years", "credit_amount", "housing"])
    ran = cli(
        "tabular", "synthesize", str(src), "-o", "out", "--method", "dp", "--target", TARGET,
        "--epsilon", "2", "--bounds", "credit_amount=0:20000",
        "--rows", "250", "--seed", "5", cwd=tmp_path,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert "differential privacy: epsilon 2" in ran.stdout
    data, card, report = finished_run(tmp_path / "out")
    assert data.num_rows == 250
    assert data.schema.field("credit_amount").type == pa.int64()
    amounts = data.column("credit_amount").to_pylist()
    assert all(0 <= a <= 20000 for a in amounts) and len(set(amounts)) > 50  # within bins
    assert set(data.column(TARGET).to_pylist()) <= {"good", "bad"}
    meta = data.column("_meta").to_pylist()
    assert {m["origin"] for m in meta} == {"synthetic"}
    assert {m["recipe"] for m in meta} == {"tabular.dp"}
    params = meta[0]["params"]
    params = json.loads(params) if isinstance(params, str) else params
    delta = 1 / 320**1.5  # 400 rows, 20% held out
    assert params["epsilon"] == 2.0 and params["mechanism"] == "MST"
    assert params["delta"] == pytest.approx(delta)
    guarantee = report["privacy_guarantee"]
    assert guarantee["epsilon"] == 2.0 and guarantee["delta"] == pytest.approx(delta)
    # age had no bounds: a public grid, MST's own marginals place it; all epsilon to MST
    assert guarantee["epsilon_for_bounds"] == 0.0
    assert guarantee["epsilon_for_synthesizer"] == pytest.approx(2.0)
    assert guarantee["bounds"]["credit_amount"][:2] == [0.0, 20000.0]
    assert "public power-of-two grid" in guarantee["bounds"]["age_in_years"][2]
    assert guarantee["grid"]["columns"] == ["age_in_years"]
    assert guarantee["covered"] is True
    assert report["method"] == "dp" and report["evaluation"]["rows"]["synthetic"] == 250
    assert "| dp_epsilon | 2 |" in card and "| dp_delta |" in card and "method: dp" in card
    assert "bins over [0, 20000], bounds given" in card


@pytest.mark.slow
@needs_german
def test_dp_honors_epsilon_a_tiny_budget_gives_lower_fidelity(tmp_path: Path) -> None:
    table = read_table(small_german(tmp_path, columns=["housing", "age_in_years"]))
    bounds = {"age_in_years": (18.0, 80.0)}
    fidelity = {}
    for epsilon in (0.02, 20.0):
        options = run.Options(epsilon=epsilon, bounds=bounds)
        fitted = run.fit(table, "dp", 0, TARGET, 0.2, options)
        synthetic = pa.concat_tables(list(fitted.model.sample(fitted.train.num_rows)))
        report = run.evaluation(fitted, synthetic, 0)
        assert report["privacy_guarantee"]["epsilon"] == epsilon
        assert report["privacy_guarantee"]["epsilon_for_bounds"] == 0.0  # all bounds given
        fidelity[epsilon] = report["evaluation"]["fidelity"]["overall"]
    assert fidelity[20.0] > fidelity[0.02] + 0.05, fidelity


@pytest.mark.slow
@needs_german
def test_argn_synthesizes_a_run_on_cpu(tmp_path: Path) -> None:
    src = small_german(tmp_path)
    ran = cli(
        "tabular", "synthesize", str(src), "-o", "out", "--method", "argn", "--target", TARGET,
        "--epochs", "3", "--rows", "300", "--seed", "2", cwd=tmp_path,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    data, card, report = finished_run(tmp_path / "out")
    assert data.num_rows == 300
    real = read_table(src)
    for name in real.column_names:  # the real column types come back
        assert data.schema.field(name).type == real.schema.field(name).type, name
    assert set(data.column("housing").to_pylist()) <= set(real.column("housing").to_pylist())
    meta = data.column("_meta").to_pylist()
    assert {m["recipe"] for m in meta} == {"tabular.argn"} and {m["seed"] for m in meta} == {2}
    assert report["method"] == "argn" and report["privacy_guarantee"] is None
    assert report["engine"]["library"].startswith("mostlyai-engine ")
    assert report["engine"]["max_epochs"] == 3.0
    assert "TabularARGN" in report["models"]["purpose"]
    assert "method: argn" in card and "| detection_auc |" in card
    assert 0.5 < report["evaluation"]["fidelity"]["overall"] <= 1.0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--method", "dp", "--epsilon", "0"), "--epsilon 0.0 must be a number above 0"),
        (("--method", "dp", "--epsilon", "-1"), "must be a number above 0"),
        (("--method", "dp", "--epsilon", "nan"), "must be a number above 0"),
        (("--method", "dp", "--delta", "1.5"), "--delta 1.5 must be in (0, 1)"),
        (("--method", "dp", "--dp-mechanism", "mwem"), "choose one of mst, aim"),
        (("--method", "dp", "--bounds", "a=5:1"), "lower bound must be below"),
        (("--method", "dp", "--bounds", "a=x:1"), "write col=lo:hi"),
        (("--method", "argn", "--epochs", "0"), "--epochs 0.0 must be above 0"),
        (("--epsilon", "2"), "--epsilon is for --method dp, not copula"),
        (("--method", "dp", "--epochs", "3"), "--epochs is for --method argn, not dp"),
    ],
)
def test_bad_options_are_one_line_and_write_nothing(
    tmp_path: Path, args: tuple[str, ...], words: str
) -> None:
    src = tmp_path / "in.csv"
    src.write_text("a,b\n" + "".join(f"{i},{'xy'[i % 2]}\n" for i in range(40)), encoding="utf-8")
    one_line_error(cli("tabular", "synthesize", str(src), "-o", "out", *args, cwd=tmp_path), words)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("bounds", "words"),
    [("zzz=0:1", "--bounds names columns the table lacks: zzz"), ("b=0:1", "not for: b")],
)
def test_bounds_must_name_numeric_columns(tmp_path: Path, bounds: str, words: str) -> None:
    from synthmill.errors import DataError
    from synthmill.tabular.dp import parse_bounds

    table = pa.table({"a": list(range(60)), "b": ["x", "y"] * 30})
    options = run.Options(bounds=parse_bounds(bounds))
    with pytest.raises(DataError, match=words):
        run.fit(table, "dp", 0, None, 0.2, options)


@pytest.mark.parametrize(
    ("method", "module", "install"),
    [
        ("dp", "snsynth", "pip install 'synthmill[tabular-dp]' && pip install --no-deps"),
        ("argn", "mostlyai.engine", "pip install 'synthmill[tabular-deep]' && pip install"),
    ],
)
def test_a_missing_library_is_one_line_naming_the_install_command(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    module: str,
    install: str,
) -> None:
    import importlib.util

    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name == module else real_find_spec(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    src = tmp_path / "in.csv"
    src.write_text("a,b\n1,x\n2,y\n", encoding="utf-8")
    ran = cli("tabular", "synthesize", str(src), "-o", "out", "--method", method, cwd=tmp_path)
    one_line_error(ran, install)
    assert "is not installed" in ran.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_dp_needs_no_bounds_even_at_a_tiny_epsilon(tmp_path: Path) -> None:
    # smartnoise's DP bound finder failed here (and on every bench table at epsilon 1)
    src = tmp_path / "in.csv"
    src.write_text("amount,kind\n" + "".join(f"{i * 37},{'xy'[i % 2]}\n" for i in range(60)))
    ran = cli(
        "tabular",
        "synthesize",
        str(src),
        "-o",
        "out",
        "--method",
        "dp",
        "--epsilon",
        "0.01",
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stderr
    assert "differential privacy: epsilon 0.01" in ran.stdout
    _, card, report = finished_run(tmp_path / "out")
    guarantee = report["privacy_guarantee"]
    assert guarantee["epsilon_for_bounds"] == 0.0 and guarantee["covered"] is True
    assert guarantee["grid"]["columns"] == ["amount"]
    assert "public power-of-two grid" in card
    # 60 rows at epsilon 0.01: the noise dwarfs the data; a column flagged NOT located
    # (nearly always here) is said on stderr, not only in the card
    flagged = not guarantee["grid"]["located"]["amount"]["ok"]
    assert ("warning: NOT located under DP: amount" in ran.stderr) == flagged
    assert flagged == ("NOT located" in card)
