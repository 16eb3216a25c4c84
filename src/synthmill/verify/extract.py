"""Find the final answer in a model's solution text, and the code in a model's reply.

Order of preference: the last \\boxed{...}; the last "Answer: ..." / "answer is ..." /
"#### ..." line; the last number (integer, decimal, fraction, LaTeX fraction, percent).
"""

from __future__ import annotations

import re

_ANSWER_LINE = re.compile(
    r"(?:final answer|answer)\s*(?:is\b|:|=)\s*:?\s*(.+)|^\s*####\s*(.+)$",
    re.IGNORECASE | re.MULTILINE,
)
_NUMBER = re.compile(
    r"-?(?:\d+\s*)?\\[dt]?frac\{-?\d+\}\{\d+\}"  # \frac{3}{4}, 1\tfrac{3}{4}
    r"|-?\d+\s+\d+\s*/\s*\d+(?![\d.])"  # a mixed number 1 3/4
    r"|-?\d{1,3}(?:,\d{3})+(?:\.\d+)?%?"  # 1,234.5
    r"|-?\d+(?:\.\d+)?\s*/\s*\d+(?:\.\d+)?"  # 3/4
    r"|-?\d*\.?\d+(?:[eE][-+]?\d+)?\s*(?:\\?%)?"  # 42, -0.5, 1e3, 75%
)
_FENCE = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")


def all_boxed(text: str) -> list[str]:
    """The contents of every \\boxed{...} / \\fbox{...}, braces balanced, in order."""
    found = []
    for m in _BOX.finditer(text):
        i = depth_end = m.end()
        depth = 1
        while depth_end < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[depth_end], 0)
            depth_end += 1
        if depth == 0:
            found.append(text[i : depth_end - 1].strip())
    return found


def boxed(text: str) -> str | None:
    """The content of the last \\boxed{...} or \\fbox{...}, braces balanced."""
    found = all_boxed(text)
    return found[-1] if found else None


def _clean(answer: str) -> str:
    """Strip the wrapping people put around an answer: $...$, a final period, bold."""
    answer = answer.strip().strip("*").strip()
    answer = re.sub(r"^\$+|\$+$", "", answer).strip()
    answer = re.sub(r"^\\\(|\\\)$|^\\\[|\\\]$", "", answer).strip()
    return answer.rstrip(".").strip()


def answer_line(text: str) -> str | None:
    """The rest of the last line that says "Answer: X", "the answer is X" or "#### X"."""
    matches = list(_ANSWER_LINE.finditer(text))
    if not matches:
        return None
    last = matches[-1]
    found = _clean(last.group(1) or last.group(2) or "")
    inner = boxed(found)
    return inner if inner is not None else (found or None)


def last_number(text: str, count: int = 1) -> str | None:
    """The last number-like token (42, -3.5, 3/4, \\frac{3}{4}, 1,000, 75%), or the last
    `count` of them joined by commas when the gold answer is a list."""
    found = [m.group(0).strip() for m in _NUMBER.finditer(text)]
    found = [f for f in found if any(c.isdigit() for c in f)]
    return ", ".join(found[-count:]) if found else None


def extract_answer(text: str, count: int = 1) -> str | None:
    """The final answer of a solution, or None when it states none.

    `count` is how many numbers a bare-number fallback takes (the roots of a quadratic).
    """
    for finder in (boxed, answer_line):
        found = finder(text)
        if found:
            return _clean(found) or None
    found = last_number(text, count)
    return _clean(found) if found else None


def extract_code(text: str) -> str:
    """The code in a reply: the longest ```python fenced block, else the reply itself."""
    blocks = _FENCE.findall(text)
    if blocks:
        return str(max(blocks, key=len))
    return text
