"""Faults: a pipeline against a server that fails 30% of requests, killed 5 times.

    .venv/bin/python bench/faults.py        # writes bench/results/faults.json

A local OpenAI-compatible server (tests/llm/faults.py) answers 30% of requests with a
random fault: 429 with and without Retry-After, 500, a hang past the client's timeout,
a dropped connection, a malformed body, a reply that is not JSON, valid JSON of the wrong
schema. `synthmill run` (read -> distill -> dedup.exact, 200 rows, shards of 25) is
killed with SIGKILL at 5 random moments and resumed after each; then it runs to the end
(again while transient rejects are left to retry). Every 25th row only ever gets
non-JSON replies (a final reject); every 15th row's first 4 requests get a 500 (a
transient reject, more than max_failed_share of 5%: exit 3, then retried).

Asserted: 0 rows lost, 0 duplicated, every row kept or rejected with a reason, no
transient reject left, no successful call paid twice (beyond replies in flight at a kill),
and stats.json counting exactly the calls the server was paid for.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.llm.chaos import Chaos, Outcome, run_chaos

from bench._machine import machine

OUT = Path(__file__).resolve().parent / "results" / "faults.json"
# What a row may end rejected for once transient failures are retried: its replies. Random
# bad replies (30% faults, 1 in 4 of them bad content) may also exhaust a row's retries.
CONTENT = {"invalid json", "schema mismatch"}


def check(out: Outcome, bad: set[int]) -> list[str]:
    """The promises that failed, in words (empty when all hold)."""
    problems = {
        "a kill did not land mid-run": out.kills_landed != 5,
        "the last run did not exit 0": out.exit_codes[-1] != 0,
        "rows lost": bool(out.lost),
        "rows duplicated": bool(out.duplicated),
        "kept + rejected != rows": out.kept + out.rejected != out.rows,
        "a bad row was kept": not bad <= set(out.rejected_rows),
        "a reject that is not about content": not set(out.reasons) <= CONTENT,
        "a reject without a reason": out.without_reason > 0,
        "transient rejects left": out.transient_left > 0,
        "a successful call paid twice": out.paid_twice_unexplained > 0,
        "stats.json calls differ from calls paid": out.calls_in_stats != out.paid,
    }
    return [name for name, failed in problems.items() if failed]


def main() -> int:
    chaos = Chaos(rows=200, kills=5, fault_rate=0.3, seed=11, bad_every=25, flaky_every=15)
    with tempfile.TemporaryDirectory() as tmp:
        out = run_chaos(Path(tmp), chaos)
    problems = check(out, chaos.bad_rows())
    result = {
        "benchmark": "faults",
        "machine": machine(),
        "setup": chaos.__dict__,
        "outcome": out.to_dict(),
        "problems": problems,
        "ok": not problems,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(out.to_dict(), indent=2))
    print("ok" if not problems else f"FAILED: {', '.join(problems)}")
    return 0 if not problems else 1


if __name__ == "__main__":
    raise SystemExit(main())
