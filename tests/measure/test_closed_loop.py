"""`synthmill evaluate`: the closed loop. The model tests fine-tune the real embedded
SmolLM2-135M (read from its GGUF file by transformers) for a few steps on tiny rows."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from synthmill.errors import DataError
from synthmill.measure import closed_loop as cl
from tests.helpers import Done, cli

Ran = Done


@pytest.fixture
def main(tmp_path: Path) -> Callable[..., Done]:
    """The real entry point in this process (the loaded model is reused), run in tmp_path."""
    return lambda *args: cli(*args, cwd=tmp_path)


def seed_rows() -> list[dict[str, Any]]:
    """synthmill's 40 human-written seed tasks (instruction, input, output)."""
    text = files("synthmill").joinpath("data", "seed_tasks.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


# ---- how rows become text (no model) ---------------------------------------------------
@pytest.mark.parametrize(
    ("columns", "kind", "picked"),
    [
        ({"messages", "question", "answer"}, "messages", ("messages",)),
        ({"instruction", "input", "output", "id"}, "pair", ("instruction", "output", "input")),
        ({"question", "answer", "topic"}, "pair", ("question", "answer")),
        ({"prompt", "completion"}, "pair", ("prompt", "completion")),
        ({"text", "id"}, "text", ("text",)),
    ],
)
def test_the_first_rule_that_fits_the_columns_decides(
    columns: set[str], kind: str, picked: tuple[str, ...]
) -> None:
    fmt = cl.detect_format(columns, "data")
    assert (fmt.kind, fmt.columns) == (kind, picked)


def test_named_columns_win_and_a_missing_one_is_named() -> None:
    fmt = cl.detect_format({"q", "a", "text"}, "data", prompt="q", response="a")
    assert (fmt.kind, fmt.columns) == ("pair", ("q", "a"))
    assert cl.detect_format({"q", "body"}, "data", text="body").kind == "text"
    with pytest.raises(DataError, match="no column 'answr'; its columns: 'a', 'q'"):
        cl.detect_format({"q", "a"}, "data", prompt="q", response="answr")
    with pytest.raises(DataError, match="cannot make training text from columns 'x', 'y'"):
        cl.detect_format({"x", "y"}, "data")


def test_examples_join_input_score_the_last_assistant_turn_and_skip_empty_rows() -> None:
    fmt = cl.detect_format({"instruction", "input", "output"}, "d")
    row = {"instruction": "Classify.", "input": "Great phone.", "output": "positive"}
    assert cl.example_of(row, fmt) == cl.Example(
        messages=(("user", "Classify.\n\nGreat phone."), ("assistant", "positive"))
    )
    assert cl.example_of({**row, "output": " "}, fmt) is None
    chat = cl.detect_format({"messages"}, "d")
    turns = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    assert cl.example_of({"messages": turns}, chat) == cl.Example(
        messages=(("user", "hi"), ("assistant", "hello"))
    )
    assert cl.example_of({"messages": turns[:1]}, chat) is None  # nothing to score
    data = cl.make_dataset("run", "r", [row, {**row, "output": ""}], {})
    assert (len(data.examples), data.skipped) == (1, 1)


def test_the_interval_is_students_t_and_the_verdict_needs_it_to_exclude_zero() -> None:
    mean, low, high = cl.mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0 and high - mean == pytest.approx(4.303 * 1.0 / 3**0.5, rel=1e-3)
    assert mean - low == pytest.approx(high - mean)
    assert cl.verdict(-0.3, -0.1) == "beats"
    assert cl.verdict(-0.3, 0.1) == "matches"
    assert cl.verdict(0.1, 0.3) == "is worse than"
    results = [{"name": "run", "delta": [-0.3, -0.2, -0.25]},
               {"name": "garbage", "delta": [-0.05, 0.0, -0.02]}]  # fmt: skip
    (c,) = cl.compare(results)
    assert c["result"] == "beats" and c["delta_difference_mean"] == pytest.approx(-0.2267, 1e-3)


@pytest.mark.slow
def test_default_steps_are_a_few_passes_over_the_rows_and_overtraining_warns(
    model: cl.Model,
) -> None:
    assert cl.steps_for(19, 4) == 15  # the bench's 15 steps: 3 passes over 19 rows
    assert cl.steps_for(1, 4) == 1 and cl.steps_for(10_000, 4) == cl.MAX_STEPS
    reference = cl.make_dataset("reference", "seed tasks", seed_rows(), {})
    heldout, train = cl.split_reference(reference, 10)
    said: list[str] = []
    small = {"seeds": (0,), "batch_size": 2, "max_len": 32, "eval_points": 1, "rows": 4}
    result = cl.run_closed_loop(model, [train], heldout, cl.Settings(**small), said.append)
    assert result["settings"]["steps"] == 6 and result["settings"]["passes"] == 3.0
    assert result["settings"]["steps_chosen"].startswith("default: 3 passes over 4 rows")
    assert len(result["arms"][0]["curves"][0]["train"]) == 6
    assert not any(line.startswith("warning:") for line in said)
    said.clear()
    result = cl.run_closed_loop(
        model, [train], heldout, cl.Settings(**small, steps=12), said.append
    )
    assert result["settings"]["steps_chosen"] == "given" and result["settings"]["passes"] == 6.0
    assert any(line.startswith("warning: 12 steps x 2 rows = 6.0 passes") for line in said), said


def test_threads_default_to_the_usable_cores_that_are_not_busy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(os, "getloadavg", lambda: (0.3, 0.3, 0.3))
    assert cl.threads_for(0) == 2
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 9.0, 9.0))
    assert cl.threads_for(0) == 1  # a busy machine: one thread, not two that wait on each other
    assert cl.threads_for(3) == 3  # --threads as asked


