"""How fast `synthmill --help` and `--version` start, against a bare interpreter and the
eager path (every command module imported, as the CLI did before it imported lazily).

    .venv/bin/python bench/cli_startup.py [--runs 9]   ->  bench/results/cli_startup.json

Each command runs `--runs` times in a fresh process, alternating, and the medians of wall
and CPU time are kept. `python -X importtime` of `--help` names the slowest imports.
Target (issue 18): `--help` and `--version` under 0.3 s.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._machine import machine

PY = sys.executable
ENTRY = "import sys; from synthmill.cli import main; sys.argv[0] = 'synthmill'; main()"
CASES = {
    "python -c pass (bare interpreter)": [PY, "-c", "pass"],
    "synthmill --version": [PY, "-c", ENTRY, "--version"],
    "synthmill --help": [PY, "-c", ENTRY, "--help"],
    "every command module imported (the eager CLI)": [
        PY,
        "-c",
        "import synthmill.cli as c\nfor n in c.COMMANDS: c.load(n)",
    ],
}


def once(cmd: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=True, env={"COLUMNS": "100", "PATH": ""})
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def slowest_imports(n: int = 8) -> list[dict[str, object]]:
    """The top-level imports of `synthmill --help` that cost the most (cumulative)."""
    err = subprocess.run(
        [PY, "-X", "importtime", "-c", ENTRY, "--help"], capture_output=True, text=True
    ).stderr
    rows: list[tuple[float, str]] = []
    for line in err.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2]
        if len(name) - len(name.lstrip()) == 1:  # imported by the entry point itself
            rows.append((int(parts[1]) / 1000, name.strip()))
    return [{"module": m, "cumulative_ms": ms} for ms, m in sorted(rows, reverse=True)[:n]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    for cmd in CASES.values():
        once(cmd)  # warm the file cache and .pyc files
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in CASES}
    for _ in range(args.runs):
        for name, cmd in CASES.items():
            times[name].append(once(cmd))
    result: dict[str, object] = {"machine": machine(), "runs": args.runs, "target_s": 0.3}
    medians = {}
    for name, samples in times.items():
        medians[name] = {
            "wall_s": round(statistics.median(w for w, _ in samples), 4),
            "cpu_s": round(statistics.median(c for _, c in samples), 4),
        }
    result["median"] = medians
    bare = medians["python -c pass (bare interpreter)"]["cpu_s"]
    eager = medians["every command module imported (the eager CLI)"]["cpu_s"]
    for name in ("synthmill --version", "synthmill --help"):
        cpu = medians[name]["cpu_s"]
        medians[name]["cpu_ratio_to_bare_python"] = round(cpu / bare, 2) if bare else None
        medians[name]["cpu_ratio_to_eager_cli"] = round(cpu / eager, 3) if eager else None
    result["slowest_imports_of_help"] = slowest_imports()
    out = Path(__file__).parent / "results" / "cli_startup.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(medians, indent=2))


if __name__ == "__main__":
    main()
