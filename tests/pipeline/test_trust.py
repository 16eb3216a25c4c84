"""Issue 9: no run ends "successfully" with wrong or missing data (run dir, config, CLI).

One test (or a few) per item: the lock before --overwrite, input fingerprints, failed
status and --debug, umask modes, atomic publish, quiet cases, the pipeline backend in
Python, speed-only options, and optional extras checked when the pipeline is built.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

from synthmill import Output, Pipeline
from synthmill.errors import MissingExtraError, RunDirError
from synthmill.io.atomic import atomic_path
from synthmill.pipeline import publish as publish_mod
from synthmill.pipeline import rundir as rundir_mod
from synthmill.pipeline.rundir import fingerprint, first_difference, row_deciding
from synthmill.sources.read import Read
from tests.conftest import REPO

CLI = [sys.executable, "-m", "synthmill"]


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), **extra}


def slow_config(tmp: Path, out: str = "out", min_words: int = 1, n: int = 40) -> Path:
    """A run of a few seconds (0.4 s per batch of 5) so that a second process meets it."""
    config = {
        "name": "slow",
        "seed": 3,
        "shard_size": 10,
        "stages": [
            {"use": "range", "n": n},
            {"use": "map", "function": "tests.pipeline.steps:make_text"},
            {"use": "filter.length", "min_words": min_words},
            {"use": "map", "function": "tests.pipeline.steps:slow", "batch_size": 5},
        ],
        "output": {"dir": str(tmp / out)},
    }
    path = tmp / f"{out}-{min_words}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _default_sigint() -> None:
    # A shell without job control starts background commands (`cmd &`, nohup) with SIGINT
    # ignored, and the child inherits that: Python then never raises KeyboardInterrupt.
    # A user's terminal delivers Ctrl-C, so the run under test gets the default disposition.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(cfg: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "run", str(cfg), *args],
        env=env(SYNTHMILL_TEST_SLEEP="0.4"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )


def wait_running(run_dir: Path, proc: subprocess.Popen[str]) -> None:
    while proc.poll() is None:
        run = run_dir / "run.json"
        if run.exists() and json.loads(run.read_text()).get("status") == "running":
            return
        time.sleep(0.02)
    raise AssertionError(f"the first run ended early: {proc.communicate()}")


def signalled(cfg: Path, run_dir: Path, sig: signal.Signals) -> tuple[int, str]:
    """Start a run, send it `sig` once it is running; its exit code and stderr."""
    proc = start(cfg)
    wait_running(run_dir, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def data_rows(run_dir: Path) -> list[dict[str, Any]]:
    files = sorted((run_dir / "data").glob("*.parquet"))
    return [r for f in files for r in pq.read_table(f).to_pylist()]


# ---- item 1: the lock comes before --overwrite deletes anything ----------------------------
@pytest.mark.slow
def test_overwrite_while_a_run_is_live_is_refused_and_deletes_nothing(tmp_path: Path) -> None:
    first = start(slow_config(tmp_path, min_words=1))
    wait_running(tmp_path / "out", first)
    second = start(slow_config(tmp_path, min_words=3), "--overwrite")
    _, err = second.communicate(timeout=120)
    assert second.returncode == 2, err
    assert err.strip().splitlines() == [err.strip()] and "another run holds the lock" in err
    _, err1 = first.communicate(timeout=120)
    assert first.returncode == 0, err1
    config = yaml.safe_load((tmp_path / "out" / "config.yaml").read_text())
    assert config["stages"][2]["min_words"] == 1, "the live run's directory was replaced"
    clean = subprocess.run(
        [*CLI, "run", str(slow_config(tmp_path, out="clean"))],
        env=env(SYNTHMILL_TEST_SLEEP="0"),
        capture_output=True,
    )
    assert clean.returncode == 0
    assert data_rows(tmp_path / "out") == data_rows(tmp_path / "clean")


@pytest.mark.slow
def test_two_runs_started_together_one_runs_one_is_told_about_the_lock(tmp_path: Path) -> None:
    for trial in range(3):
        cfg = slow_config(tmp_path, out=f"out{trial}", n=20)
        procs = [start(cfg, *(["--overwrite"] if trial == 2 else [])) for _ in range(2)]
        results = [(p.wait(timeout=120), p.communicate()[1]) for p in procs]
        codes = sorted(code for code, _ in results)
        assert codes == [0, 2], results
        loser = next(err for code, err in results if code == 2)
        assert loser.strip().startswith("error: another run holds the lock"), loser
        assert len(loser.strip().splitlines()) == 1


def test_lock_is_checked_before_a_half_cleared_dir_looks_foreign(tmp_path: Path) -> None:
    """A live --overwrite run between its lock and its config: the lock is named."""
    run_dir = tmp_path / "out"
    holder = rundir_mod.RunDir(run_dir)
    holder.prepare({"stages": [], "output": {}}, 0, overwrite=False)
    (run_dir / "config.yaml").unlink()  # as if --overwrite were clearing it right now
    try:
        with pytest.raises(RunDirError, match="another run holds the lock"):
            rundir_mod.RunDir(run_dir).prepare({"stages": [], "output": {}}, 0, overwrite=True)
    finally:
        holder.unlock()
    assert (run_dir / "run.json").exists(), "the refused run deleted files"


# ---- item 5: input fingerprints ------------------------------------------------------------
def read_pipeline(tmp: Path, data: Path) -> Pipeline:
    return Pipeline(name="fp", stages=[Read(path=str(data))], output=Output(dir=tmp / "out"))


def write_rows(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps({"text": f"row {i}"}) + "\n" for i in range(n)))
    return path


def test_run_json_fingerprints_every_input_file(tmp_path: Path) -> None:
    data = write_rows(tmp_path / "in.jsonl", 5)
    read_pipeline(tmp_path, data).run()
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    (key, fp), *_ = run["inputs"].items()
    assert key == str(data.resolve()) and len(run["inputs"]) == 1
    assert fp["size"] == data.stat().st_size and fp["mtime_ns"] == data.stat().st_mtime_ns
    import hashlib

    assert fp["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()


def test_changed_input_is_refused_on_resume_unless_overwrite(tmp_path: Path) -> None:
    data = write_rows(tmp_path / "in.jsonl", 5)
    read_pipeline(tmp_path, data).run()
    os.utime(data, ns=(1, 1))  # touched, same content: still the same input
    assert read_pipeline(tmp_path, data).run().rows == 5
    write_rows(data, 8)
    with pytest.raises(RunDirError, match=r"in\.jsonl changed \(content differs\)") as exc:
        read_pipeline(tmp_path, data).run()
    assert "--overwrite" in str(exc.value) and "\n" not in str(exc.value)
    assert len(data_rows(tmp_path / "out")) == 5, "the refused run changed the data"
    assert read_pipeline(tmp_path, data).run(overwrite=True).rows == 8


def test_a_new_or_removed_input_file_is_a_change(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    write_rows(folder / "a.jsonl", 2)
    read_pipeline(tmp_path, folder).run()
    write_rows(folder / "b.jsonl", 2)
    with pytest.raises(RunDirError, match=r"b\.jsonl is new"):
        read_pipeline(tmp_path, folder).run()
    (folder / "b.jsonl").unlink()
    (folder / "a.jsonl").rename(folder / "c.jsonl")
    with pytest.raises(RunDirError, match=r"a\.jsonl is gone"):
        read_pipeline(tmp_path, folder).run()


def test_a_large_input_is_compared_by_size_and_mtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rundir_mod, "HASH_LIMIT", 10)  # every file counts as "large"
    data = write_rows(tmp_path / "in.jsonl", 5)
    read_pipeline(tmp_path, data).run()
    assert (
        next(iter(json.loads((tmp_path / "out/run.json").read_text())["inputs"].values()))["sha256"]
        is None
    )
    os.utime(data, ns=(1, 1))
    with pytest.raises(RunDirError, match="size or modification time differs"):
        read_pipeline(tmp_path, data).run()


def test_input_changed_after_a_failed_run_is_refused(tmp_path: Path) -> None:
    """The kill/resume case: a run stops part-way, the input changes, the resume refuses."""
    data = write_rows(tmp_path / "in.jsonl", 30)
    cfg = {
        "name": "half",
        "shard_size": 10,
        "stages": [
            {"use": "read", "path": str(data)},
            {"use": "map", "function": "tests.pipeline.steps:fail_on_shard"},
        ],
        "output": {"dir": str(tmp_path / "out")},
    }
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(cfg))
    cmd = [*CLI, "run", str(tmp_path / "p.yaml")]
    failed = subprocess.run(cmd, env=env(SYNTHMILL_TEST_FAIL_SHARD="2"), capture_output=True)
    assert failed.returncode == 1
    assert len(list((tmp_path / "out" / "work").glob("seg-00/*.done.json"))) == 2
    write_rows(data, 31)  # 20 old rows are done; resuming would mix in the new file
    again = subprocess.run(cmd, env=env(), capture_output=True, text=True)
    assert again.returncode == 2
    assert again.stderr.strip().splitlines() == [again.stderr.strip()]
    assert "changed (content differs)" in again.stderr
    assert not (tmp_path / "out" / "data").exists()


def test_a_folder_read_whole_skips_the_run_dir_inside_it(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    write_rows(docs / "a.jsonl", 4)
    p = Pipeline(stages=[Read(path=str(docs))], output=Output(dir=docs / "out"))
    assert p.run().rows == 4
    assert p.run().rows == 4  # the resume neither reads its own output nor sees a new input
    inputs = json.loads((docs / "out" / "run.json").read_text())["inputs"]
    assert list(inputs) == [str((docs / "a.jsonl").resolve())]
    again = Pipeline(stages=[Read(path=str(docs / "out"))], output=Output(dir=tmp_path / "o2"))
    assert again.run().rows == 4  # a run dir read as input means its data/


def test_a_changed_benchmark_or_seed_file_is_a_changed_input(tmp_path: Path) -> None:
    from synthmill.curate.decontaminate import Decontaminate
    from synthmill.recipes.self_instruct import SelfInstruct

    bench = write_rows(tmp_path / "bench.jsonl", 2)
    data = write_rows(tmp_path / "in.jsonl", 4)
    spec = {"name": "mine", "path": str(bench), "columns": ["text"]}
    decont = Decontaminate(benchmarks=[spec], n=2)
    p = Pipeline(stages=[Read(path=str(data)), decont], output=Output(dir=tmp_path / "out"))
    p.run()
    inputs = json.loads((tmp_path / "out" / "run.json").read_text())["inputs"]
    assert str(bench.resolve()) in inputs
    write_rows(bench, 3)
    with pytest.raises(RunDirError, match=r"bench\.jsonl changed"):
        p.run()
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(json.dumps({"instruction": "Say hi.", "input": "", "output": "Hi."}) + "\n")
    assert SelfInstruct(n=1, seed_tasks=str(seeds)).input_files() == [seeds]
    assert SelfInstruct(n=1).input_files() == []


def test_input_changed_while_the_run_goes_is_not_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from synthmill.errors import RunFailedError
    from synthmill.pipeline.function import FunctionStage
    from tests.pipeline import steps

    data = write_rows(tmp_path / "in.jsonl", 5)
    monkeypatch.setenv("SYNTHMILL_TEST_TAMPER", str(data))
    p = Pipeline(
        stages=[Read(path=str(data)), FunctionStage(function=steps.tamper)],
        output=Output(dir=tmp_path / "out"),
    )
    with pytest.raises(
        RunFailedError, match=r"in\.jsonl changed \(content differs\) while the run"
    ):
        p.run()
    assert not (tmp_path / "out" / "data").exists()
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["status"] == "failed"


# ---- item 7: --debug keeps the traceback; failed status --------------------------------------
def test_debug_keeps_the_traceback_and_the_run_is_marked_failed(tmp_path: Path) -> None:
    (tmp_path / "boom_steps.py").write_text("def step(batch):\n    raise KeyError('gone')\n")
    write_rows(tmp_path / "in.jsonl", 3)
    cfg = {
        "stages": [
            {"use": "read", "path": "in.jsonl"},
            {"use": "map", "function": "boom_steps:step"},
        ],
        "output": {"dir": "out"},
    }
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(cfg))
    plain = subprocess.run(
        [*CLI, "run", "p.yaml"], cwd=tmp_path, env=env(), capture_output=True, text=True
    )
    assert plain.returncode == 1 and "Traceback" not in plain.stderr
    assert plain.stderr.strip().splitlines()[-1] == (
        "error: stage 'step' failed on shard 0: KeyError: 'gone'; fix it and run the same "
        "command to resume (--debug shows the traceback)"
    )
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["status"] == "failed" and "KeyError" in run["attempts"][-1]["error"]
    debug = subprocess.run(
        [*CLI, "--debug", "run", "p.yaml"], cwd=tmp_path, env=env(), capture_output=True, text=True
    )
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr and "KeyError: 'gone'" in debug.stderr


@pytest.mark.slow
def test_sigterm_and_kill_leave_an_honest_status(tmp_path: Path) -> None:
    cfg = slow_config(tmp_path)
    code, err = signalled(cfg, tmp_path / "out", signal.SIGTERM)
    assert code == 143
    assert err.strip().splitlines()[-1] == (
        "error: terminated (SIGTERM); run the same command again to resume"
    )
    assert "Traceback" not in err
    assert json.loads((tmp_path / "out" / "run.json").read_text())["status"] == "interrupted"
    proc = start(cfg)
    wait_running(tmp_path / "out", proc)
    proc.kill()
    proc.wait()
    shown = subprocess.run(
        [*CLI, "inspect", str(tmp_path / "out"), "--json"], env=env(), capture_output=True
    )
    assert json.loads(shown.stdout)["status"] == "interrupted"
    assert "killed" in json.loads(shown.stdout)["error"]


@pytest.mark.slow
def test_ctrl_c_says_so_in_one_line_and_no_stage_claims_done(tmp_path: Path) -> None:
    code, err = signalled(slow_config(tmp_path), tmp_path / "out", signal.SIGINT)
    assert code == 130, err
    lines = err.strip().splitlines()
    assert lines[-1] == "error: interrupted (Ctrl-C); run the same command again to resume"
    assert "Traceback" not in err and not any(" done " in line for line in lines), err
    assert json.loads((tmp_path / "out" / "run.json").read_text())["status"] == "interrupted"


def _interrupt_as_running_is_written(self: Any, path: Path, value: Any) -> None:
    REAL_WRITE_JSON(self, path, value)
    if path == self.run_json and value.get("status") == "running":
        raise KeyboardInterrupt  # as a signal landing in the fsync after the rename


def _interrupt_as_prepare_returns(self: Any, *args: Any, **kwargs: Any) -> None:
    REAL_PREPARE(self, *args, **kwargs)
    raise KeyboardInterrupt  # as a signal handled at the end of the call


REAL_WRITE_JSON, REAL_PREPARE = rundir_mod.RunDir.write_json, rundir_mod.RunDir.prepare


@pytest.mark.parametrize(
    ("method", "patch"),
    [("write_json", _interrupt_as_running_is_written), ("prepare", _interrupt_as_prepare_returns)],
)
def test_a_signal_as_a_run_starts_leaves_it_interrupted_and_unlocked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, method: str, patch: Any
) -> None:
    """The flaky SIGTERM test's cause: a signal between run.json saying `running` and the
    runner's try left `running` behind (and, inside prepare, no failure recorded)."""
    pipeline = read_pipeline(tmp_path, write_rows(tmp_path / "in.jsonl", 5))
    monkeypatch.setattr(rundir_mod.RunDir, method, patch)
    with pytest.raises(KeyboardInterrupt):
        pipeline.run()
    monkeypatch.undo()
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["status"] == "interrupted"
    assert run["attempts"][-1]["error"] == "KeyboardInterrupt"
    assert not rundir_mod.RunDir(tmp_path / "out").is_locked()
    pipeline.run()  # resumes
    assert json.loads((tmp_path / "out" / "run.json").read_text())["status"] == "finished"