# ---- bad input: one line, exit 2, nothing written --------------------------------------
@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["missing_run", "--reference", "ref.jsonl"], "missing_run does not exist"),
        (["empty.jsonl", "--reference", "ref.jsonl", "-o", "o.json"], "has no rows"),
        (["qa.jsonl", "--reference", "text.jsonl", "-o", "o.json", "--prompt", "question",
          "--response", "answer"], "reference text.jsonl has no column 'question'"),
        (["qa.jsonl", "--reference", "odd.jsonl", "-o", "o.json"],
         "cannot make training text from columns 'x'"),
        (["qa.jsonl", "--reference", "ref.jsonl", "-o", "o.json", "--steps", "0"],
         "--steps must be at least 1"),
        (["qa.jsonl", "--reference", "nope.jsonl", "-o", "o.json"],
         "--reference nope.jsonl matches no file"),
        (["qa.jsonl", "--reference", "ref.json", "-o", "ref.json"],
         "--out ref.json would overwrite the input"),
        (["qa.jsonl", "--reference", "ref.jsonl", "--baseline", "ref.json", "-o", "ref.json"],
         "--out ref.json would overwrite the input"),
        (["qa.jsonl", "--reference", "ref.jsonl", "-o", "qa.jsonl"],
         "--out qa.jsonl: the results are JSON; end it in .json"),
        (["qa.jsonl", "--reference", "ref.jsonl"], "is not a run directory; name the JSON"),
        (["qa.jsonl", "--reference", "ref.jsonl", "-o", "o.json", "--seeds", "0,x"],
         "--seeds '0,x'"),
        (["qa.jsonl", "--reference", "ref.jsonl", "-o", "o.json", "--real-baseline",
          "--heldout", "2"], "--heldout 2: the reference has 2 rows"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_writes_nothing(
    tmp_path: Path, main: Callable[..., Ran], args: list[str], words: str
) -> None:
    qa = [{"question": "Why is the sky blue?", "answer": "Air scatters blue light most."}] * 2
    write_jsonl(tmp_path / "qa.jsonl", qa)
    write_jsonl(tmp_path / "ref.jsonl", qa)
    write_jsonl(tmp_path / "ref.json", qa)  # JSONL by another name, as --out would be
    write_jsonl(tmp_path / "text.jsonl", [{"text": "some words"}])
    write_jsonl(tmp_path / "odd.jsonl", [{"x": 1}])
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    before = files_under(tmp_path)
    ran = main("evaluate", *args)
    assert ran.returncode == 2, ran.stderr
    lines = ran.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], ran.stderr
    assert files_under(tmp_path) == before


