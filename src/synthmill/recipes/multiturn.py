"""`multiturn`: conversations in which a simulated user and the assistant take turns.

UltraChat (Ding et al. 2023, "Enhancing Chat Language Models by Scaling High-quality
Instructional Conversations", arXiv:2305.14233): from an opening question, one model call
plays the assistant and another plays the user, who follows up on what was said, for
`turns` assistant turns. A conversation stops early, and says why, on an empty or repeated
turn; what it has so far is kept when it holds at least one exchange. The `messages`
column is a valid chat (user first, alternating, ending with the assistant) that
`synthmill export --format messages` reads.

    - use: multiturn
      prompt_column: instruction      # the opening user turn
      turns: 3
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from synthmill.llm.base import Request
from synthmill.llm.structured import Structured
from synthmill.pipeline.stage import StageContext
from synthmill.recipes.base import emit_child, json_schema
from synthmill.recipes.prompted import PromptedRecipe, chained, prompts_field, text_of
from synthmill.records import Record

RECIPE = "multiturn"
PROMPTS = {
    "user": (
        "Here is a conversation between a user and an AI assistant.\n\n{{ conversation }}\n\n"
        "You are the user. Write your next message: a natural follow-up that asks for more "
        "detail, an example, or something related. Give only the message."
    ),
}


class Turn(BaseModel):
    message: str


@dataclass
class Conversation:
    """One row's conversation in progress: its turns, its calls, and why it stopped."""

    record: Record
    messages: list[dict[str, str]]
    calls: list[Structured[Any]] = field(default_factory=list)
    stop: str | None = None


def transcript(messages: list[dict[str, str]]) -> str:
    return "\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in messages)


def normal(text: str) -> str:
    return " ".join(text.lower().split())


class Multiturn(PromptedRecipe):
    """A user-simulator call and an assistant call alternate for `turns` assistant turns."""

    kind: ClassVar[str] = "multiturn"
    PROMPTS: ClassVar[dict[str, str]] = PROMPTS
    PROVIDES: ClassVar[frozenset[str]] = frozenset({"conversation"})

    prompts: dict[str, str] = prompts_field(PROMPTS)

    prompt_column: str = Field(default="instruction", description="Column with the opening.")
    turns: int = Field(default=3, ge=1, le=20, description="Assistant turns per conversation.")
    system: str | None = Field(default=None, description="A system prompt for the assistant.")
    max_chars: int = Field(default=400, ge=20, le=800, description="Cap on one turn.")
    max_tokens: int = Field(default=160, ge=8, description="Tokens per reply; keep it small.")
    batch_size: int = Field(default=8, ge=1, description="Rows handed to process() at once.")

    def reads(self) -> list[str]:
        return list(dict.fromkeys([self.prompt_column, *self.template_reads()]))

    def writes(self) -> list[str]:
        return ["messages", "turns", "stop_reason"]

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        convos = [Conversation(r, [self.opening(r)]) for r in batch]
        for convo in convos:
            convo.stop = None if convo.messages[0]["content"].strip() else "empty opening"
        for t in range(self.turns):
            self.step("assistant", [c for c in convos if c.stop is None], t, ctx)
            if t < self.turns - 1:
                self.step("user", [c for c in convos if c.stop is None], t, ctx)
        return [self.row(c) for c in convos]

    def opening(self, record: Record) -> dict[str, str]:
        return {"role": "user", "content": str(record.data.get(self.prompt_column) or "")}

    def step(self, role: str, convos: list[Conversation], t: int, ctx: StageContext) -> None:
        """One turn of `role` for every live conversation; a bad turn stops its conversation."""
        requests = [self.turn_request(role, c, t, ctx) for c in convos]
        for convo, result in zip(convos, self.ask(requests, Turn, ctx), strict=True):
            convo.calls.append(result)
            text = text_of(result, "message")
            said = {normal(m["content"]) for m in convo.messages if m["role"] == role}
            if not result.ok:
                convo.stop = f"{role} call failed: {result.reason}"
            elif not text:
                convo.stop = f"empty {role} turn"
            elif normal(text) in said:
                convo.stop = f"repeated {role} turn"
            else:
                convo.messages.append({"role": role, "content": text})

    def turn_request(self, role: str, convo: Conversation, t: int, ctx: StageContext) -> Request:
        key = (convo.record.meta.id, role, t)
        schema = json_schema({"message": self.max_chars})
        if role == "user":
            text = self.fill("user", convo.record.data, conversation=transcript(convo.messages))
            return self.request(text, ctx, key, schema)
        head = [{"role": "system", "content": self.system}] if self.system else []
        return self.chat([*head, *convo.messages], ctx, key, schema)

    def row(self, convo: Conversation) -> Record:
        """The conversation up to its last assistant turn; none at all rejects the row."""
        messages = list(convo.messages)
        while messages and messages[-1]["role"] == "user":
            messages.pop()
        head = [{"role": "system", "content": self.system}] if self.system and messages else []
        data = {
            **convo.record.data,
            "messages": [*head, *messages],
            "turns": sum(m["role"] == "assistant" for m in messages),
            "stop_reason": convo.stop or "",
        }
        failed = [c for c in convo.calls if c.transient]
        ok = [c for c in convo.calls if c.ok]
        if not convo.calls:  # nothing was asked (an empty opening)
            record = convo.record.child(data, stage=self.label, recipe=RECIPE)
            return record.reject(self.label, convo.stop or "empty opening")
        base = failed[0] if failed else ok[-1] if ok else convo.calls[0]
        out = emit_child(base, convo.record, data, stage=self.label, recipe=RECIPE)
        out = chained(out, convo.calls)
        if out.rejected or messages:
            return out
        reason = convo.stop or "no assistant turn"
        return out.reject(self.label, reason, raw={"messages": convo.messages})