def test_a_run_refused_the_lock_leaves_the_holders_lock_and_status(tmp_path: Path) -> None:
    pipeline = read_pipeline(tmp_path, write_rows(tmp_path / "in.jsonl", 5))
    held = rundir_mod.RunDir(tmp_path / "out")
    held.prepare(pipeline.to_config(), pipeline.seed, overwrite=False)
    try:
        with pytest.raises(RunDirError, match="another run holds the lock"):
            pipeline.run()
        assert rundir_mod.RunDir(tmp_path / "out").is_locked()
        assert json.loads((tmp_path / "out" / "run.json").read_text())["status"] == "running"
    finally:
        held.unlock()


# ---- item 9: output files respect the umask ------------------------------------------------
@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_output_files_respect_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    data = tmp_path / "in.jsonl"
    data.write_text('{"text": "a b c"}\n{"text": "x"}\n')
    old = os.umask(umask)
    try:
        from synthmill.curate.length import LengthFilter

        Pipeline(
            stages=[Read(path=str(data)), LengthFilter(min_words=2)],
            output=Output(dir=tmp_path / "out"),
        ).run()
        with atomic_path(tmp_path / "export.jsonl") as tmp:
            tmp.write_text("{}\n")
    finally:
        os.umask(old)
    out = tmp_path / "out"
    files = [
        *out.glob("data/*"),
        *out.glob("rejects/*/*"),
        out / "README.md",
        out / "stats.json",
        out / "run.json",
        out / "config.yaml",
        tmp_path / "export.jsonl",
    ]
    assert any("rejects" in str(f) for f in files) and any("data" in str(f) for f in files)
    assert {f.name: oct(f.stat().st_mode & 0o777) for f in files} == {
        f.name: oct(mode) for f in files
    }


