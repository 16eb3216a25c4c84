"""Does the data help, for a run of verified problem/solution rows (rejection sampling):
the model's accuracy on held-out generated problems of each family, before and after
fine-tuning on the run, checked by synthmill's own verifier.

Held-out problems come from synthmill's own generators (`synthmill.problems.FAMILIES`),
for each math family the run's rows have, at the difficulties those rows have, drawn
from a random stream of their own (not the run's) and never equal to a problem text
the run trains on. The model answers each one greedily, prompted exactly as the run's
rows are trained (the problem as the user turn of the chat template), and each answer
is checked against the generator's gold answer by `check_many`, the comparison the
rejection_sampling recipe and `verify.math` use. Code families are not scored (their
checker runs code in the sandbox; not done here).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from synthmill.errors import DataError
from synthmill.problems import FAMILIES
from synthmill.verify.equivalence import MathTask, check_many

STREAM = "synthmill.evaluate.heldout-problems"  # the held-out draws' own random stream
MAX_NEW_TOKENS = 64
CHECKER = (
    "synthmill.verify.equivalence.check_many (as rejection_sampling and verify.math): "
    "the final answer of the text against the generator's gold answer"
)
SCOPE = (
    "A 135M-parameter model answering greedily in a few dozen tokens solves few generated "
    "problems before or after a short LoRA fine-tune; accuracy near 0 on most families is "
    "expected. The numbers show the mechanism and the direction on easy families, not "
    "what a larger model would gain."
)
# Answers texts for a list of problem texts (one reply each, in order).
Answerer = Callable[[Sequence[str]], list[str]]


@dataclass(frozen=True)
class HeldOut:
    """One held-out problem: its text, gold answer, family and difficulty."""

    problem: str
    answer: str
    family: str
    difficulty: int


@dataclass
class Plan:
    """What to score: the held-out problems (n per family) and how they were drawn."""

    n: int
    problems: list[HeldOut]
    short: list[str]  # families with fewer than n problems left to draw
    code: list[str]  # code families in the run, not scored
    overlap: int  # held-out problem texts that are also training problem texts (0)
    max_new_tokens: int = MAX_NEW_TOKENS


def plan_for(
    rows: Sequence[dict[str, Any]], n: int, max_new_tokens: int = MAX_NEW_TOKENS, seed: int = 0
) -> Plan:
    """The held-out problems for a run's rows; a DataError when they are not problem rows."""
    if not is_problem_rows(rows):
        raise DataError(
            "--accuracy needs a run of verified problem rows (problem, answer, solution and "
            "a synthmill family in every row, as rejection_sampling writes)"
        )
    problems, short, code = heldout_problems(rows, n, seed)
    trained = {str(r["problem"]).strip() for r in rows}
    overlap = sum(p.problem in trained for p in problems)
    return Plan(n, problems, short, code, overlap, max_new_tokens)


def is_problem_rows(rows: Sequence[dict[str, Any]]) -> bool:
    """Rows of verified problem/solution pairs: problem, answer, solution and a known family."""
    need = {"problem", "answer", "solution", "family"}
    return bool(rows) and all(need <= r.keys() and str(r.get("family")) in FAMILIES for r in rows)


def families_of(rows: Sequence[dict[str, Any]]) -> tuple[dict[str, list[int]], list[str]]:
    """(math family -> the difficulties its rows have, code families skipped)."""
    levels: dict[str, set[int]] = {}
    for row in rows:
        levels.setdefault(str(row["family"]), set()).add(int(row.get("difficulty") or 1))
    code = sorted(f for f in levels if f.startswith("code."))
    return {f: sorted(levels[f]) for f in sorted(levels) if f not in code}, code


