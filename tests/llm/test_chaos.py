"""The lean chaos run: a faulty server, SIGKILL at random moments, resume after each.

bench/faults.py runs the full size (200 rows, 5 kills) and writes bench/results/faults.json.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.llm.chaos import Chaos, run_chaos

pytestmark = [pytest.mark.slow, pytest.mark.server]


def test_kill_and_resume_against_a_faulty_server_loses_nothing(tmp_path: Path) -> None:
    chaos = Chaos(rows=60, kills=2, seed=3, delay=0.02, timeout=0.6, shard_size=15)
    chaos.bad_every, chaos.flaky_every = 20, 12
    out = run_chaos(tmp_path, chaos)
    assert out.kills_landed == 2, out
    assert out.exit_codes[-1] == 0, out
    assert out.kept + out.rejected == 60 and {19, 39, 59} <= set(out.rejected_rows), out
    assert set(out.reasons) <= {"invalid json", "schema mismatch"}, out  # content only
    assert not out.lost and not out.duplicated and out.without_reason == 0, out
    assert out.transient_left == 0, out  # the last run retried every transient reject
    assert out.paid_twice_unexplained == 0, out
    assert out.calls_in_stats == out.paid, out  # stats count what was paid, kills included
    faults = set(out.faults) - {"ok"}
    assert len(faults) >= 6, out  # most kinds of fault were really served
