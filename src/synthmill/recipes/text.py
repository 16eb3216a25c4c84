"""Small text measures the recipes share: word tokens, ROUGE-L, content-word overlap."""

from __future__ import annotations

import re
from collections.abc import Sequence

_WORD = re.compile(r"[a-z0-9]+")

_STOP = """a about above after again against all am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    few for from further had has have having he her here hers herself him himself his how
    i if in into is it its itself just me more most my myself no nor not now of off on
    once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too
    under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves"""
STOPWORDS = frozenset(_STOP.split())


def words(text: str) -> list[str]:
    """Lowercased alphanumeric tokens, as ROUGE's default tokenizer makes them."""
    return _WORD.findall(text.lower())


def content_words(text: str) -> list[str]:
    """Tokens that are not stop words: what carries the meaning of a sentence."""
    return [w for w in words(text) if w not in STOPWORDS]


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence, in O(len(a) * len(b)) time, O(len(b)) memory."""
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(a: str | Sequence[str], b: str | Sequence[str]) -> float:
    """ROUGE-L F1 between two texts (or token lists), the Self-Instruct similarity measure."""
    ta = words(a) if isinstance(a, str) else a
    tb = words(b) if isinstance(b, str) else b
    if not ta or not tb:
        return 0.0
    lcs = lcs_length(ta, tb)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(ta), lcs / len(tb)
    return 2 * precision * recall / (precision + recall)


def stem(word: str) -> str:
    """A crude plural stripper, so 'plants' in an answer matches 'plant' in its source."""
    if len(word) > 4 and word.endswith("es") and word[-3] in "sxz":
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def coverage(part: str, whole: str) -> float:
    """Share of the content words of `part` that also occur in `whole` (1.0 if none)."""
    needed = [stem(w) for w in content_words(part)]
    if not needed:
        return 1.0
    present = {stem(w) for w in words(whole)}
    return sum(w in present for w in needed) / len(needed)
