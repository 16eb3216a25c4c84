"""The semantic pass of decontaminate (Yang et al. 2023): rephrased HumanEval prompts that
the n-gram pass misses, with the real all-MiniLM-L6-v2; the judge's logic with the fake
backend."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from synthmill.curate.decontaminate import Decontaminate
from synthmill.llm.base import Request
from synthmill.pipeline.stage import StageContext
from synthmill.records import Record

pytest.importorskip("sentence_transformers")

# ruff: noqa: E501
# Rephrasings of HumanEval/0..29 prompts, written for this test: reworded task, renamed
# function and arguments, examples dropped or changed (Yang et al. 2023's rephrased samples).
PARAPHRASES = [
    (
        "HumanEval/0",
        'def any_pair_within(values: list[float], tol: float) -> bool:\n    """Decide whether some two entries of the list lie nearer to one another than tol."""',
    ),
    (
        "HumanEval/1",
        'def split_bracket_clusters(s: str) -> list[str]:\n    """The input holds several balanced groups of nested round brackets, possibly with spaces. Break it into the separate top-level groups, drop the spaces, and return them as a list of strings."""',
    ),
    (
        "HumanEval/2",
        'def fractional_part(x: float) -> float:\n    """A positive float splits into its integer part and the decimals that remain, which are below 1. Give back only the decimals."""',
    ),
    (
        "HumanEval/3",
        'def account_goes_negative(moves: list[int]) -> bool:\n    """A bank balance begins at zero and receives a series of deposits and withdrawals. Report True as soon as the balance drops under zero, otherwise False."""',
    ),
    (
        "HumanEval/4",
        'def mad(xs: list[float]) -> float:\n    """Compute the mean absolute deviation of the numbers: the average absolute distance of each value from the mean of the data."""',
    ),
    (
        "HumanEval/5",
        'def put_between(items: list[int], sep: int) -> list[int]:\n    """Return the list with the separator value inserted between each pair of neighbouring elements."""',
    ),
    (
        "HumanEval/6",
        'def max_depths(groups: str) -> list[int]:\n    """The string contains space-separated groups of nested parentheses. For every group, report how deeply its parentheses are nested at most, e.g. (()()) has depth two and ((())) depth three."""',
    ),
    (
        "HumanEval/7",
        'def keep_containing(words: list[str], part: str) -> list[str]:\n    """Keep only the strings in the list that include the given substring."""',
    ),
    (
        "HumanEval/8",
        'def total_and_product(xs: list[int]) -> tuple[int, int]:\n    """Return a pair holding the sum and the product of the integers; for an empty list the sum is 0 and the product is 1."""',
    ),
    (
        "HumanEval/9",
        'def running_maximum(xs: list[int]) -> list[int]:\n    """For each position in the sequence, output the largest element seen up to and including that position."""',
    ),
    (
        "HumanEval/10",
        'def shortest_palindrome_starting_with(s: str) -> str:\n    """Build the shortest palindrome that begins with the given string: find the longest palindromic suffix and append the reverse of the prefix before it."""',
    ),
    (
        "HumanEval/11",
        'def xor_bits(x: str, y: str) -> str:\n    """Both inputs are strings made of 0s and 1s. Apply bitwise exclusive or to them and return the outcome as a string too."""',
    ),
    (
        "HumanEval/12",
        'def longest_string(words: list[str]) -> str | None:\n    """From a list of strings pick the longest; on ties keep the earliest one, and return None when the list is empty."""',
    ),
    (
        "HumanEval/13",
        'def gcd_of(x: int, y: int) -> int:\n    """Give the greatest common divisor of the two integers x and y."""',
    ),
    (
        "HumanEval/14",
        'def prefixes(text: str) -> list[str]:\n    """List every prefix of the input string, ordered from the shortest to the longest."""',
    ),
    (
        "HumanEval/15",
        'def numbers_up_to(n: int) -> str:\n    """Produce a string of the numbers from 0 to n inclusive separated by single spaces."""',
    ),
    (
        "HumanEval/16",
        'def distinct_letters(s: str) -> int:\n    """Count how many different characters the string contains, ignoring upper and lower case."""',
    ),
    (
        "HumanEval/17",
        "def beats(notes: str) -> list[int]:\n    \"\"\"Parse a string of musical notes in a special ASCII notation and return how many beats each lasts: 'o' is a whole note of four beats, 'o|' a half note of two beats, '.|' a quarter note of one beat.\"\"\"",
    ),
    (
        "HumanEval/18",
        'def occurrences(text: str, sub: str) -> int:\n    """Count how many times the substring occurs in the original string, counting overlapping occurrences too."""',
    ),
    (
        "HumanEval/19",
        'def order_number_words(s: str) -> str:\n    """The input is a space-separated string of number words from \'zero\' to \'nine\'. Return them sorted from smallest to largest."""',
    ),
    (
        "HumanEval/20",
        'def nearest_pair(xs: list[float]) -> tuple[float, float]:\n    """Given at least two numbers, choose the two that are closest to each other and return them as (smaller, larger)."""',
    ),
    (
        "HumanEval/21",
        'def scale_to_unit_interval(xs: list[float]) -> list[float]:\n    """Apply a linear transformation to a list of at least two numbers so that the minimum becomes 0 and the maximum becomes 1."""',
    ),
    (
        "HumanEval/22",
        'def only_ints(items: list) -> list[int]:\n    """From a list of arbitrary Python values, keep just the integers."""',
    ),
    (
        "HumanEval/23",
        'def string_length(s: str) -> int:\n    """Return how many characters the given string has."""',
    ),
    (
        "HumanEval/24",
        'def biggest_proper_divisor(n: int) -> int:\n    """For the number n, return the largest number smaller than n that divides it evenly."""',
    ),
    (
        "HumanEval/25",
        'def prime_factors(n: int) -> list[int]:\n    """Return the prime factors of an integer from smallest to largest, each repeated as many times as it appears in the factorization, so that their product equals the input."""',
    ),
    (
        "HumanEval/26",
        'def drop_repeated(xs: list[int]) -> list[int]:\n    """Remove every element that appears more than once in the list of integers, keeping the remaining ones in their original order."""',
    ),
    (
        "HumanEval/27",
        'def swap_case(s: str) -> str:\n    """Turn lowercase letters of the string into uppercase and uppercase ones into lowercase."""',
    ),
    (
        "HumanEval/28",
        'def join_all(parts: list[str]) -> str:\n    """Join a list of strings together into one string."""',
    ),
    (
        "HumanEval/29",
        'def starting_with(words: list[str], start: str) -> list[str]:\n    """Keep only the strings of the list that begin with the given prefix."""',
    ),
]

