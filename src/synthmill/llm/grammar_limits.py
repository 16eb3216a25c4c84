"""A JSON schema as a llama.cpp grammar that llama.cpp can parse, never a crash.

llama-cpp-python writes `maxLength: N` (and maxItems, regex `{m,n}`) as N nested optional
groups; llama.cpp's grammar parser refuses a grammar with ~1000+ generated rules ("number of
rules ... exceeds sane defaults") and llama-cpp-python then adds the NULL sampler it got
back and the process dies with SIGSEGV. So the grammar is parsed once in a probe first;
bounds that are too large are relaxed (the reply is still validated against the user's
schema afterwards, and max_tokens bounds its length), and a schema no relaxation can save
is a clean error.
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

BOUND_KEYS = frozenset({"maxLength", "minLength", "maxItems", "minItems"})
# Values, not schemas: never rewritten.
_DATA_KEYS = frozenset({"const", "enum", "default", "examples"})
# Bounds above the first cap are dropped up front (1000 parses alone, 1100 does not);
# the later caps are tried when the probe refuses the grammar (many bounded fields).
CAPS: tuple[int, ...] = (1000, 200, 20, 0)


def relax_bounds(schema: Any, cap: int, drop_patterns: bool = False) -> Any:
    """A copy of the schema without length/items bounds above `cap` (and maybe patterns)."""
    return _relax(copy.deepcopy(schema), cap, drop_patterns)


def _relax(node: Any, cap: int, drop_patterns: bool) -> Any:
    if isinstance(node, list):
        return [_relax(item, cap, drop_patterns) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in BOUND_KEYS and isinstance(value, int) and value > cap:
            continue
        if key == "pattern" and drop_patterns and isinstance(value, str):
            continue
        out[key] = value if key in _DATA_KEYS else _relax(value, cap, drop_patterns)
    return out


def grammar_candidates(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The schemas to try in order: bounds relaxed step by step, patterns dropped last."""
    out = [relax_bounds(schema, cap) for cap in CAPS]
    out.append(relax_bounds(schema, 0, drop_patterns=True))
    unique: list[dict[str, Any]] = []
    for candidate in out:
        if candidate not in unique:
            unique.append(candidate)
    return unique


def schema_grammar(llama_cpp: Any, vocab: Any, schema: dict[str, Any]) -> Any | None:
    """A LlamaGrammar for the first candidate llama.cpp parses; None when none does."""
    for candidate in grammar_candidates(schema):
        grammar = _to_grammar(llama_cpp, candidate)
        if grammar is not None and parses(llama_cpp, vocab, grammar):
            return grammar
    return None


def _to_grammar(llama_cpp: Any, schema: dict[str, Any]) -> Any | None:
    """llama-cpp-python's grammar for a schema; its generic JSON grammar when it cannot."""
    grammars = llama_cpp.llama_grammar
    try:
        return grammars.LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
    except Exception:  # as llama-cpp-python's own response_format path does
        return grammars.LlamaGrammar.from_string(grammars.JSON_GBNF, verbose=False)


def compact_grammar(schema: dict[str, Any]) -> str | None:
    """The schema as llama-cpp-python's GBNF text, for llama-server's `grammar` field.

    The same grammar the in-process engine samples with: at most one space between JSON
    tokens. llama-server's own converter (its `json_schema` field) allows up to two
    newlines and 20 spaces at each, and a small model spends a quarter of a reply's
    tokens on them (measured: 1010 vs 764 tokens for 24 one-sentence answers). None when
    llama-cpp-python cannot convert the schema (the caller sends `json_schema` instead).
    """
    return _gbnf(json.dumps(schema))  # key order kept: it is the order properties are written


@functools.cache
def _gbnf(schema: str) -> str | None:
    try:
        from llama_cpp.llama_grammar import json_schema_to_gbnf
    except ImportError:
        return None
    try:
        return str(json_schema_to_gbnf(schema))
    except Exception:  # a schema its converter does not cover: llama-server's may
        return None


def parses(llama_cpp: Any, vocab: Any, grammar: Any) -> bool:
    """Whether llama.cpp's own parser accepts the grammar (it returns NULL when not)."""
    low = llama_cpp.llama_cpp
    text, root = grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
    sampler = low.llama_sampler_init_grammar(vocab, text, root)
    if not sampler:
        return False
    low.llama_sampler_free(sampler)
    return True
