"""`synthmill inspect --rejects [STAGE]` and `--row ID`: rejected rows and provenance chains."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from synthmill.cli import app
from synthmill.errors import SynthmillError

RUNNER = CliRunner()


def invoke_json(*args: str) -> dict[str, object]:
    result = RUNNER.invoke(app, ["inspect", *args, "--json"])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output))


def test_rejects_per_stage_and_reason(llm_run: Path) -> None:
    every = invoke_json(str(llm_run), "--rejects", "-n", "2")["rejects"]
    assert isinstance(every, dict)
    stats = json.loads((llm_run / "stats.json").read_text())["stages"]
    wanted = {s: set(v["rejected"]) for s, v in stats.items() if v["rejected"]}
    assert {s: set(r) for s, r in every.items()} == wanted
    for by_reason in every.values():
        assert all(1 <= len(items) <= 2 for items in by_reason.values())
    one = invoke_json(str(llm_run), "--rejects", "answer")["rejects"]
    assert isinstance(one, dict) and list(one) == ["answer"]
    item = one["answer"]["invalid json"][0]
    assert item["raw"]["output"].startswith('{"answer": "cut off') and item["_meta"]["id"]


def test_row_with_its_parents(llm_run: Path) -> None:
    meta = pq.read_table(llm_run / "data").column("_meta").to_pylist()[0]
    shown = invoke_json(str(llm_run), "--row", meta["id"])
    row, parents = shown["row"], shown["parents"]
    assert isinstance(row, dict) and isinstance(parents, dict)
    assert row["_meta"]["id"] == meta["id"] and row["_meta"]["verdicts"] is not None
    assert list(parents) == meta["parents"]
    assert parents[meta["parents"][0]]["_meta"]["stage"] == "question"


def test_a_rejected_row_says_why(llm_run: Path) -> None:
    line = next((llm_run / "rejects" / "answer").glob("*.jsonl")).read_text().splitlines()[0]
    rid = json.loads(line)["_meta"]["id"]
    row = invoke_json(str(llm_run), "--row", rid)["row"]
    assert isinstance(row, dict) and row["_rejected"]["reason"] == "invalid json"


def test_text_output_and_refusals(llm_run: Path) -> None:
    text = RUNNER.invoke(app, ["inspect", str(llm_run), "--rejects", "filter.expression"])
    assert text.exit_code == 0 and "not a question" in text.output
    for args, words in (
        (["--row", "nope"], "no row with id 'nope'"),
        (["--rejects", "nostage"], "no rejected rows of a stage 'nostage'"),
        (["answer"], "goes with --rejects"),
    ):
        result = RUNNER.invoke(app, ["inspect", str(llm_run), *args])
        assert isinstance(result.exception, SynthmillError), result.output
        assert result.exception.exit_code == 2 and words in str(result.exception)


def test_rejects_stop_reading_once_every_reason_has_examples(llm_run: Path, tmp_path: Path) -> None:
    import shutil

    from synthmill.inspect import reject_samples

    run = tmp_path / "run"
    shutil.copytree(llm_run, run)
    files = sorted((run / "rejects" / "answer").glob("*.jsonl"))
    assert len(files) >= 2
    first = json.loads(files[0].read_text().splitlines()[0])
    files[-1].write_text(json.dumps(first | {"reason": "late"}) + "\n")
    assert list(reject_samples(run, "answer", per_reason=1)["answer"]) == ["invalid json"]
    # without stats.json (a running run) every file is read
    (run / "stats.json").unlink()
    assert "late" in reject_samples(run, "answer", per_reason=1)["answer"]
