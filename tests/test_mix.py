"""`synthmill mix` and the `mix` source: shares, budgets, policies and lineage in meta."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from synthmill.mix import shares
from synthmill.pipeline.pipeline import Pipeline
from tests.conftest import REPO

CLI = [sys.executable, "-m", "synthmill"]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def rows_of(run: Path) -> list[dict]:
    return pq.read_table(sorted((run / "data").glob("*.parquet"))).to_pylist()


def lineage(row: dict) -> tuple[str, str, int]:
    mix = json.loads(row["_meta"]["params"])["mix"]
    return row["_meta"]["origin"], mix["source"], mix["generation"]


def write_jsonl(path: Path, prefix: str, n: int) -> Path:
    path.write_text("".join(json.dumps({"text": f"{prefix} {i}"}) + "\n" for i in range(n)))
    return path


@pytest.mark.parametrize(
    ("n_real", "n_synth", "share", "budget", "expected"),
    [
        (100, 50, None, None, (100, 50)),  # accumulate: everything
        (100, 50, None, 30, (20, 10)),  # budget alone: both kinds shrink in proportion
        (100, 50, 0.5, None, (50, 50)),  # the scarce kind bounds the mix
        (100, 50, 0.2, None, (100, 25)),
        (100, 50, 0.25, 40, (30, 10)),
        (100, 50, 1.0, 20, (0, 20)),
        (100, 50, 0.0, None, (100, 0)),
    ],
)
def test_shares(n_real: int, n_synth: int, share, budget, expected) -> None:
    assert shares(n_real, n_synth, share, budget) == expected


@pytest.fixture(scope="module")
def cloze_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real synthetic dataset: the cloze example pipeline, run for real."""
    out = tmp_path_factory.mktemp("cloze") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO)
        Pipeline.from_yaml(REPO / "examples/cloze.yaml", [f"output.dir={out}"]).run()
    return out


