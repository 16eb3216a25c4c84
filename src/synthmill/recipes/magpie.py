"""`magpie`: instructions drawn from an aligned model by giving it only a user turn's opening.

Magpie (Xu et al. 2024, "Magpie: Alignment Data Synthesis from Scratch by Prompting
Aligned LLMs with Nothing", arXiv:2406.08464): an aligned model sent just the text that
opens a user turn in its chat template (for ChatML `<|im_start|>user\\n`), as a raw
completion with no chat wrapping, writes a user's request itself; the turn ends at the
template's end-of-turn marker (`<|im_end|>`). A normal chat call then answers it.

The opening comes from the model's own chat template (the embedded backend reads it from
the GGUF file), from a named format (`template: chatml` or `llama3`), from a Jinja chat
template, or is given as it is (`prefix` + `stop`) for a server whose template cannot be
read. A backend without raw completions fails when the config is read. Empty, short,
unfinished and duplicate-ish (within a batch) instructions are rejected with the reason;
put `dedup.minhash` after it for duplicates across batches.

    - use: magpie
      n: 20
      template: chatml        # auto (default): the model's own template
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import Field, PrivateAttr, model_validator

from synthmill.errors import ConfigError
from synthmill.llm.base import Completion, Request
from synthmill.llm.calls import complete, provenance
from synthmill.pipeline.stage import Source, StageContext
from synthmill.recipes.base import LLMRecipe
from synthmill.records import TRANSIENT_KEY, Record, stable_hash

RECIPE = "magpie"
SENTINEL = "MAGPIE-USER-TURN-7f3a"
PRESETS = {
    "chatml": "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
    "{% endfor %}",
    "llama3": "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m.role }}"
    "<|end_header_id|>\n\n{{ m.content }}<|eot_id|>{% endfor %}",
}


def user_turn_opening(template: str, system: str | None = None) -> tuple[str, str | None]:
    """(the text before a user's message, the marker that ends it) in a chat template."""
    source = PRESETS.get(template, template)
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = _raise
    head = [{"role": "system", "content": system}] if system else []
    messages = [*head, {"role": "user", "content": SENTINEL}]
    try:
        text = env.from_string(source).render(
            messages=messages, add_generation_prompt=False, bos_token="", eos_token=""
        )
    except TemplateError as exc:
        raise ConfigError(f"magpie.template: the chat template fails: {exc}") from None
    if SENTINEL not in text:
        raise ConfigError("magpie.template: the chat template does not show a user message")
    before, after = text.split(SENTINEL, 1)
    end = after.split()
    return before, end[0] if end else None


def _raise(message: str) -> None:
    raise TemplateError(message)


def no_raw(kind: str) -> str:
    return (
        f"magpie needs raw text completions, which backend type {kind} cannot do; "
        "use type: llamacpp or type: openai"
    )


def words(text: str) -> list[str]:
    return re.sub(r"[^\w]+", " ", text.lower()).split()


class Magpie(Source, LLMRecipe):
    """Instructions a model writes from a bare user-turn opening, then its answers."""

    kind: ClassVar[str] = "magpie"

    n: int = Field(ge=0, description="How many instructions to draw (slots).")
    template: str = Field(
        default="auto",
        description="auto (the model's own chat template), chatml, llama3, or a Jinja "
        "chat template.",
    )
    prefix: str | None = Field(
        default=None, description="The user-turn opening as it is; beats template; needs stop."
    )
    stop: list[str] = Field(default=[], description="End-of-turn markers; default: template's.")
    system: str | None = Field(
        default=None, description="A system turn before the user turn (steers the topic)."
    )
    instruction_tokens: int = Field(default=64, ge=4, description="Tokens for the instruction.")
    instruction_temperature: float = Field(
        default=1.0, ge=0.0, le=2.0, description="Temperature of the instruction call."
    )
    min_words: int = Field(default=3, ge=1, description="Shorter instructions are rejected.")
    similarity: float = Field(
        default=0.8, gt=0, le=1, description="Word-set overlap that makes two a duplicate."
    )
    responses: bool = Field(default=True, description="Answer each instruction (a chat call).")
    max_tokens: int = Field(default=200, ge=8, description="Tokens for the response.")
    batch_size: int = Field(default=16, ge=1, description="Slots handed to process() at once.")
    _opening: tuple[str, list[str]] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check(self) -> Magpie:
        if not self.backend.supports_raw():
            raise ValueError(no_raw(self.backend.kind))
        if self.prefix is not None and not self.stop:
            raise ValueError("magpie: a literal prefix needs stop (its end-of-turn marker)")
        if self.prefix is not None and self.system:
            raise ValueError("magpie: system has no effect with a literal prefix; put it in prefix")
        if self.prefix is None and self.template != "auto":
            self.opening()  # a broken template fails now
        return self

    def preflight(self) -> None:
        """The backend (maybe given pipeline-wide after validation) takes raw completions,
        and the user-turn opening is known: template auto asks the backend for it."""
        if not self.backend.supports_raw():
            raise ConfigError(no_raw(self.backend.kind))
        self.opening()

    def opening(self) -> tuple[str, list[str]]:
        """The raw prompt of every instruction call and where the instruction stops."""
        if self._opening is None:
            if self.prefix is not None:
                self._opening = (self.prefix, list(self.stop))
            else:
                before, end = user_turn_opening(self._template(), self.system)
                self._opening = (before, self.stop or ([end] if end else []))
        return self._opening

    def _template(self) -> str:
        if self.template != "auto":
            return self.template
        found = self.backend.chat_template()
        if found is None:
            raise ConfigError(
                f"magpie.template: backend type {self.backend.kind} cannot tell its model's "
                "chat template; set template: chatml (or llama3, or the template's Jinja "
                "source), or prefix and stop"
            )
        return found

    def count(self) -> int:
        return self.n

    def writes(self) -> list[str]:
        return ["instruction", "response", "messages"]

    def rows(self, ctx: StageContext) -> Iterator[Record]:
        for i in range(self.n):
            yield Record.new({"slot": i}, key=i, stage=self.label, seed=ctx.seed)

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        prefix, stop = self.opening()
        asks = [self._ask_instruction(prefix, stop, s, ctx) for s in batch]
        drawn = complete(self.backend, asks, ctx)
        why = self.screen(drawn)
        todo = [i for i, reason in enumerate(why) if reason is None]
        answered = self._answer([drawn[i] for i in todo], [batch[i] for i in todo], ctx)
        answers = dict(zip(todo, answered, strict=True)) if self.responses else {}
        out = []
        for i, slot in enumerate(batch):
            instruction = drawn[i].text.strip()
            answer = answers.get(i)
            out.append(self._row(slot, asks[i], drawn[i], instruction, why[i], answer))
        return out

    def _ask_instruction(
        self, prefix: str, stop: list[str], slot: Record, ctx: StageContext
    ) -> Request:
        return Request(
            messages=(),
            prompt=prefix,
            max_tokens=self.instruction_tokens,
            temperature=self.instruction_temperature,
            top_p=self.top_p,
            seed=self.call_seed(ctx, (slot.meta.id, "instruction")),
            stop=tuple(stop),
        )

    def screen(self, drawn: Sequence[Completion]) -> list[str | None]:
        """Why each instruction is rejected (None: kept); duplicates within the batch."""
        seen: list[set[str]] = []
        out: list[str | None] = []
        for c in drawn:
            text = c.text.strip()
            bag = set(words(text))
            if c.error is not None:
                reason: str | None = "llm call failed"
            elif not text:
                reason = "empty instruction"
            elif c.finish_reason == "length":
                reason = "unfinished instruction"
            elif len(words(text)) < self.min_words:
                reason = "instruction too short"
            elif any(len(bag & s) / len(bag | s) >= self.similarity for s in seen):
                reason = "duplicate instruction"
            else:
                reason = None
                seen.append(bag)
            out.append(reason)
        return out

    def _answer(
        self, drawn: Sequence[Completion], slots: Sequence[Record], ctx: StageContext
    ) -> list[tuple[Request, Completion]]:
        if not self.responses or not drawn:
            return []
        head = [{"role": "system", "content": self.system}] if self.system else []
        requests = [
            self.chat([*head, {"role": "user", "content": c.text.strip()}], ctx, (s.meta.id, "r"))
            for c, s in zip(drawn, slots, strict=True)
        ]
        return list(zip(requests, complete(self.backend, requests, ctx), strict=True))

    def _row(
        self,
        slot: Record,
        ask: Request,
        drawn: Completion,
        instruction: str,
        reason: str | None,
        answer: tuple[Request, Completion] | None,
    ) -> Record:
        data: dict[str, Any] = {"instruction": instruction, "response": "", "messages": []}
        request, last = answer if answer is not None else (ask, drawn)
        meta = provenance(request, last)
        if answer is not None:  # one prompt hash over both calls; the instruction call's params
            meta["prompt_hash"] = stable_hash(ask.prompt_hash(), request.prompt_hash())
            meta["params"] = {**meta["params"], "calls": 2, "instruction": ask.params()}
            response = last.text.strip()
            head = [{"role": "system", "content": self.system}] if self.system else []
            turns = [{"role": "user", "content": instruction}]
            data["messages"] = [*head, *turns, {"role": "assistant", "content": response}]
            data["response"] = response
            reason = self.response_problem(last)
        row = Record.new(data, key=slot.data["slot"], stage=self.label, recipe=RECIPE, **meta)
        if reason is None:
            return row
        raw: dict[str, Any] = {"output": last.text, "error": last.error or ""}
        if last.error is not None and last.transient:
            raw[TRANSIENT_KEY] = True
        return row.reject(self.label, reason, raw=raw)

    @staticmethod
    def response_problem(c: Completion) -> str | None:
        if c.error is not None:
            return "llm call failed"
        if not c.text.strip():
            return "empty response"
        return "response cut off" if c.finish_reason == "length" else None