# Coding tasks of the same kind and length that rephrase no HumanEval item.
CLEAN = [
    'def parse_iso_date(s: str) -> tuple[int, int, int]:\n    """Split a date written as YYYY-MM-DD into year, month and day integers."""',
    'def merge_dicts(a: dict, b: dict) -> dict:\n    """Return a new dictionary with the keys of both; values of b win on conflicts."""',
    'def word_frequencies(text: str) -> dict[str, int]:\n    """Count how often each word occurs in a text, ignoring punctuation."""',
    'def celsius_to_fahrenheit(c: float) -> float:\n    """Convert a temperature from degrees Celsius to Fahrenheit."""',
    'def chunk(xs: list, size: int) -> list[list]:\n    """Cut a list into consecutive pieces of the given size; the last may be shorter."""',
    'def read_csv_header(path: str) -> list[str]:\n    """Open a CSV file and return the column names from its first line."""',
    'def matrix_transpose(m: list[list[int]]) -> list[list[int]]:\n    """Swap the rows and columns of a rectangular matrix."""',
    'def slugify(title: str) -> str:\n    """Turn a blog post title into a URL slug of lowercase words joined by hyphens."""',
    'def validate_email(address: str) -> bool:\n    """Check that an email address has one @ and a dot in the domain part."""',
    'def http_status_text(code: int) -> str:\n    """Map an HTTP status code such as 404 to its reason phrase."""',
    'def roman_to_int(s: str) -> int:\n    """Convert a Roman numeral such as MCMXCIV to an integer."""',
    'def dijkstra(graph: dict, source: str) -> dict[str, float]:\n    """Shortest path distances from the source in a weighted graph with non-negative edges."""',
    'def lru_cache_get(cache: dict, key: str, order: list) -> object:\n    """Fetch a value and mark the key as most recently used."""',
    'def rotate_image(pixels: list[list[int]]) -> list[list[int]]:\n    """Rotate a square image given as a pixel grid by 90 degrees clockwise."""',
    'def hex_to_rgb(color: str) -> tuple[int, int, int]:\n    """Convert a colour like #ff8800 into its red, green and blue components."""',
    'def tokenize_sql(query: str) -> list[str]:\n    """Split an SQL query into keywords, identifiers, literals and symbols."""',
    'def compound_interest(principal: float, rate: float, years: int) -> float:\n    """Money after the given years when interest is compounded once a year."""',
    'def is_valid_sudoku(board: list[list[str]]) -> bool:\n    """Check that no row, column or 3x3 box of a partly filled sudoku repeats a digit."""',
    'def levenshtein(a: str, b: str) -> int:\n    """The minimum number of single-character edits that turn a into b."""',
    'def parse_query_string(qs: str) -> dict[str, str]:\n    """Decode a URL query string like a=1&b=two into a dictionary."""',
    'def seconds_to_hms(total: int) -> str:\n    """Format a number of seconds as hours:minutes:seconds."""',
    'def flood_fill(grid: list[list[int]], r: int, c: int, color: int) -> None:\n    """Paint the connected region containing cell (r, c) with the new colour in place."""',
    'def top_k_words(text: str, k: int) -> list[str]:\n    """Return the k most common words in a document, most frequent first."""',
    'def bmi(weight_kg: float, height_m: float) -> float:\n    """Body mass index from weight in kilograms and height in metres."""',
    'def queue_from_stacks() -> object:\n    """Implement a first-in first-out queue using two stacks."""',
    'def detect_cycle(edges: list[tuple[int, int]]) -> bool:\n    """Tell whether a directed graph given by its edges contains a cycle."""',
    'def render_table(rows: list[list[str]]) -> str:\n    """Lay out rows of cells as a plain-text table with aligned columns."""',
    'def luhn_valid(card: str) -> bool:\n    """Check a credit card number with the Luhn checksum."""',
    'def json_pointer(doc: dict, pointer: str) -> object:\n    """Resolve a JSON pointer such as /a/0/b inside a parsed document."""',
    'def haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:\n    """Great-circle distance in kilometres between two points on Earth."""',
]


