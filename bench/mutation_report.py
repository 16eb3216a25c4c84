"""Collect bench/mutation.sh's per-group mutmut results into bench/results/mutation.json.

Merges with what the file already holds for groups not run this time, so the bench can
be run group by group. Survivors listed in bench/mutation_harmless.json (mutant name ->
reason) are reported as judged harmless; they still count as survived in the score.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine

RESULTS = Path("bench/results/mutation.json")
HARMLESS = Path("bench/mutation_harmless.json")
LINE = re.compile(r"^\s+(\S+): (\S.*)$")


def group_result(work: Path, group: str, harmless: dict[str, str]) -> dict[str, object]:
    d = work / group
    config = (d / "pyproject.toml").read_text()
    statuses: dict[str, str] = {}
    for line in (d / "results.txt").read_text().splitlines():
        m = LINE.match(line)
        if m:
            statuses[m[1]] = m[2].strip()
    rc = int((d / "rc").read_text())
    picked = set((d / "picked.txt").read_text().split())
    statuses = {k: v for k, v in statuses.items() if k in picked}
    counts: dict[str, int] = {}
    for s in statuses.values():
        counts[s] = counts.get(s, 0) + 1
    killed = counts.get("killed", 0) + counts.get("timeout", 0)
    decided = sum(n for s, n in counts.items() if s not in ("not checked", "skipped"))
    survivors = sorted(k for k, s in statuses.items() if s in ("survived", "no tests"))
    return {
        "modules": re.search(r"only_mutate = (\[.*\])", config)[1],  # type: ignore[index]
        "tests": re.search(r"pytest_add_cli_args_test_selection = (\[.*\])", config)[1],  # type: ignore[index]
        "mutants_generated": int((d / "generated").read_text() or 0),
        "mutants_sampled": len(picked),
        "by_status": counts,
        "killed": killed,
        "killed_share": round(killed / decided, 4) if decided else None,
        "complete": rc == 0 and counts.get("not checked", 0) == 0,  # the whole sample ran
        "seconds": int((d / "seconds").read_text()),
        "survivors": {k: harmless.get(k, "") for k in survivors},
    }


def main() -> None:
    work, groups = Path(sys.argv[1]), sys.argv[2:]
    harmless = json.loads(HARMLESS.read_text()) if HARMLESS.exists() else {}
    old = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    per_group = old.get("groups", {})
    for group in groups:
        per_group[group] = group_result(work, group, harmless)
    killed = sum(g["killed"] for g in per_group.values())
    decided = sum(
        sum(n for s, n in g["by_status"].items() if s not in ("not checked", "skipped"))
        for g in per_group.values()
    )
    out = {
        "what": "mutmut 3 on synthmill's core modules, one group at a time: a seeded random "
        "sample of each group's mutants, each run against the tests of the group's subset "
        "that call the mutated function; killed share = (killed + timeout) / decided",
        "tool": "mutmut 3.8.1",
        "killed_share": round(killed / decided, 4) if decided else None,
        "killed": killed,
        "decided": decided,
        "groups": per_group,
        "machine": machine(),
    }
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({k: v for k, v in out.items() if k != "groups"}, indent=2))
    for name, g in per_group.items():
        done = "complete" if g["complete"] else "PARTIAL"
        print(name, g["mutants_sampled"], "of", g["mutants_generated"], g["killed_share"], done)


if __name__ == "__main__":
    main()
