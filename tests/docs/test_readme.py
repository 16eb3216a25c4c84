"""Every command in the README's code blocks runs here, so the README cannot drift.

The commands are taken from the README itself (its indented code blocks), in README
order, and run through the real CLI in this process, in a scratch folder that has
`examples/` linked in and the input files the README assumes (data.jsonl, runs/qa, ...)
written first. Each runs as written plus the small-n arguments in SMALL (click keeps
the last value of an option, so `-g 2` after `-g 100` shortens a run; `--set` shrinks a
pipeline and swaps the embedded model for the fake backend). `[--option ...]` parts
are not run, but each must be an option of its command. A README command with no entry
in SMALL or SKIP fails the test, as does an entry whose command left the README.

The Python example must build the same pipeline as the YAML beside it: both run here
(no model in that pipeline) and must give identical rows, provenance included.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from tests.conftest import REPO
from tests.helpers import run_main

README = (REPO / "README.md").read_text(encoding="utf-8")
FAKE = "backend={type: fake, function: 'tests.docs.replies:quiz'}"
QUICK = ["--set", "stages.0.n=12", "--set", FAKE]

# README command (as written, comments and [optional parts] dropped) -> extra arguments.
SMALL: dict[str, list[str]] = {
    "synthmill run examples/quickstart.yaml": QUICK,
    "synthmill inspect runs/quickstart": [],
    "synthmill export runs/quickstart --format openai --prompt question --response answer": [],
    "synthmill export runs/quickstart": [],
    "synthmill export runs/qa -f sharegpt --prompt question --response answer --system persona": [],
    "synthmill export runs/prefs -f dpo --prompt question --chosen best --rejected worst": [],
    "synthmill export runs/problems -f rl -o rl.jsonl": [],
    "synthmill export runs/problems -f verl -o train.parquet": [],
    "synthmill dedup data.jsonl --out deduped.parquet": [],
    "synthmill decontaminate deduped.parquet --out clean.jsonl --benchmark humaneval "
    "--benchmark-file my_test.jsonl --benchmark-column question": [],
    "synthmill filter clean.jsonl --out good.jsonl --profile prose --language en "
    "--thresholds '{\"min_words\": 20}'": [],
    "synthmill measure good.jsonl --out metrics.json": [],
    "synthmill mix --real human.jsonl --synthetic runs/gen1 --synthetic runs/gen2 "
    "--share 0.3 --budget 10000 -o runs/mixed": [],
    "synthmill collapse run": ["-f", "gaussian", "-f", "kde", "-g", "1", "-s", "1", "--no-plots"],
    "synthmill collapse run -f gaussian -g 100 -s 200 -o runs/gauss": ["-g", "2", "-s", "2"],
    "synthmill collapse run -f gaussian -n 10 -P estimator=mle -p replace -g 50": [
        *("-g", "2", "-s", "1", "--no-plots"),
    ],
    "synthmill collapse run -f regression -P d=20 -P noise=0.5 -f zipf -P zipf.beta=2": [
        *("-g", "1", "-s", "1", "--no-plots", "-P", "zipf.sizes=100,1000", "-P", "zipf.keys=10000"),
    ],
    "synthmill collapse families": [],
    "synthmill collapse reproduce shumailov": ["--quick"],
    "synthmill tabular synthesize data.csv -o runs/credit --target creditability": [],
    "synthmill tabular evaluate --real train.csv --synthetic runs/credit": [],
    "synthmill report runs/quickstart": [],
    "synthmill evaluate runs/quickstart --reference human.jsonl": [
        *("--steps", "1", "--seeds", "0", "--batch-size", "1", "--max-len", "32", "--heldout", "3"),
    ],
}
SKIP: dict[str, str] = {
    "./setup.sh": "builds the virtual environment these tests run in (CI runs it first)",
    "./setup.sh --test": "builds the virtual environment these tests run in (CI runs it first)",
    "python -m pytest": "the test suite itself, which runs this test",
}


def commands() -> list[str]:
    """Shell commands of the README's indented code blocks, in order (`&&` split apart)."""
    found: list[str] = []
    lines = README.splitlines()
    for i, line in enumerate(lines):
        if not line.startswith("    ") or (i and lines[i - 1].startswith("    ")):
            continue
        block = []
        for more in lines[i:]:
            if not more.startswith("    "):
                break
            block.append(more[4:])
        text = "\n".join(block).replace("\\\n", " ")
        for cmd in text.splitlines():
            words = cmd.strip().split()
            if words and re.sub(r"^(\.venv/bin/)", "", words[0]) in ("synthmill", "./setup.sh"):
                found += [normal(part) for part in cmd.split("&&")]
    return found


def normal(cmd: str) -> str:
    """One spelling per command: no `.venv/bin/`, no comment, no `[optional]` parts."""
    cmd = re.sub(r"\s\[[^\]]*\]", "", cmd.split("  #")[0]).strip()
    return " ".join(cmd.replace(".venv/bin/", "").split())


def test_every_readme_command_has_a_test_entry() -> None:
    found = commands()
    assert len(found) >= 20, found  # the extraction works
    unknown = [c for c in found if c not in SMALL and c not in SKIP]
    gone = [c for c in [*SMALL, *SKIP] if c not in found]
    assert not unknown, f"README commands with no entry in SMALL or SKIP: {unknown}"
    assert not gone, f"entries whose command is no longer in the README: {gone}"


