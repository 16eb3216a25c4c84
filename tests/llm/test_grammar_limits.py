"""Schemas whose llama.cpp grammar would be refused (and crash the process) never crash it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from synthmill.llm import Request
from synthmill.llm.grammar_limits import CAPS, compact_grammar, grammar_candidates, relax_bounds
from synthmill.llm.llamacpp_server import LlamaServer, ServerEngine, ServerSettings


def _text(max_length: int, **extra: object) -> dict[str, object]:
    return {"type": "string", "maxLength": max_length, **extra}


def _schema(**fields: dict[str, object]) -> dict[str, object]:
    return {"type": "object", "properties": fields, "required": list(fields)}


def test_large_bounds_are_dropped_small_ones_kept() -> None:
    items = {"type": "array", "items": _text(5000), "maxItems": 3000, "minItems": 2}
    schema = _schema(a=_text(5000, minLength=1500), b=_text(80), c=items)
    relaxed = relax_bounds(schema, CAPS[0])
    props = relaxed["properties"]
    assert props["a"] == {"type": "string"}
    assert props["b"] == _text(80)
    assert props["c"] == {"type": "array", "items": {"type": "string"}, "minItems": 2}
    assert schema["properties"]["a"]["maxLength"] == 5000  # the user's schema is untouched


def test_values_and_property_names_are_not_rewritten() -> None:
    schema = _schema(maxLength={"type": "integer"}, k={"const": {"maxLength": 9999}})
    schema["properties"]["e"] = {"enum": [{"minItems": 5000}]}
    assert relax_bounds(schema, 0) == schema


def test_candidates_end_with_no_bounds_and_no_patterns() -> None:
    schema = _schema(a=_text(300, pattern="^[a-z]{0,5000}$"), b=_text(10))
    candidates = grammar_candidates(schema)
    assert candidates[0] == schema  # small enough: tried as written first
    assert candidates[-1] == _schema(a={"type": "string"}, b={"type": "string"})
    assert len(candidates) == len({json.dumps(c) for c in candidates})


_CHILD = """
import json, sys
from synthmill.llm.base import Request
from synthmill.llm.llamacpp import LlamaCppBackend
schema = json.loads(sys.argv[1])
ask = Request(messages=({"role": "user", "content": "Reply in JSON."},), max_tokens=6,
              seed=1, json_schema=schema)
(res,) = LlamaCppBackend(n_threads=1, engine=sys.argv[2]).complete([ask])
print(json.dumps({"text": res.text, "error": res.error}))
"""

HOSTILE = {
    "one long string": _schema(a=_text(5000)),
    "min and max long": _schema(a=_text(5000, minLength=1200)),
    "many mid-size fields": _schema(**{f"f{i}": _text(900) for i in range(6)}),
    "long array": _schema(a={"type": "array", "items": _text(50), "maxItems": 4000}),
    "regex repetition": _schema(a={"type": "string", "pattern": "^[a-z]{0,5000}$"}),
}


@pytest.mark.model
@pytest.mark.slow
@pytest.mark.parametrize("engine", ["python", "server"])
@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_schema_completes_or_rejects_cleanly(name: str, engine: str) -> None:
    arg = json.dumps(HOSTILE[name])
    run = subprocess.run(
        [sys.executable, "-c", _CHILD, arg, engine], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, f"{name}: exit {run.returncode}\n{run.stderr[-800:]}"
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["error"] is None or out["error"].startswith("llamacpp:"), out
    if out["error"] is None:
        assert out["text"].startswith("{")  # still constrained to the JSON object


@pytest.mark.model
def test_the_written_schema_is_refused_by_llama_cpp_and_the_relaxed_one_parses() -> None:
    import llama_cpp

    from synthmill.llm.grammar_limits import _to_grammar, parses, schema_grammar
    from synthmill.llm.llamacpp import LlamaCppBackend, load_model

    backend = LlamaCppBackend(n_threads=1)
    vocab = load_model(backend.resolved_path(), backend.n_ctx, 1).llm._model.vocab
    for schema in (_schema(a=_text(1200)), HOSTILE["regex repetition"]):
        assert not parses(llama_cpp, vocab, _to_grammar(llama_cpp, schema))  # would crash
        assert parses(llama_cpp, vocab, schema_grammar(llama_cpp, vocab, schema))
    small = _schema(a=_text(120), b=_text(40))
    kept = schema_grammar(llama_cpp, vocab, small)
    assert kept._grammar == _to_grammar(llama_cpp, small)._grammar  # small bounds kept


@pytest.mark.model
def test_a_schema_no_relaxation_saves_is_an_error_completion(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from synthmill.llm import llamacpp
    from synthmill.llm.base import Request

    monkeypatch.setattr(llamacpp, "schema_grammar", lambda *_: None)
    ask = Request(
        messages=({"role": "user", "content": "Hi"},),
        max_tokens=4,
        seed=1,
        json_schema=_schema(zz_unsaveable=_text(7)),
    )
    (res,) = llamacpp.LlamaCppBackend(n_threads=1, engine="python").complete([ask])
    assert res.error is not None and "too complex" in res.error and res.finish_reason == "error"


def test_the_server_gets_the_compact_grammar_in_property_order() -> None:
    schema = _schema(question=_text(80), answer=_text(80))
    grammar = compact_grammar(schema)
    assert grammar is not None
    assert 'space ::= " "?' in grammar  # one optional space, never newlines and indents
    root = next(line for line in grammar.splitlines() if line.startswith("root ::="))
    assert root.index("question") < root.index("answer")  # the order properties are written
    _, body = _engine().body(Request(messages=({"role": "user", "content": "hi"},)), schema)
    assert body["grammar"] == grammar and "json_schema" not in body


def test_a_schema_the_converter_cannot_take_goes_to_the_server_as_json_schema() -> None:
    schema = _schema(a={"$ref": "#/definitions/missing"})
    assert compact_grammar(schema) is None
    _, body = _engine().body(Request(messages=({"role": "user", "content": "hi"},)), schema)
    assert body["json_schema"] == schema and "grammar" not in body


def _engine() -> ServerEngine:
    """A ServerEngine whose server is never started (body() needs no process)."""
    return ServerEngine(LlamaServer(ServerSettings("llama-server", "m.gguf", 512, 1, 1)), "m", 0)