def _raw(record: Record) -> dict[str, Any]:
    assert record.meta.rejection is not None
    raw: dict[str, Any] = record.meta.rejection.raw
    return raw


def rows(texts: list[str]) -> list[Record]:
    return [Record.new({"text": t}, key=t, stage="read") for t in texts]


def run(stage: Decontaminate, texts: list[str]) -> tuple[list[Record], StageContext]:
    ctx = StageContext(0, stage.label)
    return stage.process(rows(texts), ctx), ctx


@pytest.fixture(scope="module")
def semantic() -> Decontaminate:
    return Decontaminate(semantic={})


@pytest.mark.slow
@pytest.mark.model
def test_rephrased_items_caught_by_the_semantic_pass_only(semantic: Decontaminate) -> None:
    texts = [t for _, t in PARAPHRASES]
    ngram_only, _ = run(Decontaminate(), texts)
    assert sum(r.rejected for r in ngram_only) == 0  # the gap: no 20-word shared run
    out, ctx = run(semantic, texts)
    caught = [r for r in out if r.rejected]
    right = [
        r
        for r, (item, _) in zip(out, PARAPHRASES, strict=True)
        if r.rejected and _raw(r)["item"] == item
    ]
    print(f"semantic pass caught {len(caught)}/30, {len(right)} naming the right item")
    assert len(caught) >= 20 and len(right) == len(caught)
    assert ctx.counters["semantic"] == len(caught) and ctx.counters["ngram"] == 0
    raw = _raw(caught[0])
    assert raw["pass"] == "semantic" and raw["benchmark"] == "humaneval"
    assert 0.75 <= raw["similarity"] <= 1 and "judge_reason" not in raw
    rejection = caught[0].meta.rejection
    assert rejection is not None and rejection.reason == "semantic match with humaneval"


@pytest.mark.slow
@pytest.mark.model
def test_clean_tasks_are_not_flagged_and_ngram_hits_keep_their_pass(
    semantic: Decontaminate,
) -> None:
    out, ctx = run(semantic, CLEAN)
    flagged = [r for r in out if r.rejected]
    print(f"semantic pass false positives: {len(flagged)}/30")
    assert not flagged and ctx.counters["semantic"] == 0
    prompt = next(i.text for i in semantic.benchmarks[0].items() if i.column == "prompt")
    out, ctx = run(semantic, ["Solve this:\n" + prompt])
    assert _raw(out[0])["pass"] == "ngram" and ctx.counters["ngram"] == 1
    assert ctx.counters["semantic"] == 0  # a row the n-gram pass took is not asked twice


@pytest.fixture
def small_bench(tmp_path: Path) -> list[dict[str, object]]:
    """Four HumanEval prompts as a benchmark file: the judge tests embed little."""
    items = Decontaminate().benchmarks[0].items()
    keep = {"HumanEval/0", "HumanEval/13", "HumanEval/23", "HumanEval/27"}
    lines = [
        json.dumps({"id": i.item, "text": i.text})
        for i in items
        if i.column == "prompt" and i.item in keep
    ]
    path = tmp_path / "he4.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return [{"name": "humaneval", "path": str(path), "columns": ["text"], "id_column": "id"}]


def judge_says_yes_for_item_13(request: Request) -> str:
    """A fake judge: a rephrasing of HumanEval/13 only, whatever else is near."""
    user = request.messages[-1]["content"]
    yes = "(humaneval HumanEval/13)" in user
    return json.dumps({"rephrased": yes, "reason": "same task" if yes else "other task"})


GCD_ROW = dict(PARAPHRASES)["HumanEval/13"]
FN = f"{__name__}:judge_says_yes_for_item_13"