def test_mix_of_real_file_and_synthetic_run_keeps_lineage(tmp_path: Path, cloze_run: Path) -> None:
    real = write_jsonl(tmp_path / "human.jsonl", "a human wrote this", 40)
    synth_rows = rows_of(cloze_run)
    args = ["mix", "-r", str(real), "-s", str(cloze_run), "--share", "0.2", "-o", "mixed"]
    out = cli(*args, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = rows_of(tmp_path / "mixed")
    counts = Counter(lineage(r) for r in rows)
    n_synth = round(min(40 / 0.8, len(synth_rows) / 0.2) * 0.2)
    assert counts[("real", "human", 0)] == 40
    assert counts[("synthetic", "run", 1)] == n_synth
    assert len({r["_meta"]["id"] for r in rows}) == len(rows)
    # synthetic rows keep the provenance their own pipeline gave them
    by_id = {r["_meta"]["id"]: r for r in synth_rows}
    for row in rows:
        if row["_meta"]["origin"] == "synthetic":
            original = by_id[row["_meta"]["id"]]["_meta"]
            assert row["_meta"]["recipe"] == original["recipe"] == "cloze"
            assert row["_meta"]["parents"] == original["parents"]
    card = (tmp_path / "mixed" / "README.md").read_text()
    share = n_synth / (40 + n_synth)
    assert f"**{share:.1%} synthetic**" in card
    assert f"synthetic rows from run (gen 1): {n_synth}" in card


def test_accumulate_is_the_default_and_replace_keeps_the_newest(tmp_path: Path) -> None:
    real = write_jsonl(tmp_path / "real.jsonl", "real", 10)
    g1 = write_jsonl(tmp_path / "g1.jsonl", "first", 6)
    g2 = write_jsonl(tmp_path / "g2.jsonl", "second", 4)
    base = ["mix", "-r", str(real), "-s", str(g1), "-s", str(g2)]
    assert cli(*base, "-o", "acc", cwd=tmp_path).returncode == 0
    acc = Counter(lineage(r) for r in rows_of(tmp_path / "acc"))
    assert acc == {("real", "real", 0): 10, ("synthetic", "g1", 1): 6, ("synthetic", "g2", 2): 4}
    assert cli(*base, "--policy", "replace", "-o", "rep", cwd=tmp_path).returncode == 0
    rep = Counter(lineage(r) for r in rows_of(tmp_path / "rep"))
    assert rep == {("real", "real", 0): 10, ("synthetic", "g2", 2): 4}


def test_budget_subsample_is_reproducible_and_order_free(tmp_path: Path) -> None:
    real = write_jsonl(tmp_path / "real.jsonl", "real", 50)
    synth = write_jsonl(tmp_path / "s.jsonl", "synth", 50)
    for out in ("one", "two"):
        args = ["mix", "-s", str(synth), "-r", str(real), "--budget", "30", "-o", out]
        assert cli(*args, "--share", "0.5", cwd=tmp_path).returncode == 0
    one, two = rows_of(tmp_path / "one"), rows_of(tmp_path / "two")
    assert [r["text"] for r in one] == [r["text"] for r in two]
    assert Counter(r["_meta"]["origin"] for r in one) == {"real": 15, "synthetic": 15}


def test_impossible_share_is_one_line(tmp_path: Path) -> None:
    real = write_jsonl(tmp_path / "real.jsonl", "real", 5)
    out = cli("mix", "-r", str(real), "--share", "0.5", "-o", "x", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "error: stages.0: synthetic_share 0.5 needs real and synthetic datasets; add both"
    )
    assert not (tmp_path / "x").exists()
    missing = cli("mix", "-r", "nope.jsonl", cwd=tmp_path)
    assert missing.returncode == 2 and "no file matches 'nope.jsonl'" in missing.stderr


def test_mix_example_runs(tmp_path: Path) -> None:
    """The numbers come from the inputs, not from the mix: examples/mix.yaml asks for a 50%
    share, so it takes every line of docs.jsonl (12) and as many cloze exercises; then
    dedup.exact drops the copy that docs.jsonl holds on purpose (11 distinct texts)."""
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    assert cli("run", "examples/cloze.yaml", cwd=tmp_path).returncode == 0
    docs = [json.loads(x)["text"] for x in (REPO / "examples/data/docs.jsonl").open()]
    n_cloze = len(rows_of(tmp_path / "runs" / "cloze"))
    assert n_cloze >= len(docs) == 12  # a 50% mix takes all 12 docs and 12 exercises
    distinct = {" ".join(t.lower().split()) for t in docs}
    out = cli("run", "examples/mix.yaml", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = rows_of(tmp_path / "runs" / "mix")
    kinds = Counter(lineage(r)[:2] for r in rows)
    assert kinds == {("real", "docs"): len(distinct), ("synthetic", "cloze"): len(docs)}
    real = {" ".join(r["text"].lower().split()) for r in rows if r["_meta"]["origin"] == "real"}
    assert real == distinct
    n_real, n_synth = len(distinct), len(docs)
    share = n_synth / (n_real + n_synth)
    card = (tmp_path / "runs" / "mix" / "README.md").read_text()
    expected = (
        f"{n_real + n_synth} rows, **{share:.1%} synthetic** (real: {n_real}, synthetic: {n_synth})"
    )
    assert expected in card
    assert "**dedup.exact** removed 1 rows: exact duplicate" in card


def read_run(tmp_path: Path, src: Path, name: str) -> Path:
    """A plain `read` run: its rows carry stored provenance with origin real."""
    out = tmp_path / name
    config = {"name": name, "stages": [{"use": "read", "path": str(src)}], "output": {"dir": out}}
    Pipeline.from_config(config).run()
    return out


def test_flags_decide_origin_and_disagreement_is_a_card_warning(tmp_path: Path) -> None:
    """Issue 15 item 7: a read run (stored origin real) given as --synthetic is synthetic."""
    human = write_jsonl(tmp_path / "human.jsonl", "a person wrote", 6)
    made = read_run(tmp_path, write_jsonl(tmp_path / "gen.jsonl", "a model wrote", 4), "gen")
    out = cli("mix", "-r", str(human), "-s", str(made), "-o", "mixed", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = rows_of(tmp_path / "mixed")
    assert Counter(lineage(r)[:2] for r in rows) == {("real", "human"): 6, ("synthetic", "gen"): 4}
    card = (tmp_path / "mixed" / "README.md").read_text()
    assert "**40.0% synthetic**" in card
    assert "4 rows of gen were stored as real but given as synthetic" in card
    # and the other way round: synthetic provenance given as --real is real, with a warning
    back = cli("mix", "-r", str(tmp_path / "mixed"), "-o", "again", cwd=tmp_path)
    assert back.returncode == 0, back.stderr
    assert {r["_meta"]["origin"] for r in rows_of(tmp_path / "again")} == {"real"}
    again = (tmp_path / "again" / "README.md").read_text()
    assert "**0.0% synthetic**" in again and "stored as synthetic but given as real" in again


def test_agreeing_provenance_gives_no_warning(tmp_path: Path) -> None:
    made = read_run(tmp_path, write_jsonl(tmp_path / "h.jsonl", "person", 3), "h")
    synth = write_jsonl(tmp_path / "s.jsonl", "model", 3)
    assert cli("mix", "-r", str(made), "-s", str(synth), "-o", "m", cwd=tmp_path).returncode == 0
    assert "warning" not in (tmp_path / "m" / "README.md").read_text()


def test_different_columns_warn_in_the_card(tmp_path: Path) -> None:
    real = write_jsonl(tmp_path / "real.jsonl", "real", 3)
    synth = tmp_path / "synth.jsonl"
    synth.write_text("".join(json.dumps({"text": f"s{i}", "label": i}) + "\n" for i in range(3)))
    assert cli("mix", "-r", str(real), "-s", str(synth), "-o", "m", cwd=tmp_path).returncode == 0
    rows = rows_of(tmp_path / "m")
    assert sum(r["label"] is None for r in rows) == 3
    card = (tmp_path / "m" / "README.md").read_text()
    assert "real lacks column(s) label; its rows hold nulls there" in card


def test_type_conflict_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    real = tmp_path / "real.jsonl"
    real.write_text("".join(json.dumps({"text": "r", "score": i}) + "\n" for i in range(3)))
    synth = tmp_path / "synth.jsonl"
    synth.write_text("".join(json.dumps({"text": "s", "score": f"x{i}"}) + "\n" for i in range(3)))
    out = cli("mix", "-r", str(real), "-s", str(synth), "-o", "m", cwd=tmp_path)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "'score'" in lines[0]
    assert not (tmp_path / "m").exists()


def test_type_conflict_between_a_run_and_a_file_writes_nothing(tmp_path: Path) -> None:
    """The Parquet of a run holds `score` as numbers; a JSONL file holds it as text."""
    src = tmp_path / "src.jsonl"
    src.write_text("".join(json.dumps({"text": "r", "score": i}) + "\n" for i in range(3)))
    made = read_run(tmp_path, src, "made")
    synth = tmp_path / "synth.jsonl"
    synth.write_text(json.dumps({"text": "s", "score": "high"}) + "\n")
    out = cli("mix", "-r", str(made), "-s", str(synth), "-o", "m", cwd=tmp_path)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert out.stderr.startswith("error: ") and "'score'" in out.stderr
    assert not (tmp_path / "m").exists()