def write_inputs(root: Path) -> None:
    """The files and run directories the README's commands take as input."""
    from synthmill import Pipeline

    (root / "examples").symlink_to(REPO / "examples")
    docs = [json.loads(line) for line in (REPO / "examples/data/docs.jsonl").open()]
    texts = [{"text": d["text"]} for d in docs]  # 30 words or so each
    rows = "".join(json.dumps(t) + "\n" for t in [*texts, texts[0]])
    (root / "data.jsonl").write_text(rows)
    (root / "human.jsonl").write_text(rows)
    bench = {"question": "Write a function that returns the sum of a list of numbers."}
    (root / "my_test.jsonl").write_text(json.dumps(bench) + "\n")

    def run_dir(name: str, rows: list[dict[str, object]]) -> None:
        src = root / "inputs" / f"{Path(name).name}.jsonl"
        src.parent.mkdir(exist_ok=True)
        src.write_text("".join(json.dumps(r) + "\n" for r in rows))
        stages = [{"use": "read", "path": str(src)}]
        Pipeline.from_config({"stages": stages, "output": {"dir": str(root / name)}}).run()

    qa = [{"question": f"What is {i} + 1?", "answer": str(i + 1), "persona": "a tutor"}
          for i in range(3)]  # fmt: skip
    run_dir("runs/qa", qa)
    prefs = [{"question": "Say hi.", "best": "Hello there!", "worst": "no"}]
    run_dir("runs/prefs", prefs)
    run_dir("runs/gen1", texts[:6])
    run_dir("runs/gen2", texts[6:])
    problems = {"stages": [{"use": "problems", "n": 6}], "output": {"dir": "runs/problems"}}
    Pipeline.from_config(problems).run()
    table = ["age,amount,purpose,creditability"]
    table += [
        f"{20 + i % 40},{1000 + 37 * i},{'car' if i % 3 else 'tv'},{i % 2}" for i in range(80)
    ]
    (root / "data.csv").write_text("\n".join(table) + "\n")
    (root / "train.csv").write_text("\n".join(table) + "\n")


def test_every_readme_command_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    write_inputs(tmp_path)
    failed = []
    for cmd in commands():
        if cmd in SKIP:
            continue
        words = shlex.split(cmd)
        assert words[0] == "synthmill", cmd
        code = run_main([*words[1:], *SMALL[cmd]])
        out = capsys.readouterr()
        if code != 0:
            failed.append(f"{cmd} -> exit {code}: {out.err.strip()[-300:]}")
    assert not failed, "\n".join(failed)
    kept = pq.read_table(tmp_path / "runs/quickstart/data").num_rows
    assert kept > 0 and (tmp_path / "runs/quickstart/export/openai.jsonl").stat().st_size > 0
    assert (tmp_path / "metrics.json").exists() and (tmp_path / "runs/mixed/README.md").exists()


def test_optional_parts_of_readme_commands_are_real_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    checked = 0
    for cmd in commands():
        if cmd in SKIP or not (flags := optional_flags_of(cmd)):
            continue
        words = shlex.split(cmd)
        group = words[1:3] if words[1] in ("collapse", "tabular") else words[1:2]
        assert run_main([*group, "--help"]) == 0
        shown = capsys.readouterr().out
        missing = [f for f in flags if f not in shown]
        assert not missing, f"{cmd}: {missing} are not options of `synthmill {' '.join(group)}`"
        checked += len(flags)
    assert checked >= 8


def optional_flags_of(cmd: str) -> list[str]:
    raws = [c for c in README.splitlines() if c.strip() and normal(c) == cmd]
    return [f for raw in raws for f in re.findall(r"\[(-[-\w]+)", raw)]


# ---- the Python example builds the same pipeline as the YAML beside it ---------------------
def python_example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    (example,) = [b for b in blocks if 'Pipeline(name="cloze"' in b]
    return example


def yaml_example() -> dict[str, object]:
    blocks = re.findall(r"```yaml\n(.*?)```", README, flags=re.S)
    (example,) = [b for b in blocks if "# examples/cloze.yaml" in b]
    return dict(yaml.safe_load(example))


def rows(folder: Path) -> list[dict[str, object]]:
    return [r for f in sorted(folder.glob("*.parquet")) for r in pq.read_table(f).to_pylist()]


def test_readme_yaml_is_the_example_file() -> None:
    assert yaml_example() == yaml.safe_load((REPO / "examples/cloze.yaml").read_text())


def test_python_example_gives_the_rows_of_the_yaml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(REPO / "examples")
    exec(compile(python_example(), "README.md", "exec"), {"__name__": "readme"})
    args = ["run", "examples/cloze.yaml", "--set", "output.dir=runs/cloze-yaml"]
    assert run_main(args) == 0
    from_python, from_yaml = (
        rows(tmp_path / "runs/cloze/data"),
        rows(tmp_path / "runs/cloze-yaml/data"),
    )
    assert len(from_yaml) > 20 and from_python == from_yaml
    config = yaml.safe_load((tmp_path / "runs/cloze/config.yaml").read_text())
    yaml_config = yaml.safe_load((tmp_path / "runs/cloze-yaml/config.yaml").read_text())
    yaml_config["output"]["dir"] = "runs/cloze"
    assert config == yaml_config


# ---- the problem counts the README states are what `synthmill stages problems` prints -----
def test_readme_problem_counts_are_the_computed_capacities() -> None:
    from synthmill.problems.capacity import capacity

    text = README.split("The small ones", 1)[1].split("tests/problems/", 1)[0]
    stated = re.findall(r"`([\w.]+)` ((?:>=)?[\d,]*\d(?:/(?:>=)?[\d,]*\d)*)(?![\w.])", text)
    assert len(stated) >= 8, stated
    for family, counts in stated:
        for level, count in enumerate(counts.split("/"), 1):
            assert str(capacity(family, level)) == count.replace(",", ""), (family, level)
