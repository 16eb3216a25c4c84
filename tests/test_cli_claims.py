"""README claims that had no test (issue 19): the `stages` listing, `run.json`, export
`--no-context`/`--ids` and column flags, dedup `--method`/`--shingle`, decontaminate
`--benchmark-file`, measure `--sample`, and a stage's `unsafe_no_sandbox: true`."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml

from synthmill import Pipeline
from synthmill.errors import RunFailedError
from tests.export.runs import read_run
from tests.helpers import cli


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# ---- synthmill stages ---------------------------------------------------------------------
def test_stages_lists_every_registered_stage_with_its_options() -> None:
    done = cli("stages")
    assert done.returncode == 0, done.stderr
    registered = {ep.name for ep in metadata.entry_points(group="synthmill.stages")}
    assert len(registered) > 30
    listed = {line.split("│")[1].strip() for line in done.stdout.splitlines() if "│" in line}
    assert registered <= listed, registered - listed
    row = next(line for line in done.stdout.splitlines() if "│ dedup.minhash " in line)
    for option in ("threshold", "shingle", "shingle_size", "num_perm", "confirm"):
        assert option in row


def test_stages_name_shows_options_defaults_and_help() -> None:
    done = cli("stages", "dedup.minhash")
    assert done.returncode == 0, done.stderr
    assert "near-duplicate" in done.stdout.lower() or "near-duplicates" in done.stdout.lower()
    line = next(line for line in done.stdout.splitlines() if "│ threshold " in line)
    assert "0.8" in line and "Jaccard" in line
    unknown = cli("stages", "dedup.minhahs")
    assert unknown.returncode == 2 and "dedup.minhash" in unknown.stderr


# ---- run.json -----------------------------------------------------------------------------
def test_run_json_holds_versions_seed_fingerprint_inputs_and_every_attempt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": f"row {i}"} for i in range(6)])
    config = {
        "name": "runjson",
        "seed": 9,
        "shard_size": 2,
        "stages": [
            {"use": "read", "path": str(src)},
            {"use": "map", "function": "tests.pipeline.shard_steps:fail_at"},
        ],
        "output": {"dir": str(tmp_path / "out")},
    }
    monkeypatch.setenv("SYNTHMILL_TEST_FAIL_AT", "fail_at@1")
    with pytest.raises(RunFailedError, match="planted failure"):
        Pipeline.from_config(config).run()
    monkeypatch.delenv("SYNTHMILL_TEST_FAIL_AT")
    Pipeline.from_config(config).run()
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["seed"] == 9 and run["status"] == "finished"
    assert len(run["fingerprint"]) == 32 and int(run["fingerprint"], 16) >= 0
    first, second = run["attempts"]
    assert "planted failure in fail_at on shard 1" in first["error"] and first["failed"]
    assert second["finished"] and "error" not in second
    for attempt in (first, second):
        versions = attempt["versions"]
        assert versions["synthmill"] == metadata.version("synthmill")
        assert versions["pyarrow"] == metadata.version("pyarrow")
        assert versions["python"] == sys.version.split()[0]
    # the data file and the `map` function's source file are both fingerprinted
    assert sorted(Path(k).name for k in run["inputs"]) == ["in.jsonl", "shard_steps.py"]
    (fp,) = [v for k, v in run["inputs"].items() if Path(k).name == "in.jsonl"]
    assert fp["size"] == src.stat().st_size
    assert fp["sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    saved = yaml.safe_load((tmp_path / "out" / "config.yaml").read_text())
    assert saved["seed"] == 9 and saved["stages"][0]["path"] == str(src)
    # a speed-only option does not change the fingerprint: the run dir is accepted as is
    faster = {**config, "stages": [config["stages"][0], {**config["stages"][1], "batch_size": 7}]}
    Pipeline.from_config(faster).run()
    again = json.loads((tmp_path / "out" / "run.json").read_text())
    assert again["fingerprint"] == run["fingerprint"] and len(again["attempts"]) == 3


# ---- export -------------------------------------------------------------------------------
QA = [
    {"question": f"What do bees make {i}?", "answer": "honey", "context": f"Bees make honey {i}."}
    for i in range(3)
]


def test_export_no_context_and_ids(tmp_path: Path) -> None:
    root = read_run(tmp_path, QA)
    with_context = cli("export", str(root), "-o", str(tmp_path / "a.jsonl"))
    assert with_context.returncode == 0, with_context.stderr
    bare = cli("export", str(root), "-o", str(tmp_path / "b.jsonl"), "--no-context", "--ids")
    assert bare.returncode == 0, bare.stderr
    a, b = jsonl(tmp_path / "a.jsonl"), jsonl(tmp_path / "b.jsonl")
    for row, full, short in zip(QA, a, b, strict=True):
        user = next(m["content"] for m in full["messages"] if m["role"] == "user")
        assert row["context"] in user and row["question"] in user
        bare_user = next(m["content"] for m in short["messages"] if m["role"] == "user")
        assert bare_user == row["question"]
        assert "id" not in full
    published = [json.loads(r)["_meta"]["id"] if isinstance(r, str) else r["_meta"]["id"]
                 for r in _published(root)]  # fmt: skip
    assert [r["id"] for r in b] == published


def _published(root: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    return [
        r for f in sorted((root / "data").glob("*.parquet")) for r in pq.read_table(f).to_pylist()
    ]


def test_export_column_flags_input_messages_and_rejected(tmp_path: Path) -> None:
    rows = [
        {"ask": "Add the numbers.", "nums": "2 and 3", "reply": "5", "worse": "6",
         "chat": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    ]  # fmt: skip
    root = read_run(tmp_path, rows)
    alpaca = cli("export", str(root), "-f", "alpaca", "-o", str(tmp_path / "al.jsonl"),
                 "--prompt", "ask", "--response", "reply", "--input", "nums")  # fmt: skip
    assert alpaca.returncode == 0, alpaca.stderr
    assert jsonl(tmp_path / "al.jsonl") == [
        {"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"}
    ]
    chat = cli("export", str(root), "-f", "messages", "-o", str(tmp_path / "m.jsonl"),
               "--messages", "chat")  # fmt: skip
    assert chat.returncode == 0, chat.stderr
    assert jsonl(tmp_path / "m.jsonl")[0]["messages"] == rows[0]["chat"]
    dpo = cli("export", str(root), "-f", "dpo", "-o", str(tmp_path / "d.jsonl"),
              "--prompt", "ask", "--chosen", "reply", "--rejected", "worse")  # fmt: skip
    assert dpo.returncode == 0, dpo.stderr
    pair = jsonl(tmp_path / "d.jsonl")[0]
    assert "5" in json.dumps(pair["chosen"]) and "6" in json.dumps(pair["rejected"])
    assert "6" not in json.dumps(pair["chosen"])


# ---- dedup --method / --shingle -----------------------------------------------------------
TEXT = (
    "the old lighthouse keeper climbed the narrow stairs every evening to light the great "
    "lamp that guided ships past the rocky coast"
)
TYPOS = (  # one letter changed in every fifth word: word 5-gram Jaccard 0, char 5-gram 0.72
    "the old lighthouse keepex climbed the narrow stairs everx evening to light the greax "
    "lamp that guided ships pasx the rocky coast"
)
NEAR = [{"text": TEXT}, {"text": TEXT}, {"text": TYPOS}, {"text": "volcanoes erupt at night"}]


@pytest.mark.parametrize(
    ("flags", "removed"),
    [
        (["--method", "exact"], {1}),  # only the identical copy
        (["--method", "minhash", "--threshold", "0.5"], {1}),  # word shingles: typos break all
        (["--method", "minhash", "--threshold", "0.5", "--shingle", "char"], {1, 2}),
        (["--method", "minhash", "--threshold", "0.9", "--shingle", "char"], {1}),
    ],
)
def test_dedup_method_and_shingle(tmp_path: Path, flags: list[str], removed: set[int]) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", [{**r, "i": i} for i, r in enumerate(NEAR)])
    done = cli("dedup", str(src), "--out", str(tmp_path / "out.jsonl"), *flags)
    assert done.returncode == 0, done.stderr
    kept = {r["i"] for r in jsonl(tmp_path / "out.jsonl")}
    assert kept == set(range(4)) - removed
    rejects = jsonl(tmp_path / "out.rejects.jsonl")
    assert {d["row"]["i"] for d in rejects} == removed
    first = json.loads((tmp_path / "out.jsonl").read_text().splitlines()[0])["_meta"]["id"]
    assert all(d["raw"]["duplicate_of"] == first for d in rejects)


@pytest.mark.slow
def test_dedup_method_semantic(tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    rows = [
        {"text": "How do I reset my password?"},
        {"text": "How can I reset my password?"},
        {"text": "Volcanoes erupt when magma rises through the crust."},
    ]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    done = cli("dedup", str(src), "--out", str(tmp_path / "o.jsonl"), "--method", "semantic",
               "--threshold", "0.9")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [r["text"] for r in jsonl(tmp_path / "o.jsonl")] == [rows[0]["text"], rows[2]["text"]]


# ---- decontaminate --benchmark-file, measure --sample ---------------------------------------
def test_decontaminate_with_a_benchmark_file(tmp_path: Path) -> None:
    item = (
        "A train leaves the station at nine in the morning travelling at sixty miles an hour "
        "towards a city that lies one hundred and eighty miles away, when does it arrive"
    )
    bench = write_jsonl(tmp_path / "test.jsonl", [{"id": "q7", "question": item}])
    rows = [{"text": f"Solve this: {item}? Show your work."}, {"text": "Write a poem about rain."}]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    done = cli("decontaminate", str(src), "--out", str(tmp_path / "c.jsonl"),
               "--benchmark-file", str(bench), "--benchmark-column", "question",
               "--benchmark-id", "id")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert [r["text"] for r in jsonl(tmp_path / "c.jsonl")] == [rows[1]["text"]]
    (reject,) = jsonl(tmp_path / "c.rejects.jsonl")
    assert "q7" in json.dumps(reject["raw"]) and "test" in json.dumps(reject["raw"])


def test_measure_sample_bounds_self_bleu(tmp_path: Path) -> None:
    rows = [{"text": f"row number {i} says something about topic {i % 7}"} for i in range(60)]
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    outs = []
    for sample in ("5", "50"):
        done = cli(
            "measure", str(src), "--out", str(tmp_path / f"m{sample}.json"), "--sample", sample
        )
        assert done.returncode == 0, done.stderr
        outs.append(json.loads((tmp_path / f"m{sample}.json").read_text()))
    assert outs[0]["distinct_1"] == outs[1]["distinct_1"]  # the other metrics use every row
    assert outs[0]["self_bleu"] != outs[1]["self_bleu"]


# ---- unsafe_no_sandbox on the stage -------------------------------------------------------
def test_unsafe_no_sandbox_as_a_stage_option(tmp_path: Path) -> None:
    """Without bwrap on PATH, `verify.code` refuses (exit 2) unless the stage opts out."""

    def config(out: str, unsafe: bool) -> Path:
        stages = [
            {"use": "problems", "n": 3, "families": ["code.function"], "difficulties": [1, 2]},
            {"use": "verify.code", "solution_column": "answer", "unsafe_no_sandbox": unsafe},
        ]
        cfg = {"name": "u", "stages": stages, "output": {"dir": str(tmp_path / out)}}
        path = tmp_path / f"{out}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        return path

    no_bwrap = {"PATH": str(tmp_path)}  # an empty folder: no bwrap, no python3
    refused = cli("run", str(config("refused", False)), **no_bwrap)
    assert refused.returncode == 2
    assert "bubblewrap" in refused.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "refused" / "data").exists()
    allowed = cli("run", str(config("allowed", True)), **no_bwrap)
    assert allowed.returncode == 0, allowed.stderr
    rows = _published(tmp_path / "allowed")
    assert len(rows) == 3
    verdicts = [json.loads(r["_meta"]["verdicts"])["verify.code"] for r in rows]
    assert all(v["ok"] for v in verdicts)


# ---- decontaminate --semantic-threshold / --semantic-top-k ----------------------------------
@pytest.mark.slow
def test_semantic_threshold_and_top_k(tmp_path: Path) -> None:
    """A rephrased benchmark item is caught at a low threshold and let through at 0.99."""
    pytest.importorskip("sentence_transformers")
    item = ("Write a function that returns the greatest common divisor of two positive "
            "integers a and b, for example 3 for 12 and 15.")  # fmt: skip
    rephrased = "Implement a function giving the largest common divisor of positive ints a, b."
    items = [{"id": "gcd", "question": item}, {"id": "other", "question": "Sort a list."}]
    bench = write_jsonl(tmp_path / "b.jsonl", items)
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": rephrased}, {"text": "Bake bread."}])
    base = ["decontaminate", str(src), "--benchmark-file", str(bench),
            "--benchmark-column", "question", "--benchmark-id", "id", "--semantic"]  # fmt: skip
    strict = cli(*base, "-o", str(tmp_path / "s.jsonl"), "--semantic-threshold", "0.99")
    assert strict.returncode == 0, strict.stderr
    assert len(jsonl(tmp_path / "s.jsonl")) == 2
    loose = cli(*base, "-o", str(tmp_path / "l.jsonl"), "--semantic-threshold", "0.5",
                "--semantic-top-k", "2")  # fmt: skip
    assert loose.returncode == 0, loose.stderr
    assert [r["text"] for r in jsonl(tmp_path / "l.jsonl")] == ["Bake bread."]
    (reject,) = jsonl(tmp_path / "l.rejects.jsonl")
    assert reject["raw"]["pass"] == "semantic" and reject["raw"]["item"] == "gcd"


# ---- collapse run --real-fraction / --verify-oversample -------------------------------------
def test_collapse_real_fraction_and_verify_oversample(tmp_path: Path) -> None:
    base = ["collapse", "run", "-f", "gaussian", "-g", "2", "-s", "1", "-n", "20", "--no-plots"]
    done = cli(*base, "-p", "keep-real", "--real-fraction", "0.5", "-o", "kr", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "kr" / "collapse.json").read_text())
    assert result["config"]["real_fraction"] == 0.5
    shares = [r["real_share"] for r in result["families"]["gaussian"]["runs"]]
    assert shares == [1.0, 0.5, 0.5]  # generation 0 is all real; then half of n=20
    runs = {}
    for k in ("2", "8"):
        done = cli(*base, "-p", "verified", "--verify-oversample", k, "-o", f"v{k}", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        result = json.loads((tmp_path / f"v{k}" / "collapse.json").read_text())
        assert result["config"]["verify_oversample"] == int(k)
        runs[k] = result["families"]["gaussian"]["runs"]
    assert runs["2"][0] == runs["8"][0]  # generation 0 fits the same real data
    assert runs["2"][1:] != runs["8"][1:]  # more candidates per kept row: other samples


# ---- report --rows ----------------------------------------------------------------------------
def test_report_rows_sets_the_browser_sample(tmp_path: Path) -> None:
    from tests.report.test_report import rows_data

    root = read_run(tmp_path, [{"text": f"row {i}"} for i in range(12)])
    for rows, shown in (("5", 5), ("300", 12)):
        out = tmp_path / f"r{rows}.html"
        done = cli("report", str(root), "-o", str(out), "--rows", rows)
        assert done.returncode == 0, done.stderr
        data = rows_data(out.read_text(encoding="utf-8"))
        assert len(data["rows"]) == shown and data["total"] == 12


# ---- shell completion (what `synthmill --install-completion` installs) -----------------------
def test_shell_completion_completes_commands_and_options() -> None:
    exe = str(Path(sys.executable).with_name("synthmill"))

    def complete(words: str) -> list[str]:
        env = {**os.environ, "_SYNTHMILL_COMPLETE": "complete_bash", "COMP_WORDS": words}
        env["COMP_CWORD"] = str(len(words.split()) - 1)
        done = subprocess.run([exe], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert complete("synthmill de") == ["dedup", "decontaminate"]
    assert complete("synthmill dedup --shi") == ["--shingle", "--shingle-size"]


# ---- batch export --dialect -----------------------------------------------------------------
def test_batch_export_dialect_sets_the_response_format(tmp_path: Path) -> None:
    config = {
        "name": "b",
        "seed": 1,
        "backend": {"type": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m"},
        "stages": [
            {"use": "range", "n": 2},
            {"use": "generate", "prompt": "Fact {{ index }}.", "schema": {"fact": "str"}},
        ],
        "output": {"dir": str(tmp_path / "out")},
    }
    cfg = tmp_path / "b.yaml"
    cfg.write_text(yaml.safe_dump(config))
    kinds = {}
    for dialect in ("json_schema", "json_object"):
        out = tmp_path / f"{dialect}.jsonl"
        done = cli("batch", "export", str(cfg), "-o", str(out), "--dialect", dialect)
        assert done.returncode == 0, done.stderr
        lines = jsonl(out)
        assert len(lines) == 2
        kinds[dialect] = {line["body"]["response_format"]["type"] for line in lines}
        schemas = [line["body"]["response_format"] for line in lines]
        assert all("fact" in json.dumps(s) for s in schemas)
    assert kinds == {"json_schema": {"json_schema"}, "json_object": {"json_object"}}
