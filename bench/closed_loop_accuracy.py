"""`synthmill evaluate --accuracy`: accuracy on held-out generated problems before and
after fine-tuning on a run of verified problem/solution rows. One real measurement.

    nice .venv/bin/python bench/closed_loop_accuracy.py [--n 10] [--rows 10] [--out FILE]
    # writes bench/results/closed_loop_accuracy.json

The run: `--rows` generated problems of each of two easy families (arithmetic.integer,
number_theory.gcd, difficulty 1), each with a short templated solution that states the
gold answer, kept by verify.math (a stand-in for rejection_sampling's sampled solutions:
the embedded model's own samples would take far longer on this machine). The reference:
5 other problems per family. `evaluate --accuracy N` (3 seeds, the default steps, one
thread) scores N held-out problems per family with the base model and each seed's model.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._machine import machine
from synthmill import Output, Pipeline
from synthmill.problems import FAMILIES
from synthmill.sources.read import Read
from synthmill.verify.math_check import MathCheck

ROOT = Path(__file__).resolve().parents[1]
FAMILIES_USED = ("arithmetic.integer", "number_theory.gcd")


def rows(n: int, tag: str) -> list[dict[str, object]]:
    out = []
    for family in FAMILIES_USED:
        for i in range(n):
            p = FAMILIES[family](random.Random(f"{tag}/{family}/{i}"), 1)
            solution = f"{p.problem[:-1]} gives {p.answer}.\n\nAnswer: {p.answer}"
            out.append({**p.to_row(), "solution": solution})
    return out


def write(path: Path, data: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in data), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10, help="held-out problems per family")
    parser.add_argument("--rows", type=int, default=10, help="training problems per family")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "bench/results/closed_loop_accuracy.json"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write(folder / "solved.jsonl", rows(args.rows, "train"))
        write(folder / "real.jsonl", rows(5, "reference"))
        Pipeline(name="accuracy-bench", stages=[Read(path=str(folder / "solved.jsonl")),
                 MathCheck()], output=Output(dir=folder / "run")).run()  # fmt: skip
        started = time.monotonic()
        cmd = [str(ROOT / ".venv/bin/synthmill"), "evaluate", str(folder / "run"),
               "--reference", str(folder / "real.jsonl"), "--seeds", "0,1,2",
               "--accuracy", str(args.n), "--threads", "1"]  # fmt: skip
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        seconds = time.monotonic() - started
        result = json.loads((folder / "run" / "closed_loop.json").read_text(encoding="utf-8"))
    acc = result["accuracy"]
    out = {
        "what": __doc__.split("\n\n")[0] if __doc__ else "",
        "command": " ".join(["synthmill", *cmd[1:]]).replace(tmp, "TMP"),
        "training_rows": result["arms"][0]["rows_trained"],
        "settings": result["settings"],
        "heldout_loss_before": result["before"],
        "heldout_loss_change": {
            "mean": result["arms"][0]["delta_mean"],
            "ci95": result["arms"][0]["delta_ci95"],
        },
        "accuracy": acc["families"],
        "accuracy_per_family": acc["per_family"],
        "max_new_tokens": acc["max_new_tokens"],
        "overlap_with_training": acc["overlap_with_training"],
        "sample_replies": {
            "before": acc["before"]["items"][args.n : args.n + 3],
            "after_seed0": acc["after"][0]["items"][args.n : args.n + 3],
        },
        "evaluate_seconds": round(seconds, 1),
        "machine": machine(),
    }
    args.out.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(acc["families"], indent=2))


if __name__ == "__main__":
    main()
