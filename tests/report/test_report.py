"""`synthmill report`: what the HTML of each kind of run holds, escaping, size, errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from synthmill.cli import app
from synthmill.errors import SynthmillError
from synthmill.report import build_report

RUNNER = CliRunner()


def rows_data(html: str) -> dict[str, Any]:
    """The row browser's JSON, as the page's script reads it."""
    found = re.search(r'<script type="application/json" id="rows-data">(.*?)</script>', html, re.S)
    assert found is not None
    return dict(json.loads(found.group(1)))


def test_llm_run_report_has_every_section(llm_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = RUNNER.invoke(app, ["report", str(llm_run), "-o", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    for anchor in ("overview", "funnel", "columns", "diversity", "cost", "browser", "config"):
        assert f'<section id="{anchor}"' in html
    assert "rows in and kept per stage" in html and html.count('<g class="stage">') == 5
    assert "filter.expression: not a question" in html and "answer: invalid json" in html
    # the click-through: a bar links to the examples, which hold the raw model output
    link = re.search(r'<a href="#(rej-\d+-\d+)"><text[^>]*>answer: invalid json', html)
    assert link is not None
    block = html.split(f'id="{link.group(1)}"')[1].split("</details>")[0]
    assert "cut off &lt;b&gt;mid" in block and "Unterminated string" in block
    stats = json.loads((llm_run / "stats.json").read_text())
    calls = stats["stages"]["answer"]["counters"]["llm.calls"]
    assert "parse failed" in html and f"<td>{calls}</td>" in html
    assert "distinct_2" in html and "self_bleu" in html and "vendi_score" in html
    data = rows_data(html)
    assert len(data["rows"]) == stats["rows"] == data["total"]


def test_row_text_cannot_inject_markup(llm_run: Path, tmp_path: Path) -> None:
    html = build_report(llm_run, tmp_path / "r.html").read_text(encoding="utf-8")
    assert len(re.findall(r"<script", html, re.I)) == 2  # the data block and the browser
    assert html.count("</script>") == 2
    assert "<img src=x" not in html and "<!-- not a comment" not in html
    assert "<b>mid" not in html
    texts = [str(r["question"]) for r in rows_data(html)["rows"]]
    hostile = [
        t for t in pq.read_table(llm_run / "data").column("question").to_pylist() if "<" in t
    ]
    assert any("</script>" in t for t in hostile)  # the run holds the attack ...
    assert sorted(hostile) == sorted(t for t in texts if "<" in t)  # ... kept intact as data
    for text in hostile:
        assert text not in html


def test_browser_rows_follow_parents(llm_run: Path, tmp_path: Path) -> None:
    data = rows_data(build_report(llm_run, tmp_path / "r.html").read_text(encoding="utf-8"))
    rows, ancestors = data["rows"], data["ancestors"]
    assert isinstance(rows, list) and isinstance(ancestors, dict)
    for row in rows:  # each answer's question row is in the checkpoint after dedup.exact
        parent = ancestors[row["_meta"]["parents"][0]]
        assert parent["_meta"]["stage"] == "question"
        assert parent["question"] == row["question"] and "answer" not in parent
    # the sample rows were never written (fused with `question`): not invented either
    assert {a["_meta"]["stage"] for a in ancestors.values()} == {"question"}


def test_rl_run_shows_pass_at_k(rl_run: Path, tmp_path: Path) -> None:
    html = build_report(rl_run, tmp_path / "r.html").read_text(encoding="utf-8")
    summary = json.loads((rl_run / "stats.json").read_text())["stages"]["rejection_sampling"][
        "summary"
    ]
    section = html.split('<section id="verification"')[1].split("</section>")[0]
    for group in ("arithmetic.integer/d1", "arithmetic.integer/d2", "number_theory.gcd"):
        assert f"<td>{group}</td>" in section
    assert f"<td>{summary['all']['pass@1']:.4g}</td>" in section
    assert "no correct sample" in html


def test_curate_run_shows_each_reason_with_examples(tmp_path: Path) -> None:
    from synthmill import Pipeline

    repo = Path(__file__).resolve().parents[2]
    config = yaml.safe_load((repo / "examples" / "curate.yaml").read_text(encoding="utf-8"))
    config["stages"][0]["path"] = str(repo / "examples" / "data" / "curate.jsonl")
    config["output"]["dir"] = str(tmp_path / "curate")
    Pipeline.from_config(config).run()
    html = build_report(tmp_path / "curate").read_text(encoding="utf-8")
    assert (tmp_path / "curate" / "report.html").is_file()
    for reason in ("near duplicate", "exact duplicate", "overlaps humaneval", "other language"):
        assert reason in html
    assert "duplicate_of" in html  # the raw payload of a near-duplicate reject


@pytest.mark.slow
def test_tabular_run_shows_evaluation_and_real_vs_synthetic(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    real = tmp_path / "iris.csv"
    frame.to_csv(real, index=False)
    out = tmp_path / "tab"
    result = RUNNER.invoke(app, ["tabular", "synthesize", str(real), "-o", str(out),
                                 "--target", "target"])  # fmt: skip
    assert result.exit_code == 0, result.output
    html = build_report(out).read_text(encoding="utf-8")
    section = html.split('<section id="tabular"')[1].split("</section>")[0]
    for part in ("fidelity", "utility", "privacy", "dcr_share", "mia_auc", "tstr"):
        assert part in section
    assert section.count("real vs synthetic") >= 4  # one histogram per numeric column


def test_collapse_folder_embeds_its_plots(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "lab"
    args = ["collapse", "run", "--family", "gaussian", "--policy", "replace", "--generations",
            "2", "--seeds", "1", "--scale", "0.2", "-o", str(out)]  # fmt: skip
    assert RUNNER.invoke(app, args).exit_code == 0
    html = build_report(out).read_text(encoding="utf-8")
    png = (out / "gaussian.png").read_bytes()
    import base64

    assert base64.b64encode(png).decode() in html
    assert "<h3>gaussian</h3>" in html and "generation 2" in html


def test_reference_adds_tail_coverage_and_warns_on_narrowing(llm_run: Path, tmp_path: Path) -> None:
    real = tmp_path / "real.jsonl"
    words = [f"w{i}" for i in range(400)]
    with open(real, "w", encoding="utf-8") as fh:
        for i in range(200):
            q = " ".join(words[(i * 7 + j) % 400] for j in range(12))
            fh.write(json.dumps({"question": q, "answer": q[::-1]}) + "\n")
    html = build_report(llm_run, tmp_path / "r.html", reference=real).read_text(encoding="utf-8")
    section = html.split('<section id="diversity"')[1].split("</section>")[0]
    assert "Tail coverage against real.jsonl" in section
    assert 'class="warn"' in section and "narrowed" in section


def refused(args: list[str], words: str) -> None:
    """The command fails with a SynthmillError of exit code 2 that says `words`."""
    result = RUNNER.invoke(app, args)
    assert isinstance(result.exception, SynthmillError), result.output
    assert result.exception.exit_code == 2 and words in str(result.exception)


def test_bad_input_is_refused_with_exit_2(llm_run: Path, tmp_path: Path) -> None:
    refused(["report", str(tmp_path / "nope")], "not a folder")
    empty = tmp_path / "empty"
    empty.mkdir()
    refused(["report", str(empty)], "not a synthmill run directory")
    refused(["report", str(llm_run), "--reference", str(tmp_path / "x.jsonl")], "--reference")
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text('{"other": "column"}\n')
    out = str(tmp_path / "r.html")
    refused(["report", str(llm_run), "--reference", str(wrong), "-o", out], "same columns")
    assert not Path(out).exists()
    broken = tmp_path / "broken"
    shutil.copytree(llm_run, broken)
    (broken / "stats.json").write_text("{not json")
    refused(["report", str(broken)], "damaged")


def test_the_cli_error_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "synthmill", "report", str(tmp_path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1


def test_unfinished_run_reports_its_checkpoints(llm_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "partial"
    shutil.copytree(llm_run, run)
    shutil.rmtree(run / "data")
    (run / "stats.json").unlink()
    meta = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps(meta | {"status": "running"}))
    html = build_report(run).read_text(encoding="utf-8")
    # run.json says running, but no process holds the lock: a run killed part-way
    assert "interrupted" in html and '<g class="stage">' in html
    assert rows_data(html)["rows"]


@pytest.mark.slow
def test_a_100k_row_run_stays_under_3_mb(llm_run: Path, tmp_path: Path) -> None:
    """The small run's rows repeated to 100,000 (new ids): the report samples, stays small."""
    import pyarrow as pa
    import pyarrow.compute as pc

    run = tmp_path / "big"
    shutil.copytree(llm_run, run, ignore=shutil.ignore_patterns("data"))
    small = pq.read_table(llm_run / "data")
    big = pa.concat_tables([small] * (100_000 // small.num_rows + 1)).slice(0, 100_000)
    meta = big.column("_meta").combine_chunks()
    ids = pa.array([f"{i:016x}" for i in range(100_000)])
    fields = {f.name: meta.field(f.name) for f in meta.type}
    fields["id"] = ids
    meta = pa.StructArray.from_arrays(list(fields.values()), list(fields))
    big = big.set_column(big.schema.get_field_index("_meta"), "_meta", meta)
    big = big.set_column(big.schema.get_field_index("question"), "question",
                         pc.binary_join_element_wise(big.column("question"), ids, " "))  # fmt: skip
    (run / "data").mkdir()
    pq.write_table(big, run / "data" / "train-00000-of-00001.parquet")
    path = build_report(run)
    assert path.stat().st_size < 3_000_000
    html = path.read_text(encoding="utf-8")
    assert "Over all 100,000 published rows." in html and "distinct_2" in html
    data = rows_data(html)
    assert len(data["rows"]) == 300 and data["total"] == 100_000
