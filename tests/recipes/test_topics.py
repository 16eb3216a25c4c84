"""`topics.cluster`: textbook topics clustered from documents (MiniLM embeddings, k-means),
each named by the model, then fed to `textbook`. The clusters must separate a corpus of
cooking and astronomy documents; naming runs with the fake backend and the embedded model."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from synthmill import Pipeline
from synthmill.errors import MissingExtraError, RunFailedError
from synthmill.llm.base import Request
from tests.recipes.test_embedded import kept, rejects

pytestmark = pytest.mark.slow  # loads MiniLM (torch)
HERE = "tests.recipes.test_topics"
COOKING = [
    "Knead the bread dough for ten minutes, then let it rise in a warm kitchen until doubled.",
    "Simmer the tomato sauce with garlic and basil, stirring so it does not burn the pan.",
    "Whisk eggs with sugar and butter, fold in flour, and bake the cake at 180 degrees.",
    "Season the roast chicken with salt, pepper and rosemary before it goes into the oven.",
]
ASTRONOMY = [
    "The telescope revealed Jupiter's four largest moons orbiting the giant planet.",
    "A supernova is the explosion of a massive star at the end of its life.",
    "Galaxies contain billions of stars held together by gravity and dark matter.",
    "The Moon's phases come from how much of its sunlit side faces the Earth.",
]
NAMES: list[str] = []


def namer(request: Request) -> str:
    """Names a cluster by what its snippets talk about; records the prompt."""
    prompt = request.messages[-1]["content"]
    NAMES.append(prompt)
    if "a tricky one" in prompt:
        return json.dumps({"topic": "  " if "oven" in prompt else "Topic."})
    return json.dumps({"topic": "Cooking basics" if "oven" in prompt else "The night sky"})


def corpus(tmp: Path, extra: list[str] = ()) -> Path:  # type: ignore[assignment]
    docs = [*COOKING, *ASTRONOMY, *extra]
    path = tmp / "docs.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in docs))
    return path


def config(tmp: Path, backend: dict[str, Any], **options: Any) -> dict[str, Any]:
    stage = {"use": "topics.cluster", "clusters": 2, **options}
    return {
        "name": "topics",
        "seed": 3,
        "backend": backend,
        "stages": [{"use": "read", "path": str(corpus(tmp))}, stage],
        "output": {"dir": str(tmp / "run")},
    }


def by_text(root: Path) -> dict[str, str]:
    """Document id -> its text, from the run's read stage (ids are the topic rows' parents)."""
    from synthmill.pipeline.stage import StageContext
    from synthmill.sources.read import Read

    read = Read.model_validate({"path": str(root.parent / "docs.jsonl")})
    return {r.meta.id: r.data["text"] for r in read.rows(StageContext(seed=3, stage="read"))}


def test_clusters_separate_cooking_from_astronomy_and_name_members(tmp_path: Path) -> None:
    NAMES.clear()
    backend = {"type": "fake", "function": f"{HERE}:namer", "model": "fake-m"}
    columns = {"audience": ["children", "adults"], "format": ["textbook", "story"]}
    cfg = config(tmp_path, backend, per_topic=3, columns=columns)
    root = Pipeline.from_config(cfg).run().root
    rows = kept(root)
    assert len(rows) == 6 and len(NAMES) == 2  # one call per cluster, 3 rows per topic
    texts = by_text(root)
    for r in rows:
        members = [texts[i] for i in r.data["documents"]]
        assert set(r.meta.parents) == set(r.data["documents"]) and r.data["cluster_size"] == 4
        assert set(members) in (set(COOKING), set(ASTRONOMY))  # the clusters separate them
        expected = "Cooking basics" if set(members) == set(COOKING) else "The night sky"
        assert r.data["topic"] == expected and r.meta.recipe == "topics.cluster"
        assert r.data["audience"] in ("children", "adults") and r.meta.prompt_hash
    assert all(p.count("\n- ") == 3 for p in NAMES)  # the 3 documents nearest the centre
    mix = Counter((r.data["audience"], r.data["format"]) for r in rows)
    assert len(mix) > 1  # drawn per row, as `sample` draws


def test_unnamed_cluster_is_rejected_and_topics_feed_textbook(tmp_path: Path) -> None:
    backend = {"type": "fake", "function": f"{HERE}:namer", "model": "fake-m"}
    cfg = config(tmp_path, backend, prompts={"name": "{{ snippets }} a tricky one"})
    with pytest.raises(RunFailedError, match=r"^every row was rejected by 'topics.cluster'"):
        Pipeline.from_config(cfg).run()  # both clusters rejected: nothing published, exit 1
    dropped = rejects(tmp_path / "run")
    reasons = sorted(d["reason"] for d in dropped)
    assert reasons == ["empty topic name", "placeholder topic name"]
    assert not (tmp_path / "run" / "data").exists()

    cfg = config(tmp_path, backend, columns={"audience": ["adults"], "format": ["blog"]})
    reply = {"type": "fake", "replies": [json.dumps({"text": "word " * 40})]}
    cfg["stages"].append({"use": "textbook", "backend": reply})
    cfg["output"]["dir"] = str(tmp_path / "run2")
    rows = kept(Pipeline.from_config(cfg).run().root)
    assert sorted(r.data["topic"] for r in rows) == ["Cooking basics", "The night sky"]
    assert all(r.data["text"].startswith("word") and r.data["documents"] for r in rows)


def test_missing_embed_extra_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import synthmill.pipeline.preflight as preflight

    monkeypatch.setattr(preflight, "_importable", lambda m: m != "sentence_transformers")
    stages = [{"use": "read", "path": str(corpus(tmp_path))}, {"use": "topics.cluster"}]
    with pytest.raises(MissingExtraError, match=r"pip install 'synthmill\[embed\]'"):
        Pipeline.from_config({"stages": stages, "output": {"dir": str(tmp_path / "run")}})


@pytest.mark.model
def test_embedded_model_names_the_clusters(tmp_path: Path) -> None:
    cfg = config(tmp_path, {"type": "llamacpp", "n_threads": 1})
    cfg["allow_empty"] = True  # the 135M model may name neither cluster: checked below
    root = Pipeline.from_config(cfg).run().root
    rows, dropped = kept(root), rejects(root)
    assert len(rows) + len(dropped) == 2
    texts = by_text(root)
    groups = []
    for r in rows:
        assert r.data["topic"] and str(r.meta.model).startswith("SmolLM2")
        groups.append({texts[i] for i in r.data["documents"]})
    for d in dropped:
        assert d["reason"]
    assert all(g in (set(COOKING), set(ASTRONOMY)) for g in groups)
