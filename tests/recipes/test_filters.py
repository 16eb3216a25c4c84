"""The recipe filters decide as the papers describe: heuristics, novelty, elimination, grounding."""

from __future__ import annotations

from synthmill.pipeline.stage import StageContext
from synthmill.recipes.evol_filter import EvolutionFilter
from synthmill.recipes.grounded import GroundedFilter
from synthmill.recipes.novelty import NoveltyFilter
from synthmill.recipes.seeds import load_seed_tasks
from synthmill.recipes.si_filter import SelfInstructFilter
from synthmill.records import Record


def rec(i: int = 0, **data: object) -> Record:
    return Record.new(dict(data), key=i, stage="test")


def reason(check: object, record: Record) -> str:
    verdict = check.check(record)  # type: ignore[attr-defined]
    return "" if verdict.ok else str(verdict.reason)


def test_self_instruct_heuristics() -> None:
    f = SelfInstructFilter()
    good = rec(instruction="Explain how tides work.", input="", output="The moon pulls water.")
    assert reason(f, good) == ""
    cases = {
        "instruction too short": rec(instruction="Explain tides", output="x"),
        "needs a modality a text model lacks": rec(
            instruction="Draw a picture of a cat.", output="..."
        ),
        "asks for a program": rec(instruction="Write a program that sorts numbers.", output="x"),
        "starts with punctuation": rec(instruction='"Explain how tides work', output="x"),
        "starts with a non-English character": rec(instruction="Écris un poème court", output="x"),
        "empty output": rec(instruction="Explain how tides work.", output=" "),
        "echoes the generation prompt": rec(
            instruction="A new task for the AI assistant.", output="x"
        ),
        "output repeats the instruction": rec(
            instruction="Say hello to me.", output="say hello to me"
        ),
        "output repeats the input": rec(
            instruction="Fix the grammar here.", input="He go home.", output="he go home"
        ),
    }
    for expected, record in cases.items():
        assert reason(f, record) == expected
    assert (
        reason(f, rec(instruction=" ".join(["word"] * 151), output="x")) == "instruction too long"
    )


def test_blacklist_matches_words_not_substrings() -> None:
    f = SelfInstructFilter()
    assert reason(f, rec(instruction="Summarize the profile of a mapmaker.", output="x")) == ""
    assert reason(f, rec(instruction="Describe the map of Europe.", output="x")) != ""


def run_novelty(texts: list[str], **options: object) -> list[Record]:
    stage = NoveltyFilter(**options)  # type: ignore[arg-type]
    records = [rec(i, instruction=t) for i, t in enumerate(texts)]
    return list(stage.process_all(records, StageContext(seed=0, stage=stage.label)))


def test_novelty_drops_near_copies_of_earlier_rows_and_seeds() -> None:
    seed = load_seed_tasks()[0].instruction
    out = run_novelty(
        [
            "Describe the life cycle of a butterfly in four stages.",
            "Describe the life cycle of a butterfly in five stages.",  # ROUGE-L 0.9 to the first
            seed,
            "Name three rivers in South America.",
        ]
    )
    assert [r.rejected for r in out] == [False, True, True, False]
    raw = out[1].meta.rejection.raw  # type: ignore[union-attr]
    assert raw["most_similar"].startswith("Describe the life cycle") and raw["rouge_l"] >= 0.7
    assert out[0].meta.scores["filter.novelty"] < 0.7


def test_novelty_without_seed_pool_and_order_decides() -> None:
    texts = ["Write a haiku about the first snow of winter.", "Name three rivers."]
    assert not any(r.rejected for r in run_novelty(texts, seed_tasks=None))
    twice = run_novelty(texts * 2, seed_tasks=None)
    assert [r.rejected for r in twice] == [False, False, True, True]


def test_evolution_elimination() -> None:
    f = EvolutionFilter()
    base = {"evolved_from": "Describe the water cycle."}
    ok = rec(instruction="Describe the water cycle, naming evaporation and rain.", **base)
    assert reason(f, ok) == ""
    cases = {
        "no information gain": rec(instruction="Describe the water cycle!", **base),
        "copies the evolving prompt": rec(
            instruction="#Rewritten Prompt#: describe the ocean cycle", **base
        ),
        "evolution is a refusal": rec(instruction="Sorry, I cannot rewrite clouds.", **base),
        "empty evolution": rec(instruction="", **base),
        "response is a refusal": rec(
            instruction="Describe the water cycle in deserts.", response="Sorry, I can't.", **base
        ),
        "response is only stop words or punctuation": rec(
            instruction="Describe the water cycle in deserts.", response="... it is.", **base
        ),
    }
    for expected, record in cases.items():
        assert reason(f, record) == expected
    long_sorry = " ".join(["sorry"] + ["rain"] * 100)
    answered = rec(instruction="Describe rain in deserts.", response=long_sorry, **base)
    assert reason(f, answered) == ""


def test_grounding_check() -> None:
    f = GroundedFilter()
    context = "Bees carry pollen between flowers, which lets plants make seeds."
    good = rec(context=context, question="What do bees carry?", answer="Pollen between flowers")
    verdict = f.check(good)
    assert verdict.ok and verdict.score == 1.0
    bad = rec(context=context, question="What do bees eat?", answer="Nectar and sugar water")
    assert reason(f, bad) == "answer not supported by the passage"
    assert f.check(bad).score == 0.0
    assert reason(f, rec(context=context, question="", answer="pollen")) == (
        "empty question or answer"
    )
    assert reason(f, rec(context=context, question="Who?", answer="the")) == (
        "answer has no content words"
    )
    same = rec(context=context, question="bees carry pollen", answer="Bees carry pollen")
    assert reason(f, same) == "answer repeats the question"


def test_grounding_judge_keeps_supported_and_rejects_the_rest() -> None:
    from synthmill.llm.fake import FakeBackend
    from synthmill.recipes.grounded_judge import REJECTED, GroundedJudge

    judge = GroundedJudge(backend=FakeBackend(function="tests.recipes.replies:judge"))
    context = "Otters hold paws while they sleep."
    rows = [
        rec(0, context=context, question="What do otters hold?", answer="paws"),
        rec(1, context=context, question="What do otters eat?", answer="fish"),
    ]
    c = StageContext(seed=0, stage=judge.label)
    kept, dropped = judge.process(rows, c)
    assert not kept.rejected and kept.meta.verdicts["judge.grounded"]["ok"] is True
    assert dropped.meta.rejection is not None and dropped.meta.rejection.reason == REJECTED
    assert dropped.meta.rejection.raw["judge_reason"] == "checked 'fish'"
    assert c.counters["llm.calls"] == 2
    broken = GroundedJudge(backend=FakeBackend(replies=["no json"]), retries=0)
    (failed,) = broken.process(rows[:1], c)
    assert (
        failed.meta.rejection is not None and failed.meta.rejection.reason == "judge: invalid json"
    )