def test_a_missing_train_extra_names_the_pip_line(
    tmp_path: Path, main: Callable[..., Ran], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name == "gguf" else real_find_spec(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    write_jsonl(tmp_path / "qa.jsonl", [{"question": "q?", "answer": "a."}])
    ran = main("evaluate", "qa.jsonl", "--reference", "qa.jsonl", "-o", "o.json")
    assert ran.returncode == 2
    assert ran.stderr.strip() == (
        "error: evaluate: gguf is not installed; install it with: pip install 'synthmill[train]'"
    )
    assert not (tmp_path / "o.json").exists()


# ---- the real model ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def model() -> cl.Model:
    return cl.load_model()


def shuffled_words(example: cl.Example, rng: random.Random) -> cl.Example:
    def shuffle(text: str) -> str:
        words = text.split()
        rng.shuffle(words)
        return " ".join(words)

    return cl.Example(messages=tuple((role, shuffle(c)) for role, c in example.messages))


@pytest.mark.slow
def test_the_measurement_tells_good_data_from_shuffled_word_garbage(model: cl.Model) -> None:
    """Known answer: rows from the reference distribution lower held-out loss more than
    the same rows with their words shuffled, in every seed."""
    reference = cl.make_dataset("reference", "seed tasks", seed_rows(), {})
    heldout, train = cl.split_reference(reference, 10)
    rng = random.Random(0)
    garbage = cl.Dataset(
        "garbage", "shuffled", train.format, [shuffled_words(x, rng) for x in train.examples]
    )
    settings = cl.Settings(
        steps=8, seeds=(0, 1, 2), lr=2e-3, batch_size=2, max_len=48, eval_points=1
    )
    result = cl.run_closed_loop(model, [train, garbage], heldout, settings)
    good, bad = (arm["delta"] for arm in result["arms"])
    assert all(g < 0 for g in good), good
    assert all(g < b for g, b in zip(good, bad, strict=True)), (good, bad)
    assert result["comparisons"][0]["result"] == "beats"


@pytest.mark.slow
def test_evaluate_runs_end_to_end_on_a_run_dir_with_baselines(
    tmp_path: Path, main: Callable[..., Ran], model: cl.Model
) -> None:
    from synthmill import Output, Pipeline
    from synthmill.sources.read import Read

    rows = seed_rows()
    write_jsonl(tmp_path / "synth.jsonl", rows[:6])
    Pipeline(name="tiny", stages=[Read(path=str(tmp_path / "synth.jsonl"))],
             output=Output(dir=tmp_path / "run")).run()  # fmt: skip
    write_jsonl(tmp_path / "real.jsonl", rows[20:30])
    qa = [{"question": r["instruction"], "answer": r["output"]} for r in rows[30:36]]
    write_jsonl(tmp_path / "other.jsonl", qa)
    ran = main(
        "evaluate", "run", "--reference", "real.jsonl", "--baseline", "other.jsonl",
        "--real-baseline", "--steps", "2", "--seeds", "0,1", "--batch-size", "2",
        "--max-len", "32",
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    result = json.loads((tmp_path / "run" / "closed_loop.json").read_text(encoding="utf-8"))
    names = [a["name"] for a in result["arms"]]
    assert names == ["run", "baseline", "reference train split"]
    assert [a["format"] for a in result["arms"]][:2] == [
        "pair: instruction/output/input", "pair: question/answer"]  # fmt: skip
    assert result["heldout"]["rows"] == 5 and result["settings"]["rows"] == 5  # half held out
    assert all(a["rows_trained"] == 5 and len(a["delta"]) == 2 for a in result["arms"])
    for arm in result["arms"]:
        for curve in arm["curves"]:
            assert len(curve["train"]) == 2 and curve["heldout"][0] == [0, result["before"]]
            assert len(set(curve["rows_picked"])) == 5  # the rows this seed trained on
    assert [c["against"] for c in result["comparisons"]] == names[1:]
    assert result["model"]["sha256"] == cl.file_sha256(model.path)
    assert {"torch", "transformers", "peft", "gguf"} <= set(result["versions"])
    assert result["settings"]["steps"] == 2 and result["settings"]["seeds"] == [0, 1]
    card = (tmp_path / "run" / "README.md").read_text(encoding="utf-8")
    assert "## Does the data help?" in card and "direction of the effect" in card
    assert "run matches" in ran.stdout or "run beats" in ran.stdout or "worse" in ran.stdout
    # the HTML report shows the arms and the loss curves (one line per arm and seed)
    assert main("report", "run").returncode == 0
    html = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    part = html.split('<section id="closed-loop">', 1)[1].split("</section>", 1)[0]
    assert "held-out real loss by step" in part and "reference train split" in part
    assert part.count("<polyline") == 2 * 3 * 2  # two charts x three arms x two seeds


# ---- problem runs: accuracy on held-out generated problems ------------------------------
def problem_rows(family: str, n: int, seed: int = 0) -> list[dict[str, Any]]:
    """n generated problems of a family with a worked solution that states the gold answer
    (the shape of rejection_sampling's verified rows)."""
    from synthmill.problems import FAMILIES

    rows = []
    for i in range(n):
        p = FAMILIES[family](random.Random(f"train/{seed}/{i}"), 1)
        rows.append({**p.to_row(), "solution": f"Work it out.\n\nAnswer: {p.answer}"})
    return rows


def test_problem_accuracy_scores_right_answers_1_and_wrong_answers_0() -> None:
    """The checking path with a fake model whose answers are known: the gold answer stated
    scores 1.0, a wrong one 0.0, and every reply has the verifier's verdict."""
    from synthmill.measure import problem_accuracy as pa

    rows = problem_rows("arithmetic.integer", 3) + problem_rows("arithmetic.fraction", 3)
    plan = pa.plan_for(rows, 4)
    assert len(plan.problems) == 8 and plan.overlap == 0
    gold = {p.problem: p.answer for p in plan.problems}

    def right(prompts: Sequence[str]) -> list[str]:
        return [f"Some steps.\n\nAnswer: {gold[p]}" for p in prompts]

    def wrong(prompts: Sequence[str]) -> list[str]:
        return ["Some steps.\n\nAnswer: 987654321" for _ in prompts]

    good, bad = pa.score(plan.problems, right), pa.score(plan.problems, wrong)
    assert {f: v["accuracy"] for f, v in good["families"].items()} == {
        "arithmetic.fraction": 1.0, "arithmetic.integer": 1.0}  # fmt: skip
    assert {f: v["accuracy"] for f, v in bad["families"].items()} == {
        "arithmetic.fraction": 0.0, "arithmetic.integer": 0.0}  # fmt: skip
    assert [i["verdict"] for i in good["items"]] == ["correct"] * 8
    assert [i["verdict"] for i in bad["items"]] == ["wrong"] * 8
    assert all(i["stated"] == "987654321" for i in bad["items"])
    summary = pa.summarize(plan, bad, [(0, good), (1, bad)], cl.mean_ci)
    fam = summary["families"]["arithmetic.integer"]
    assert (fam["before"], fam["after"], fam["after_mean"]) == (0.0, [1.0, 0.0], 0.5)
    assert fam["problems"] == 4 and fam["change_mean"] == 0.5


def test_held_out_problems_are_new_per_family_and_need_problem_rows() -> None:
    from synthmill.measure import problem_accuracy as pa

    rows = problem_rows("arithmetic.integer", 20) + problem_rows("algebra.linear", 5)
    rows.append({**rows[0], "family": "code.string", "kind": "code"})
    plan = pa.plan_for(rows, 10)
    trained = {r["problem"] for r in rows}
    texts = [p.problem for p in plan.problems]
    assert len(set(texts)) == 20 and not set(texts) & trained
    assert [p.family for p in plan.problems] == ["algebra.linear"] * 10 + [
        "arithmetic.integer"] * 10  # fmt: skip
    assert all(p.difficulty == 1 for p in plan.problems)  # the run's difficulties
    assert plan.code == ["code.string"] and plan.short == []
    assert pa.plan_for(rows, 10) == plan  # deterministic
    qa = [{"question": "Why?", "answer": "Because."}]
    with pytest.raises(DataError, match="--accuracy needs a run of verified problem rows"):
        pa.plan_for(qa, 2)


@pytest.mark.slow
def test_evaluate_accuracy_on_a_tiny_problem_run(
    tmp_path: Path, main: Callable[..., Ran], model: cl.Model
) -> None:
    """A run of verified arithmetic problems: the base model and the seed's fine-tuned model
    answer 3 held-out problems of the family, each checked by the verifier."""
    from synthmill import Output, Pipeline
    from synthmill.sources.read import Read
    from synthmill.verify.math_check import MathCheck

    rows = problem_rows("arithmetic.integer", 4)
    write_jsonl(tmp_path / "solved.jsonl", rows)
    Pipeline(name="tiny", stages=[Read(path=str(tmp_path / "solved.jsonl")), MathCheck()],
             output=Output(dir=tmp_path / "run")).run()  # fmt: skip
    write_jsonl(tmp_path / "real.jsonl", problem_rows("arithmetic.integer", 3, seed=1))
    ran = main(
        "evaluate", "run", "--reference", "real.jsonl", "--steps", "2", "--seeds", "0",
        "--batch-size", "2", "--max-len", "48", "--accuracy", "3", "--accuracy-tokens", "12",
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    result = json.loads((tmp_path / "run" / "closed_loop.json").read_text(encoding="utf-8"))
    acc = result["accuracy"]
    assert list(acc["families"]) == ["arithmetic.integer"] and acc["per_family"] == 3
    assert acc["families"]["arithmetic.integer"]["problems"] == 3
    assert [a["seed"] for a in acc["after"]] == [0]
    for scored in (acc["before"], *acc["after"]):
        assert scored["families"]["arithmetic.integer"]["total"] == 3
        assert len(scored["items"]) == 3
        # every reply went through the verifier: a verdict, and the answer it read (if any)
        assert all(i["verdict"] in {"correct", "wrong", "no answer"} for i in scored["items"])
        right = sum(i["verdict"] == "correct" for i in scored["items"])
        assert scored["families"]["arithmetic.integer"]["correct"] == right
    trained = {r["problem"] for r in rows}
    assert acc["overlap_with_training"] == 0
    assert not {p["problem"] for p in acc["problems"]} & trained
    assert acc["max_new_tokens"] == 12
    card = (tmp_path / "run" / "README.md").read_text(encoding="utf-8")
    assert "### Held-out generated problems, before and after" in card
    assert "| arithmetic.integer | 3 |" in card
    assert "checked by synthmill's verifier" in ran.stdout and "arithmetic.integer" in ran.stdout
    assert main("report", "run").returncode == 0
    html = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    part = html.split('<section id="closed-loop">', 1)[1].split("</section>", 1)[0]
    assert "held-out problems" in part and "arithmetic.integer" in part
    # --accuracy on rows that are not problems: one line, exit 2
    write_jsonl(tmp_path / "qa.jsonl", [{"question": "Why?", "answer": "Because."}] * 2)
    ran = main("evaluate", "qa.jsonl", "--reference", "qa.jsonl", "-o", "o.json",
               "--accuracy", "2")  # fmt: skip
    assert ran.returncode == 2 and "--accuracy needs a run of verified problem rows" in ran.stderr
