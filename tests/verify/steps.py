"""Stand-in 'model outputs' used as map stages by the verify tests."""

from __future__ import annotations

from synthmill import Record, StageContext

HOSTILE = [
    "import os\nwhile True:\n    os.fork()\n",
    "x = []\nwhile True:\n    x.append(' ' * 10**7)\n",
    "while True:\n    pass\n",
    "while True:\n    print('x' * 100000)\n",
    "import os, signal\nos.killpg(0, signal.SIGKILL)\n",
    "open('/etc/shadow').read()\n",
]


def reference(batch: list[Record], ctx: StageContext) -> list[Record]:
    """The reference solution, wrapped in a markdown fence as a model would write it."""
    return [r.with_data(solution=f"Sure:\n```python\n{r.data['answer']}```\n") for r in batch]


def hostile(batch: list[Record], ctx: StageContext) -> list[Record]:
    """One of the hostile programs per row, chosen by the row's position."""
    out = []
    for i, r in enumerate(batch):
        out.append(r.with_data(solution=HOSTILE[(i + ctx.shard) % len(HOSTILE)]))
    return out


def half_right(batch: list[Record], ctx: StageContext) -> list[Record]:
    """Every other row states the gold answer; the rest state a wrong one."""
    out = []
    for r in batch:
        right = ctx.rng(r.meta.id).random() < 0.5
        answer = r.data["answer"] if right else f"{r.data['answer']}1"
        text = f"{'Correct' if right else 'Wrong'} work...\nAnswer: {answer}"
        out.append(r.with_data(solution=text))
    return out