def heldout_problems(
    rows: Sequence[dict[str, Any]], n: int, seed: int = 0
) -> tuple[list[HeldOut], list[str], list[str]]:
    """n held-out problems per math family of `rows` (fewer only when the family's space at
    those difficulties is used up), none equal to a training problem or to another; also
    the families that had fewer than n, and the code families skipped."""
    if n < 1:
        raise DataError("--accuracy must be at least 1 (held-out problems per family)")
    families, code = families_of(rows)
    if not families:
        raise DataError("--accuracy: the run has no math problem families to score")
    seen = {str(r["problem"]).strip() for r in rows}
    out: list[HeldOut] = []
    short = []
    for family, levels in families.items():
        made = 0
        for attempt in range(200 * n):
            rng = random.Random(f"{STREAM}/{seed}/{family}/{attempt}")
            problem = FAMILIES[family](rng, rng.choice(levels))
            text = problem.problem.strip()
            if text in seen:
                continue
            seen.add(text)
            out.append(HeldOut(text, problem.answer, family, problem.difficulty))
            made += 1
            if made == n:
                break
        if made < n:
            short.append(family)
    return out, short, code


def score(problems: Sequence[HeldOut], answer: Answerer, timeout: float = 5.0) -> dict[str, Any]:
    """Ask `answer` for every problem at once, check each reply with the pipeline's checker;
    per family: correct, total, accuracy; and every item with its verdict."""
    replies = answer([p.problem for p in problems])
    if len(replies) != len(problems):
        raise ValueError(f"{len(replies)} replies for {len(problems)} problems")
    tasks = [MathTask(p.answer, r, p.problem) for p, r in zip(problems, replies, strict=True)]
    results = check_many(tasks, timeout=timeout)
    items: list[dict[str, Any]] = []
    tally: dict[str, tuple[int, int]] = {}
    for p, reply, result in zip(problems, replies, results, strict=True):
        items.append({"family": p.family, "reply": reply, "stated": result.answer,
                      "verdict": result.outcome, "method": result.method})  # fmt: skip
        right, total = tally.get(p.family, (0, 0))
        tally[p.family] = (right + result.ok, total + 1)
    families = {f: {"correct": c, "total": t, "accuracy": round(c / t, 4)}
                for f, (c, t) in sorted(tally.items())}  # fmt: skip
    return {"families": families, "items": items}


def generate(net: Any, tokenizer: Any, prompts: Sequence[str], max_new_tokens: int,
             batch: int = 8) -> list[str]:  # fmt: skip
    """Greedy replies of `net` to each problem as a one-turn chat (the training format),
    left-padded batches."""
    import torch

    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    texts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False
        )
        for p in prompts
    ]
    out: list[str] = []
    net.eval()
    with torch.inference_mode():
        for start in range(0, len(texts), batch):
            ids = [tokenizer(t, add_special_tokens=False)["input_ids"]
                   for t in texts[start : start + batch]]  # fmt: skip
            width = max(len(i) for i in ids)
            input_ids = torch.tensor([[pad] * (width - len(i)) + i for i in ids])
            mask = torch.tensor([[0] * (width - len(i)) + [1] * len(i) for i in ids])
            made = net.generate(
                input_ids=input_ids,
                attention_mask=mask,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=pad,
                eos_token_id=tokenizer.eos_token_id,
            )
            out += [tokenizer.decode(row[width:], skip_special_tokens=True).strip()
                    for row in made]  # fmt: skip
    return out


def summarize(
    plan: Plan,
    before: dict[str, Any],
    after: Sequence[tuple[int, dict[str, Any]]],
    mean_ci: Callable[[Sequence[float]], tuple[float, float, float]],
) -> dict[str, Any]:
    """The section of closed_loop.json: per family the accuracy before, after per seed,
    its mean and 95% interval over seeds; every problem, reply and verdict."""
    families = {}
    for family, b in before["families"].items():
        values = [a["families"][family]["accuracy"] for _, a in after]
        mean, low, high = mean_ci(values)
        families[family] = {
            "problems": b["total"],
            "before": b["accuracy"],
            "after": values,
            "after_mean": round(mean, 4),
            "after_ci95": [round(low, 4), round(high, 4)],
            "change_mean": round(mean - b["accuracy"], 4),
        }
    return {
        "per_family": plan.n,
        "families": families,
        "problems": [asdict(p) for p in plan.problems],
        "overlap_with_training": plan.overlap,
        "families_short": plan.short,
        "code_families_not_scored": plan.code,
        "max_new_tokens": plan.max_new_tokens,
        "decoding": "greedy, the problem as the user turn of the chat template",
        "stream": STREAM,
        "checker": CHECKER,
        "before": before,
        "after": [{"seed": seed, **a} for seed, a in after],
        "scope": SCOPE,
    }
