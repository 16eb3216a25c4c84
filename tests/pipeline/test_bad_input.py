"""The bad-input table: every fault a user or a hostile tester meets is one line, never a
traceback; a bad config or input is exit 2 and writes nothing at all.

Each case sets up files in a fresh folder and returns the command line; the one test
below runs it through the real CLI entry point and checks the exit code, that stderr
ends with the one `error: ` line holding the expected words, and (for a bad config or
input) that it is the only line and no file in the folder was created or changed. A run
that started before it failed may print progress lines first (off a terminal).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from tests.helpers import run_main

Setup = Callable[[Path, pytest.MonkeyPatch], list[str]]
ROWS = [{"text": f"row number {i} has several words"} for i in range(6)]


@dataclass(frozen=True)
class Case:
    id: str
    setup: Setup
    expect: str  # words the error line must contain
    code: int = 2
    writes_nothing: bool = True  # a bad config or input: nothing created or changed


def jsonl(path: Path, rows: list[dict[str, Any]] = ROWS) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def pipeline(tmp: Path, stages: list[dict[str, Any]], **top: Any) -> list[str]:
    """Write tmp/p.yaml reading tmp/in.jsonl (unless the first stage says otherwise)."""
    if not (tmp / "in.jsonl").exists():
        jsonl(tmp / "in.jsonl")
    config = {"name": "bad", "stages": stages, "output": {"dir": str(tmp / "out")}, **top}
    (tmp / "p.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return ["run", str(tmp / "p.yaml")]


def read(path: str = "in.jsonl", **options: Any) -> dict[str, Any]:
    return {"use": "read", "path": path, **options}


def simple(*more: dict[str, Any], **top: Any) -> Setup:
    """A setup writing read(in.jsonl) + `more` stages."""
    return lambda tmp, mp: pipeline(tmp, [read(str(tmp / "in.jsonl")), *more], **top)


def with_file(name: str, content: bytes | str, *more: dict[str, Any]) -> Setup:
    """A setup whose input is one file with exactly this content."""

    def setup(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
        path = tmp / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return pipeline(tmp, [read(str(path)), *more])

    return setup


def with_sets(*sets: str, stages: tuple[dict[str, Any], ...] = ()) -> Setup:
    def setup(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
        args = pipeline(tmp, [read(str(tmp / "in.jsonl")), {"use": "filter.length"}, *stages])
        return args + [a for s in sets for a in ("--set", s)]

    return setup


def parquet_bytes(tmp: Path, rows: int = 3000) -> bytes:
    texts = [f"{i:05d} " + "abcdefgh " * 4 for i in range(rows)]
    path = tmp / "good.parquet"
    pq.write_table(pa.table({"text": texts}), path, compression="snappy", use_dictionary=False)
    data = path.read_bytes()
    path.unlink()
    return data


def corrupt_page(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    """A Parquet file whose footer is fine and whose data page is garbage."""
    data = bytearray(parquet_bytes(tmp))
    middle = len(data) // 2
    data[middle : middle + 100] = bytes(range(100))
    (tmp / "in.parquet").write_bytes(bytes(data))
    return pipeline(tmp, [read(str(tmp / "in.parquet"))])


def truncated_parquet(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    (tmp / "in.parquet").write_bytes(parquet_bytes(tmp)[:5000])
    return pipeline(tmp, [read(str(tmp / "in.parquet"))])


def garbage_parquet(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    (tmp / "in.parquet").write_bytes(b"PAR1 this is not parquet at all")
    return pipeline(tmp, [read(str(tmp / "in.parquet"))])


def mixed_parquet_jsonl(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    folder = tmp / "data"
    folder.mkdir()
    pq.write_table(pa.table({"text": ["a b c"], "score": [1.5]}), folder / "a.parquet")
    jsonl(folder / "b.jsonl", [{"text": "d e f", "score": "high"}])
    return pipeline(tmp, [read(str(folder))])


def output_is_a_file(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    args = simple()(tmp, mp)
    (tmp / "out").write_text("not a folder")
    return args


def output_parent_is_a_file(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    (tmp / "blocker").write_text("x")
    args = pipeline(tmp, [read(str(tmp / "in.jsonl"))], output={"dir": str(tmp / "blocker/out")})
    return args


def output_is_foreign(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    args = simple()(tmp, mp)
    (tmp / "out").mkdir()
    (tmp / "out" / "thesis.tex").write_text("my work")
    return args


def output_inside_a_run(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    """output.dir under another run's data/: its next publish would delete this run."""
    (tmp / "out").mkdir()
    for name in ("run.json", "config.yaml"):
        (tmp / "out" / name).write_text("{}")
    return pipeline(tmp, [read(str(tmp / "in.jsonl"))], output={"dir": str(tmp / "out/data/x")})


