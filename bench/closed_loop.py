"""Does the quickstart's data help? One real closed-loop comparison.

    nice .venv/bin/python bench/closed_loop.py [--run RUN_DIR] [--steps N] [--out FILE]
    # writes bench/results/closed_loop.json

The Self-Instruct quickstart (`examples/self_instruct_quickstart.yaml`, the quickstart
that starts from seed data) writes N instruction/output rows with the embedded model from
synthmill's 40 human-written seed tasks. This fine-tunes the embedded SmolLM2-135M (LoRA)
on those N synthetic rows, and with the same budget on N seed tasks, and scores both on
the seed tasks that neither saw (held-out real rows), over 3 seeds: does the synthetic
data beat, match or hurt the same number of real rows? The run is made first unless
--run names a finished one.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._machine import machine
from synthmill.curate.apply import FileRecords
from synthmill.measure import closed_loop as cl
from synthmill.recipes.seeds import BUILTIN, load_seed_tasks

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
EXAMPLE = ROOT / "examples" / "self_instruct_quickstart.yaml"
MIN_HELDOUT = 12  # seed tasks always held out, whatever the run's size


def make_run(out: Path) -> float:
    """Run the quickstart into `out`; its wall seconds."""
    started = time.monotonic()
    cmd = [str(ROOT / ".venv/bin/synthmill"), "run", str(EXAMPLE), "--set", f"output.dir={out}"]
    subprocess.run(cmd, check=True, cwd=ROOT)
    return time.monotonic() - started


def seed_dataset() -> cl.Dataset:
    rows = [
        {"instruction": t.instruction, "input": t.input, "output": t.output}
        for t in load_seed_tasks(BUILTIN)
    ]
    return cl.make_dataset("seed tasks", "synthmill/data/seed_tasks.jsonl", rows, {})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=None, help="a finished quickstart run")
    parser.add_argument("--steps", type=int, default=None, help="default: 3 passes, at most 60")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS / "closed_loop.json")
    args = parser.parse_args()
    info = machine()
    run = args.run or ROOT / "runs" / "self_instruct_quickstart"
    run_seconds = None if args.run else make_run(run)
    synth_rows = [r.data for r in FileRecords(run, 0)]
    synthetic = cl.make_dataset("quickstart output", str(run), synth_rows, {})
    seeds = seed_dataset()
    rows = min(len(synthetic.examples), len(seeds.examples) - MIN_HELDOUT)
    heldout, real = cl.split_reference(seeds, len(seeds.examples) - rows)
    real.name = "seed tasks (same number of rows)"
    settings = cl.Settings(steps=args.steps, rows=rows, threads=args.threads)
    model = cl.load_model()
    result = cl.run_closed_loop(model, [synthetic, real], heldout, settings, print)
    result["reference_path"] = "seed tasks not trained on (held out)"
    out = {
        "bench": "closed_loop",
        "what": "LoRA on the embedded SmolLM2-135M: the Self-Instruct quickstart's rows vs "
        "the same number of its human-written seed tasks, loss on held-out seed tasks",
        "quickstart_run_seconds": None if run_seconds is None else round(run_seconds, 1),
        "synthetic_rows_available": len(synthetic.examples),
        "machine": info,
        "load_average_at_end": list(__import__("os").getloadavg()),
        "result": result,
    }
    path = args.out
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    for comparison in result["comparisons"]:
        print(comparison["verdict"], comparison["delta_difference_ci95"])
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
