"""`preference`: k responses per prompt, rated by a judge on stated aspects, made a pair.

UltraFeedback (Cui et al. 2023, "UltraFeedback: Boosting Language Models with Scaled AI
Feedback", arXiv:2310.01377): several responses per prompt (here varied by temperature and,
optionally, system prompt), each rated 1-5 on aspects (helpfulness, honesty, instruction
following, truthfulness); the best-rated is `chosen`, one strictly lower is `rejected`
(drawn at random, as in the binarized release). A tie for best, or all ratings equal, is
rejected with that reason. `synthmill export --format dpo` reads the pair.

    - use: preference
      temperatures: [0.3, 0.9, 1.3]         # k = 3 responses
      aspects: {helpfulness: "Does it do what was asked?"}
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, ClassVar

from pydantic import BaseModel, Field, create_model, field_validator

from synthmill.llm.base import Request
from synthmill.llm.structured import Structured
from synthmill.pipeline.stage import StageContext
from synthmill.recipes.base import emit_child, json_schema
from synthmill.recipes.prompted import PromptedRecipe, chained, prompts_field, text_of
from synthmill.records import Record

RECIPE = "preference"
REASON_FEW = "fewer than 2 rated responses"
REASON_EQUAL = "all responses rated equal"
REASON_TIE = "tie for best"

ASPECTS = {
    "helpfulness": "Does it do what was asked, usefully and in enough depth?",
    "honesty": "Does it state uncertainty where it should, instead of bluffing?",
    "instruction_following": "Does it respect every part and constraint of the request?",
    "truthfulness": "Is it free of invented or wrong facts?",
}

PROMPTS = {
    "judge": (
        "Rate the reply to the request on each aspect from 1 (poor) to 5 (excellent).\n\n"
        "{% for name, meaning in aspects.items() %}{{ name }}: {{ meaning }}\n{% endfor %}\n"
        "Request: {{ prompt }}\n\nReply: {{ response }}"
    ),
}


class Reply(BaseModel):
    response: str


class Preference(PromptedRecipe):
    """k sampled responses, each rated by a judge; the best and a lower one form a pair."""

    kind: ClassVar[str] = "preference"
    PROMPTS: ClassVar[dict[str, str]] = PROMPTS
    PROVIDES: ClassVar[frozenset[str]] = frozenset({"prompt", "response", "aspects"})

    prompts: dict[str, str] = prompts_field(PROMPTS)

    prompt_column: str = Field(default="instruction", description="Column with the prompt.")
    temperatures: list[float] = Field(
        default=[0.2, 0.7, 1.0, 1.3], min_length=2, description="One response per temperature."
    )
    system_prompts: list[str] = Field(
        default=[], description="System prompts given to the responses in turn (optional)."
    )
    aspects: dict[str, str] = Field(
        default=dict(ASPECTS), min_length=1, description="Aspects rated 1-5: {name: meaning}."
    )
    max_chars: int = Field(default=400, ge=20, le=800, description="Cap on a response.")
    max_tokens: int = Field(default=160, ge=8, description="Tokens per reply; keep it small.")
    batch_size: int = Field(default=4, ge=1, description="Rows handed to process() at once.")

    @field_validator("temperatures")
    @classmethod
    def _in_range(cls, value: list[float]) -> list[float]:
        if not all(0.0 <= t <= 2.0 for t in value):
            raise ValueError("temperatures must be between 0 and 2")
        return value

    @field_validator("aspects")
    @classmethod
    def _names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"aspect {name!r}: use lower-case letters, digits and _")
        return value

    def reads(self) -> list[str]:
        return list(dict.fromkeys([self.prompt_column, *self.template_reads()]))

    def writes(self) -> list[str]:
        return ["responses", "ratings", "chosen", "rejected", "chosen_score", "rejected_score"]

    def ratings_model(self) -> type[BaseModel]:
        fields: Any = {a: (int, Field(ge=1, le=5)) for a in self.aspects}
        return create_model("Ratings", **fields)

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        k = len(self.temperatures)
        jobs = [(r, i) for r in batch for i in range(k)]
        schema = json_schema({"response": self.max_chars})
        answers = self.ask([self.sample(r, i, ctx, schema) for r, i in jobs], Reply, ctx)
        todo = [j for j, a in enumerate(answers) if text_of(a, "response")]
        requests = [
            self.judge_request(*jobs[j], text_of(answers[j], "response"), ctx) for j in todo
        ]
        rated: list[Structured[Any] | None] = [None] * len(jobs)
        for j, result in zip(todo, self.ask(requests, self.ratings_model(), ctx), strict=True):
            rated[j] = result
        return [
            self.row(r, answers[n * k : (n + 1) * k], rated[n * k : (n + 1) * k], ctx)
            for n, r in enumerate(batch)
        ]

    def sample(self, record: Record, k: int, ctx: StageContext, schema: dict[str, Any]) -> Request:
        """The k-th response request: its own temperature, system prompt and seed."""
        head = self.system_prompts[k % len(self.system_prompts)] if self.system_prompts else None
        turns = [{"role": "system", "content": head}] if head else []
        turns.append({"role": "user", "content": self.prompt(record)})
        request = self.chat(turns, ctx, (record.meta.id, "response", k), schema)
        return replace(request, temperature=self.temperatures[k])

    def judge_request(self, record: Record, k: int, response: str, ctx: StageContext) -> Request:
        values = {"prompt": self.prompt(record), "response": response, "aspects": self.aspects}
        text = self.fill("judge", record.data, **values)
        return self.request(text, ctx, (record.meta.id, "judge", k), None)

    def prompt(self, record: Record) -> str:
        return str(record.data.get(self.prompt_column) or "")

    def row(
        self,
        record: Record,
        answers: list[Structured[Any]],
        rated: list[Structured[Any] | None],
        ctx: StageContext,
    ) -> Record:
        """Pick chosen and rejected among the rated responses, or reject with the reason."""
        texts = [text_of(a, "response") for a in answers]
        ratings = [r.value.model_dump() if r is not None and r.value else None for r in rated]
        scores = [round(sum(x.values()) / len(x), 3) if x else None for x in ratings]
        pick = choose(texts, scores, ctx.rng("rejected", record.meta.id))
        calls = [*answers, *(r for r in rated if r is not None)]
        data = {**record.data, "responses": texts, "ratings": ratings}
        data.update(pair_columns(texts, scores, pick))
        out = chained(
            emit_child(
                base_call(calls, rated, pick), record, data, stage=self.label, recipe=RECIPE
            ),
            calls,
        )
        if out.rejected or isinstance(pick, tuple):
            return out
        return out.reject(self.label, pick, raw={"responses": texts, "scores": scores})


def base_call(
    calls: list[Structured[Any]], rated: list[Structured[Any] | None], pick: tuple[int, int] | str
) -> Structured[Any]:
    """The call a row's provenance comes from: a transient failure (so the row is retried),
    else the judge of the chosen response, else the first call that worked."""
    transient = [c for c in calls if c.transient]
    if transient:
        return transient[0]
    chosen = rated[pick[0]] if isinstance(pick, tuple) else None
    return chosen or next((c for c in calls if c.ok), calls[0])


def pair_columns(
    texts: list[str], scores: list[float | None], pick: tuple[int, int] | str
) -> dict[str, Any]:
    if not isinstance(pick, tuple):
        return {"chosen": "", "rejected": "", "chosen_score": None, "rejected_score": None}
    best, worse = pick
    return {
        "chosen": texts[best],
        "rejected": texts[worse],
        "chosen_score": scores[best],
        "rejected_score": scores[worse],
    }


def choose(texts: list[str], scores: list[float | None], rng: Any) -> tuple[int, int] | str:
    """(best, a strictly lower one) among distinct rated responses, or why there is none."""
    seen: dict[str, int] = {}
    for i, (t, s) in enumerate(zip(texts, scores, strict=True)):
        if s is not None and t.strip() and t.strip() not in seen:
            seen[t.strip()] = i
    rated = [(s, i) for i in seen.values() if (s := scores[i]) is not None]
    if len(rated) < 2:
        return REASON_FEW
    top = max(s for s, _ in rated)
    best = [i for s, i in rated if s == top]
    if len(best) == len(rated):
        return REASON_EQUAL
    if len(best) > 1:
        return REASON_TIE
    return best[0], rng.choice([i for s, i in rated if s < top])