def output_read_only(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    """A read-only file system where one can be mounted, else a folder without write bits."""
    args = simple()(tmp, mp)
    ro = tmp / "ro"
    ro.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(ro)], capture_output=True
    )
    if mounted.returncode == 0:
        mp.setattr(sys.modules[__name__], "_UNMOUNT", [*_UNMOUNT, ro])
    elif os.geteuid() == 0:
        pytest.skip("root ignores permission bits and cannot mount a read-only file system")
    else:
        ro.chmod(0o555)
    cfg = yaml.safe_load((tmp / "p.yaml").read_text())
    cfg["output"]["dir"] = str(ro / "out")
    (tmp / "p.yaml").write_text(yaml.safe_dump(cfg))
    return args


_UNMOUNT: list[Path] = []


def cache_is_a_file(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    (tmp / "cachefile").write_text("x")
    mp.setenv("SYNTHMILL_CACHE_DIR", str(tmp / "cachefile"))
    return pipeline(
        tmp,
        [read(str(tmp / "in.jsonl"), limit=1), {"use": "distill", "prompt_column": "text"}],
        backend={"type": "fake"},
    )


def corrupt_cache(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    cache = tmp / "cache"
    cache.mkdir()
    (cache / "llm-responses.sqlite").write_bytes(b"this is not an SQLite database" * 100)
    mp.setenv("SYNTHMILL_CACHE_DIR", str(cache))
    return pipeline(
        tmp,
        [read(str(tmp / "in.jsonl"), limit=1), {"use": "distill", "prompt_column": "text"}],
        backend={"type": "fake"},
    )


def unset_api_key(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    mp.delenv("SYNTHMILL_TEST_NO_SUCH_KEY", raising=False)
    backend = {
        "type": "openai",
        "model": "m",
        "base_url": "http://127.0.0.1:9/v1",
        "api_key_env": "SYNTHMILL_TEST_NO_SUCH_KEY",
    }
    return pipeline(
        tmp,
        [read(str(tmp / "in.jsonl")), {"use": "distill", "prompt_column": "text"}],
        backend=backend,
    )


def dead_backend(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    backend = {"type": "openai", "model": "m", "base_url": "http://127.0.0.1:9/v1"}
    return pipeline(
        tmp,
        [read(str(tmp / "in.jsonl")), {"use": "distill", "prompt_column": "text"}],
        backend=backend,
    )


def missing_extra(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    mp.setitem(sys.modules, "rensa", None)  # as if rensa were not installed
    return simple({"use": "filter.length", "min_words": 1}, {"use": "dedup.minhash"})(tmp, mp)


def user_function(body: str) -> Setup:
    """A setup whose second stage is a user function with this body (module is unique)."""

    def setup(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
        module = f"user_steps_{abs(hash((str(tmp), body)))}"
        (tmp / f"{module}.py").write_text(f"def step(batch):\n    {body}\n")
        mp.syspath_prepend(str(tmp))
        return simple({"use": "map", "function": f"{module}:step"})(tmp, mp)

    return setup


def another_config(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    args = simple({"use": "filter.length", "min_words": 1})(tmp, mp)
    assert run_main(args) == 0
    return [*args, "--set", "stages.1.min_words=3"]


def input_changed(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    args = simple({"use": "filter.length", "min_words": 1})(tmp, mp)
    assert run_main(args) == 0
    jsonl(tmp / "in.jsonl", [*ROWS, {"text": "one more row appended later"}])
    return args


def damaged(name: str, content: str) -> Setup:
    """A finished run whose `name` in the run dir is then overwritten with junk."""

    def setup(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
        args = simple({"use": "filter.length", "min_words": 1})(tmp, mp)
        assert run_main(args) == 0
        (tmp / "out" / name).write_text(content)
        return args

    return setup


def mix_damaged(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    real = jsonl(tmp / "real.jsonl")
    (tmp / "synth.parquet").write_bytes(parquet_bytes(tmp)[:3000])
    return ["mix", "-r", str(real), "-s", str(tmp / "synth.parquet"), "--out", str(tmp / "out")]


def output_inside_input(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    """A glob that matches the run dir's own files: the resume would read the output."""
    docs = tmp / "docs"
    docs.mkdir()
    jsonl(docs / "a.jsonl")
    args = pipeline(tmp, [read(str(docs / "**"))], output={"dir": str(docs / "out")})
    assert run_main(args) == 0
    return args


def mix_changed(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    real = jsonl(tmp / "real.jsonl")
    args = ["mix", "--real", str(real), "--out", str(tmp / "out")]
    assert run_main(args) == 0
    jsonl(real, ROWS[:2])
    return args


def disk_full(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    """The disk fills while the first shard is written (fsync says ENOSPC once)."""
    args = simple({"use": "filter.length", "min_words": 1})(tmp, mp)
    real_fsync = os.fsync
    calls = {"n": 0}

    def fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == 5:  # config.yaml and run.json (file + folder each) made it
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    mp.setattr(os, "fsync", fsync)
    return args


def tiny_disk(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    """A real full disk: output on a 64 KiB tmpfs, input of about 250 KB of random text."""
    disk = tmp / "tiny"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    mp.setattr(sys.modules[__name__], "_UNMOUNT", [*_UNMOUNT, disk])
    rows = [{"text": os.urandom(40).hex()} for _ in range(3000)]
    jsonl(tmp / "in.jsonl", rows)
    return pipeline(tmp, [read(str(tmp / "in.jsonl"))], output={"dir": str(disk / "out")})


def yaml_syntax(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    (tmp / "p.yaml").write_text("name: [unclosed\nstages: []\n")
    return ["run", str(tmp / "p.yaml")]


def not_a_mapping(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    (tmp / "p.yaml").write_text("- just\n- a list\n")
    return ["run", str(tmp / "p.yaml")]


def config_not_utf8(tmp: Path, mp: pytest.MonkeyPatch) -> list[str]:
    (tmp / "p.yaml").write_bytes(b"name: caf\xe9\n")
    return ["run", str(tmp / "p.yaml")]


CSV_RAGGED = "text,label\nfirst row,a\nsecond row,b,extra\n"
NOT_UTF8 = b'{"text": "fine"}\n{"text": "caf\xe9 latin-1"}\n'

CASES = [
    Case("missing-config", lambda t, m: ["run", str(t / "nope.yaml")], "config file not found"),
    Case("yaml-syntax", yaml_syntax, "p.yaml at line 2: expected ',' or ']'"),
    Case("yaml-not-a-mapping", not_a_mapping, "expected a mapping"),
    Case("config-not-utf8", config_not_utf8, "p.yaml: cannot be read as UTF-8 text"),
    Case("unknown-top-key", simple(seeed=3), "seeed: unknown key; did you mean 'seed'?"),
    Case("wrong-type", simple(seed="x"), "seed: Input should be a valid integer"),
    Case(
        "no-stages",
        lambda t, m: pipeline(t, []),
        "stages: required list of stages is missing or empty",
    ),
    Case(
        "unknown-stage-option",
        simple({"use": "filter.length", "min_chras": 3}),
        "stages.1.min_chras: unknown key; did you mean 'min_chars'?",
    ),
    Case(
        "unknown-stage",
        simple({"use": "filter.lenght"}),
        "stages.1.use: unknown stage 'filter.lenght'; did you mean 'filter.length'?",
    ),
    Case(
        "first-stage-not-a-source",
        lambda t, m: pipeline(t, [{"use": "filter.length"}]),
        "the first stage must be a source",
    ),
    Case(
        "duplicate-stage-names",
        simple({"use": "filter.length", "name": "f"}, {"use": "dedup.exact", "name": "f"}),
        "two stages are named 'f'",
    ),
    Case("missing-input", lambda t, m: pipeline(t, [read("missing.jsonl")]), "no file matches"),
    Case(
        "output-format",
        simple(output={"dir": "out", "format": "xml"}),
        "output.format: Input should be 'parquet' or 'jsonl'",
    ),
    Case("set-bad-index", with_sets("stages.9.n=3"), "stages.9 is not an index of a list of 2"),
    Case("set-no-equals", with_sets("nokey"), "write it as key.path=value"),
    Case("set-bad-yaml", with_sets("x=[1,"), "the value is not valid YAML"),
    Case(
        "set-misspelt-stage",
        with_sets("filter.lenght.min_words=8"),
        "no stage is named 'filter.lenght'; did you mean 'filter.length'?",
    ),
    Case(
        "unused-backend-type",
        simple(backend={"type": "foo"}),
        "backend.type: unknown backend 'foo'",
    ),
    Case(
        "unused-backend-option",
        simple(backend={"type": "fake", "replys": ["x"]}),
        "backend.replys: unknown key; did you mean 'replies'?",
    ),
    Case("broken-jsonl-line", with_file("in.jsonl", '{"text": "ok"}\n{oops}\n'), "in.jsonl:2:"),
    Case("jsonl-not-an-object", with_file("in.jsonl", '{"text": "ok"}\n[1, 2]\n'), "in.jsonl:2:"),
    Case("jsonl-not-utf8", with_file("in.jsonl", NOT_UTF8), "in.jsonl:2: not UTF-8 text"),
    Case(
        "text-not-utf8",
        with_file("in.txt", b"line one\nline two \xff\xfe\n"),
        "in.txt:2: not UTF-8 text (byte 0xff at column 10)",
    ),
    Case(
        "csv-ragged", with_file("in.csv", CSV_RAGGED), "in.csv:3: 3 fields where the header has 2"
    ),
    Case("csv-duplicate-header", with_file("in.csv", "a,a\n1,2\n"), "names column 'a' twice"),
    Case("csv-not-utf8", with_file("in.csv", b"text\nna\xefve\n"), "in.csv:2: not UTF-8 text"),
    Case(
        "mixed-column-types",
        with_file("in.jsonl", '{"n": 1}\n{"n": 2}\n{"n": "three"}\n'),
        "column 'n' holds text here but number",
    ),
    Case("mixed-types-across-files", mixed_parquet_jsonl, "column 'score' holds text"),
    Case(
        "mixed-types-nested",
        with_file("in.jsonl", '{"m": {"a": [1, 2]}}\n{"m": {"a": ["x"]}}\n'),
        "in.jsonl row 2: column 'm.a[]' holds text here but number",
    ),
    Case(
        "mixed-boolean-number",
        with_file("in.jsonl", '{"ok": true}\n{"ok": 1}\n'),
        "column 'ok' holds number here but boolean",
    ),
    Case(
        "integer-too-large",
        with_file("in.jsonl", '{"id": 123456789012345678901234567890}\n'),
        "column 'id' holds an integer too large for 64 bits",
    ),
    Case("parquet-garbage", garbage_parquet, "not a readable Parquet file"),
    Case("parquet-truncated", truncated_parquet, "not a readable Parquet file"),
    Case("parquet-damaged-page", corrupt_page, "not a readable Parquet file"),
    Case("unknown-extension", with_file("in.xyz", "x"), "set format: to one of"),
    Case("output-is-a-file", output_is_a_file, "is a file, not a folder"),
    Case("output-parent-is-a-file", output_parent_is_a_file, "is a file, not a folder"),
    Case("output-not-a-run", output_is_foreign, "is not empty and holds no synthmill run"),
    Case("output-inside-a-run", output_inside_a_run, "lies inside the run directory"),
    Case("output-read-only", output_read_only, "not writable"),
    Case("cache-dir-is-a-file", cache_is_a_file, "is a file, not a folder"),
    Case("cache-db-corrupt", corrupt_cache, "response cache"),
    Case("api-key-env-unset", unset_api_key, "SYNTHMILL_TEST_NO_SUCH_KEY is not set"),
    Case("missing-extra", missing_extra, "pip install 'synthmill[curate]'"),
    Case(
        "map-not-importable",
        simple({"use": "map", "function": "nope_module:fn"}),
        "stages.1.function: cannot import 'nope_module'",
    ),
    Case(
        "misspelt-column",
        simple({"use": "dedup.exact", "columns": ["txet"]}),
        "reads column 'txet'",
    ),
    Case("another-config", another_config, "stages.1.min_words differs"),
    Case("input-changed", input_changed, "changed (content differs)"),
    Case(
        "map-raises",
        user_function("return [r.data['missing'] for r in batch]"),
        "stage 'step' failed on shard 0: KeyError: 'missing'",
        code=1,
        writes_nothing=False,
    ),
    Case(
        "map-returns-junk",
        user_function("return 42"),
        "stage 'step' failed on shard 0: TypeError",
        code=1,
        writes_nothing=False,
    ),
    Case("disk-full", disk_full, "the disk is full", code=1, writes_nothing=False),
    Case("disk-full-tmpfs", tiny_disk, "the disk is full", code=1, writes_nothing=False),
    Case("run-json-damaged", damaged("run.json", '{"status": "runn'), "run.json is damaged"),
    Case("run-config-damaged", damaged("config.yaml", "stages: [\n"), "config.yaml is damaged"),
    Case(
        "mix-missing-input",
        lambda t, m: ["mix", "--real", str(t / "nope.jsonl"), "--out", str(t / "out")],
        "no file matches",
    ),
    Case("mix-input-changed", mix_changed, "real.jsonl changed (content differs)"),
    Case("mix-damaged-input", mix_damaged, "not a readable Parquet file"),
    Case("output-inside-input", output_inside_input, "so the run would read its own output"),
    Case("dead-backend", dead_backend, "unreachable at http://127.0.0.1:9/v1"),
    Case(
        "every-row-rejected",
        simple({"use": "filter.length", "min_words": 99}),
        "every row was rejected by 'filter.length'",
        code=1,
        writes_nothing=False,
    ),
]


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under root with its size and mtime (bytecode caches aside)."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if "__pycache__" not in p.parts and not p.is_mount() and p.parent.exists()
    }


@pytest.fixture(autouse=True)
def _unmount() -> Any:
    yield
    while _UNMOUNT:
        subprocess.run(["umount", str(_UNMOUNT.pop())], capture_output=True)


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 30 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    args = case.setup(tmp_path, monkeypatch)
    before = snapshot(tmp_path)
    capsys.readouterr()
    code = run_main(args)
    err = capsys.readouterr().err
    assert code == case.code, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert lines and lines[-1].startswith("error: ") and case.expect in lines[-1], err
    assert sum(line.startswith("error") for line in lines) == 1, err
    if case.writes_nothing:
        assert len(lines) == 1, err  # refused before the run: the error line alone
    else:  # a run that started may have printed progress lines (off a terminal) before
        assert all(line.startswith("[") for line in lines[:-1]), err
    if case.writes_nothing:
        assert snapshot(tmp_path) == before, "a bad config or input must write nothing"
    elif case.code == 1:  # a run that started and stopped says so in run.json
        (run,) = [p for p in tmp_path.rglob("run.json") if p.parent.name == "out"]
        assert json.loads(run.read_text())["status"] == "failed"
    shutil.rmtree(tmp_path / "out", ignore_errors=True)