@pytest.mark.slow
@pytest.mark.model
def test_judge_confirms_a_candidate_beyond_the_nearest(
    small_bench: list[dict[str, object]],
) -> None:
    # a low threshold and top_k 5: the judge sees several candidates per row
    opts = {"threshold": 0.3, "top_k": 5, "judge": True}
    judge = {**opts, "backend": {"type": "fake", "function": FN}}
    stage = Decontaminate(benchmarks=small_bench, semantic=judge)
    out, ctx = run(stage, [GCD_ROW, CLEAN[3]])
    raw = _raw(out[0])
    assert raw["item"] == "HumanEval/13" and raw["judge_reason"] == "same task"
    assert not out[1].rejected  # candidates above 0.3, every one denied by the judge
    assert ctx.counters["semantic"] == 1 and ctx.counters["judge_cleared"] >= 1


@pytest.mark.slow
@pytest.mark.model
def test_judge_no_clears_and_a_failed_judge_rejects_transiently(
    small_bench: list[dict[str, object]],
) -> None:
    no = json.dumps({"rephrased": False, "reason": "different"})
    judge = {"judge": True, "backend": {"type": "fake", "replies": [no]}}
    stage = Decontaminate(benchmarks=small_bench, semantic=judge)
    out, ctx = run(stage, [GCD_ROW])
    assert not out[0].rejected and ctx.counters["judge_cleared"] == 1
    down = {"type": "fake", "fail_every": 1, "transient": True}
    judge = {"judge": True, "retries": 0, "backend": down}
    stage = Decontaminate(benchmarks=small_bench, semantic=judge)
    out, _ = run(stage, [GCD_ROW, CLEAN[0]])
    rejection = out[0].meta.rejection
    assert rejection is not None and rejection.reason == "semantic judge failed"
    assert rejection.transient and rejection.raw["item"] == "HumanEval/13"
    assert not out[1].rejected  # no candidate, no call


def test_semantic_options_are_checked() -> None:
    from synthmill.errors import ConfigError
    from synthmill.pipeline.config import validate

    with pytest.raises(ConfigError, match="threshold"):
        validate(Decontaminate, {"semantic": {"threshold": 1.5}}, "stages.1")
    with pytest.raises(ConfigError, match="topk"):
        validate(Decontaminate, {"semantic": {"topk": 2}}, "stages.1")
    assert Decontaminate().semantic is None  # off by default: no model loaded


@pytest.mark.slow
@pytest.mark.model
def test_cli_semantic_flag_reports_both_passes(tmp_path: Path) -> None:
    prompt = next(i.text for i in Decontaminate().benchmarks[0].items() if i.item == "HumanEval/5")
    texts = [prompt, GCD_ROW, dict(PARAPHRASES)["HumanEval/27"], CLEAN[0], CLEAN[1]]
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    base = [sys.executable, "-m", "synthmill", "decontaminate", str(src), "-o", str(out)]
    r = subprocess.run([*base, "--semantic"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    kept = [json.loads(line)["text"] for line in out.read_text().splitlines()]
    assert kept == CLEAN[:2]
    rejects = [json.loads(x) for x in (tmp_path / "out.rejects.jsonl").read_text().splitlines()]
    passes = sorted((x["raw"]["pass"], x["raw"]["item"]) for x in rejects)
    assert passes == [
        ("ngram", "HumanEval/5"),
        ("semantic", "HumanEval/13"),
        ("semantic", "HumanEval/27"),
    ]
    stats = json.loads((tmp_path / "out.stats.json").read_text())
    counters = json.dumps(stats)
    assert '"ngram": 1' in counters and '"semantic": 2' in counters
    r = subprocess.run([*base, "--judge", "--overwrite"], capture_output=True, text=True)
    assert r.returncode == 2 and "--semantic" in r.stderr


@pytest.mark.slow
@pytest.mark.model
def test_judge_with_the_embedded_model(small_bench: list[dict[str, object]]) -> None:
    pytest.importorskip("llama_cpp")
    from synthmill.llm.structured import FAILED, OK_FIRST, OK_RETRY

    judge = {"judge": True, "max_tokens": 64, "backend": {"type": "llamacpp"}}
    stage = Decontaminate(benchmarks=small_bench, semantic=judge)
    out, ctx = run(stage, [GCD_ROW])
    assert sum(ctx.counters[k] for k in (FAILED, OK_FIRST, OK_RETRY)) == 1  # really asked
    rejection = out[0].meta.rejection
    if rejection is None:  # the small model may say no: then the judge cleared it
        assert ctx.counters["judge_cleared"] == 1
    elif rejection.reason == "semantic judge failed":
        assert "output" in rejection.raw and rejection.raw["item"] == "HumanEval/13"
    else:
        assert rejection.reason == "semantic match with humaneval"
        assert isinstance(rejection.raw["judge_reason"], str)