# ---- item 11: publish swaps data/ in whole -----------------------------------------------
def three_shards(tmp: Path) -> Pipeline:
    data = write_rows(tmp / "in.jsonl", 30)
    return Pipeline(
        name="pub",
        shard_size=10,
        stages=[Read(path=str(data))],
        output=Output(dir=tmp / "out", file_rows=10),  # three published files
    )


def test_a_publish_killed_half_way_leaves_the_old_complete_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    three_shards(tmp_path).run()
    before = {p.name: p.read_bytes() for p in (tmp_path / "out" / "data").iterdir()}
    assert len(before) == 3
    real = pq.ParquetWriter.write_table
    calls = {"n": 0}

    def dies_on_the_second_file(self: Any, table: Any, *args: Any, **kw: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # as good as a kill for what is on disk
        real(self, table, *args, **kw)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", dies_on_the_second_file)
    with pytest.raises(KeyboardInterrupt):
        three_shards(tmp_path).run()
    after = {p.name: p.read_bytes() for p in (tmp_path / "out" / "data").iterdir()}
    assert after == before, "data/ holds a partial dataset"
    monkeypatch.setattr(pq.ParquetWriter, "write_table", real)
    assert three_shards(tmp_path).run().rows == 30
    assert not list((tmp_path / "out").glob(".*.tmp")), "staging folders left behind"


@pytest.mark.parametrize("exchange", [True, False])
def test_swap_in_replaces_the_whole_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exchange: bool
) -> None:
    if not exchange:
        monkeypatch.setattr(publish_mod, "_exchange", lambda a, b: False)
    target, staging = tmp_path / "data", tmp_path / ".data.new.tmp"
    target.mkdir()
    (target / "old-1").write_text("old")
    (target / "old-2").write_text("old")
    staging.mkdir()
    (staging / "new-1").write_text("new")
    publish_mod.swap_in(staging, target)
    assert sorted(p.name for p in target.iterdir()) == ["new-1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


# ---- item 13: the quieter cases ------------------------------------------------------------
def test_empty_input_warns_and_publishes_zero_rows(tmp_path: Path) -> None:
    (tmp_path / "in.jsonl").write_text("")
    cfg = {"stages": [{"use": "read", "path": "in.jsonl"}], "output": {"dir": "out"}}
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(cfg))
    proc = subprocess.run(
        [*CLI, "run", "p.yaml"], cwd=tmp_path, env=env(), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    data = tmp_path / "in.jsonl"
    assert warnings == [f"warning: {data} holds no rows; the run will publish 0 rows"]
    assert "done: 0 rows" in proc.stderr
    assert json.loads((tmp_path / "out" / "stats.json").read_text())["rows"] == 0


# ---- item 14: the pipeline-level backend in Python -----------------------------------------
def test_python_pipeline_gives_its_backend_to_stages_without_one(tmp_path: Path) -> None:
    from synthmill.llm.fake import FakeBackend
    from synthmill.recipes.distill import Distill
    from synthmill.sources.range import Range

    own = FakeBackend(model="own")
    p = Pipeline(
        backend={"type": "fake", "model": "shared"},
        stages=[Range(n=2), Distill(), Distill(name="mine", backend=own)],
        output=Output(dir=tmp_path / "out"),
    )
    assert isinstance(p.stages[1].backend, FakeBackend)  # type: ignore[attr-defined]
    assert p.stages[1].backend.model == "shared"  # type: ignore[attr-defined]
    assert p.stages[2].backend.model == "own"  # type: ignore[attr-defined]
    from_yaml = Pipeline.from_config(yaml.safe_load(p.to_yaml()))
    assert [s.to_config() for s in from_yaml.stages] == [s.to_config() for s in p.stages]
    bare = Pipeline(stages=[Range(n=2), Distill()], output=Output(dir=tmp_path / "o2"))
    assert bare.stages[1].backend.kind == "llamacpp"  # type: ignore[attr-defined]


def test_python_pipeline_validates_an_unused_backend(tmp_path: Path) -> None:
    from synthmill.sources.range import Range

    with pytest.raises(ValueError, match=r"backend\.type: unknown backend .foo."):
        Pipeline(backend={"type": "foo"}, stages=[Range(n=1)], output=Output(dir=tmp_path))


# ---- item 15: speed-only options never invalidate a run dir -------------------------------
BASE: dict[str, Any] = {
    "name": "x",
    "seed": 1,
    "backend": {"type": "openai", "model": "m", "concurrency": 4, "timeout": 30},
    "stages": [
        {"use": "range", "n": 10},
        {
            "use": "distill",
            "batch_size": 8,
            "backend": {"type": "openai", "model": "m", "concurrency": 2, "max_retries": 1},
        },
        {"use": "verify.math", "timeout": 5, "workers": 2},
    ],
    "output": {"dir": "a", "format": "parquet"},
    "cache": True,
}


def changed(path: str, value: Any) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(json.dumps(BASE))
    node: Any = config
    *head, last = path.split(".")
    for part in head:
        node = node[int(part)] if part.isdigit() else node[part]
    node[int(last) if last.isdigit() else last] = value
    return config


@pytest.mark.parametrize(
    "path",
    [
        "backend.concurrency",
        "backend.max_in_flight",
        "backend.tokens_per_minute",
        "stages.1.backend.requests_per_minute",
        "backend.timeout",
        "stages.1.backend.concurrency",
        "stages.1.backend.max_retries",
        "stages.1.batch_size",
        "stages.2.workers",
        "output.dir",
        "cache",
    ],
)
def test_speed_only_options_keep_the_fingerprint(path: str) -> None:
    assert fingerprint(changed(path, 99)) == fingerprint(BASE)


@pytest.mark.parametrize(
    "path",
    ["seed", "backend.model", "stages.1.backend.model", "stages.2.timeout", "stages.0.n"],
)
def test_row_deciding_options_change_it_and_the_refusal_names_them(path: str) -> None:
    other = changed(path, 77)
    assert fingerprint(other) != fingerprint(BASE)
    assert first_difference(row_deciding(BASE), row_deciding(other)) == path


def test_first_difference_names_added_stages_and_never_returns_none() -> None:
    longer = json.loads(json.dumps(BASE))
    longer["stages"].append({"use": "dedup.exact"})
    where = first_difference(row_deciding(BASE), row_deciding(longer))
    assert where == "stages.3 (one has 3 items, the other 4)"
    assert first_difference({"a": [1]}, {"a": 1}) == "a"


@pytest.mark.slow
def test_changing_concurrency_and_batch_size_resumes(tmp_path: Path) -> None:
    cfg = slow_config(tmp_path)
    assert subprocess.run([*CLI, "run", str(cfg)], env=env(), capture_output=True).returncode == 0
    again = subprocess.run(
        [
            *CLI,
            "run",
            str(cfg),
            "--set",
            "stages.1.concurrency=3",
            "--set",
            "stages.3.batch_size=7",
            "--set",
            "stages.1.executor=process",
        ],
        env=env(SYNTHMILL_TEST_SLEEP="0"),
        capture_output=True,
        text=True,
    )
    assert again.returncode == 0, again.stderr


# ---- item 16: optional extras are checked when the pipeline is built ----------------------
def test_missing_extra_fails_when_the_pipeline_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from synthmill.curate.minhash_dedup import MinHashDedup
    from synthmill.sources.range import Range

    monkeypatch.setitem(sys.modules, "rensa", None)
    with pytest.raises(MissingExtraError) as exc:
        Pipeline(stages=[Range(n=3), MinHashDedup()], output=Output(dir=tmp_path / "out"))
    assert str(exc.value) == (
        "stages.1 (dedup.minhash): rensa is not installed; install it with: "
        "pip install 'synthmill[curate]'"
    )
    assert not (tmp_path / "out").exists()


def test_every_declared_extra_names_a_real_extra() -> None:
    """Each `requires` entry points at an extra that pyproject.toml defines."""
    import tomllib

    from synthmill.pipeline.registry import stage_class, stage_names

    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    declared = [req for name in stage_names() for req in stage_class(name).requires]
    assert len(declared) >= 5
    for module, package, extra in declared:
        assert extra in extras and any(package in dep for dep in extras[extra]), (module, extra)
