"""A chaos run: a synthmill pipeline against a faulty server, killed with SIGKILL at random
moments and resumed after each kill, then checked row by row.

Used by bench/faults.py (200 rows, 5 kills) and by a lean test (tests/llm/test_chaos.py).
The server (tests/llm/faults.py) answers `fault_rate` of all requests with a random fault:
429 with and without Retry-After, 500, a hang past the client's timeout, a dropped
connection, a malformed body, a reply that is not JSON, valid JSON of the wrong schema.

What is checked: every input row ends kept or rejected with a reason (0 lost), none twice
(0 duplicated), and no successful call was paid twice: a request body answered with a
200 more than once counts against synthmill unless its first answer left the server just
before a kill or after it (in flight: the reply was paid but never reached the cache).
The structured-output probe (8 tokens, once per process, never cached) is left out.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import yaml

from tests.llm.faults import FaultServer, fault_server

# A reply the server sent this long before a kill (or after it: the socket outlives the
# process briefly) may never have reached the client's cache: paying for it again is fine.
IN_FLIGHT = (0.15, 1.0)
ROW = re.compile(r"\brow (\d+)\b")


@dataclass
class Chaos:
    rows: int = 200
    kills: int = 5
    fault_rate: float = 0.3
    seed: int = 0
    delay: float = 0.05  # seconds an ok reply takes
    timeout: float = 1.0  # the client's timeout; hangs last 1.5x this
    concurrency: int = 4
    shard_size: int = 25
    final_runs: int = 3  # runs after the last kill, while transient rejects are left
    bad_every: int = 0  # every n-th row only ever gets non-JSON replies: a final reject
    flaky_every: int = 0  # every n-th row's first 4 requests get a 500: a transient reject

    def plan(self) -> dict[int | str, list[str]]:
        """The rows that fail on purpose, on top of the random faults."""
        plan: dict[int | str, list[str]] = {}
        for i in range(self.rows):
            if self.flaky_every and i % self.flaky_every == self.flaky_every - 1:
                plan[i] = ["500"] * 4
            if self.bad_every and i % self.bad_every == self.bad_every - 1:
                plan[i] = ["badjson"] * 50
        return plan

    def bad_rows(self) -> set[int]:
        return {i for i, steps in self.plan().items() if "badjson" in steps and isinstance(i, int)}


@dataclass
class Outcome:
    rows: int
    kept: int = 0
    rejected: int = 0
    rejected_rows: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    duplicated: list[int] = field(default_factory=list)
    without_reason: int = 0
    transient_left: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    kills_landed: int = 0
    exit_codes: list[int] = field(default_factory=list)
    requests: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    paid: int = 0
    paid_twice: int = 0
    paid_twice_in_flight_at_kill: int = 0
    probes: int = 0
    calls_in_stats: int = 0
    seconds: float = 0.0

    @property
    def paid_twice_unexplained(self) -> int:
        return self.paid_twice - self.paid_twice_in_flight_at_kill

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "paid_twice_unexplained": self.paid_twice_unexplained}


def write_inputs(root: Path, chaos: Chaos, base_url: str) -> Path:
    """The input JSONL and the pipeline YAML (read -> distill -> dedup.exact)."""
    data = root / "prompts.jsonl"
    with data.open("w", encoding="utf-8") as fh:
        for i in range(chaos.rows):
            fh.write(json.dumps({"instruction": f"row {i}: one line about topic {i}"}) + "\n")
    backend = {
        "type": "openai",
        "model": "m",
        "base_url": base_url,
        "concurrency": chaos.concurrency,
        "timeout": chaos.timeout,
        "max_retries": 3,
        "backoff": 0.05,
        "max_wait": 2.0,
    }
    config = {
        "name": "chaos",
        "seed": chaos.seed,
        "shard_size": chaos.shard_size,
        "backend": backend,
        "stages": [
            {"use": "read", "path": str(data)},
            {"use": "distill", "batch_size": 8, "retries": 2, "max_tokens": 64},
            {"use": "dedup.exact", "columns": ["response"]},
        ],
        "output": {"dir": str(root / "run")},
    }
    path = root / "chaos.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def start(config: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "synthmill", "run", str(config)]
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def kill_after(
    proc: subprocess.Popen[bytes], server: FaultServer, target: int, rng: random.Random
) -> float | None:
    """SIGKILL once the server has seen `target` requests; None if the run ended first."""
    while len(server.log) < target:
        if proc.poll() is not None:
            return None
        time.sleep(0.005)
    time.sleep(rng.uniform(0, 0.05))  # not only right at a request's arrival
    if proc.poll() is not None:
        return None
    at = time.monotonic()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return at


def run_chaos(root: Path, chaos: Chaos) -> Outcome:
    """Run, kill and resume, then check the run directory and the server's ledger."""
    rng = random.Random(chaos.seed)
    env = {**os.environ, "SYNTHMILL_CACHE_DIR": str(root / "cache")}
    outcome = Outcome(rows=chaos.rows)
    kills: list[float] = []
    start_time = time.monotonic()
    options = {"fault_rate": chaos.fault_rate, "seed": chaos.seed, "delay": chaos.delay}
    with fault_server(chaos.plan(), stall=chaos.timeout * 1.5, **options) as server:
        config = write_inputs(root, chaos, server.base_url)
        expected = int(chaos.rows * 1.6)  # requests a whole run makes, roughly
        for n in range(chaos.kills):
            left = max(expected - len(server.log), 20)
            target = len(server.log) + rng.randint(3, max(4, left // (chaos.kills - n + 1)))
            proc = start(config, env)
            at = kill_after(proc, server, target, rng)
            if at is None:
                outcome.exit_codes.append(proc.returncode)
            else:
                kills.append(at)
        for _ in range(chaos.final_runs):  # the last run must leave no transient reject
            proc = start(config, env)
            proc.communicate(timeout=600)
            outcome.exit_codes.append(proc.returncode)
            if proc.returncode not in (0, 3) or not transient_left(root / "run"):
                break
        outcome.seconds = round(time.monotonic() - start_time, 2)
        ledger(outcome, server, kills)
    outcome.kills_landed = len(kills)
    check_rows(outcome, root / "run")
    return outcome


def ledger(outcome: Outcome, server: FaultServer, kills: list[float]) -> None:
    """Requests, faults and payments as the server saw them."""
    outcome.requests = len(server.log)
    outcome.faults = dict(Counter(action for _, action, _ in server.log))
    probes = {k for k, b in _keyed(server) if _is_probe(b)}
    paid = [(k, t) for k, t in server.paid if k not in probes]
    outcome.probes = sum(1 for k, _ in server.paid if k in probes)
    outcome.paid = len({k for k, _ in paid})
    first: dict[str, float] = {}
    counts: Counter[str] = Counter()
    for key, at in paid:
        first.setdefault(key, at)
        counts[key] += 1
    twice = [k for k, n in counts.items() if n > 1]
    outcome.paid_twice = len(twice)
    before, after = IN_FLIGHT
    outcome.paid_twice_in_flight_at_kill = sum(
        1 for k in twice if any(-after <= kill - first[k] <= before for kill in kills)
    )


def _keyed(server: FaultServer) -> list[tuple[str, dict[str, Any]]]:
    from tests.llm.faults import body_key

    return [(body_key(b), b) for b in server.bodies]


def _is_probe(body: dict[str, Any]) -> bool:
    return body.get("max_tokens") == 8 and '{"ok": true}' in str(body.get("messages"))


def check_rows(outcome: Outcome, run: Path) -> None:
    """Every input row kept or rejected with a reason, exactly once."""
    seen: Counter[int] = Counter()
    for path in sorted((run / "data").glob("*.parquet")):
        for row in pq.read_table(path, columns=["instruction"]).to_pylist():
            seen[_index(row["instruction"])] += 1
            outcome.kept += 1
    reasons: Counter[str] = Counter()
    for path in sorted((run / "rejects").rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            reject = json.loads(line)
            index = _index(reject["row"]["instruction"])
            seen[index] += 1
            outcome.rejected += 1
            outcome.rejected_rows.append(index)
            reasons[reject.get("reason") or ""] += 1
            outcome.without_reason += int(not reject.get("reason"))
            outcome.transient_left += int(bool((reject.get("raw") or {}).get("transient")))
    outcome.reasons = dict(reasons)
    outcome.lost = [i for i in range(outcome.rows) if seen[i] == 0]
    outcome.duplicated = [i for i, n in seen.items() if n > 1]
    stats = json.loads((run / "stats.json").read_text(encoding="utf-8"))
    counters = stats["stages"]["distill"]["counters"]
    outcome.calls_in_stats = counters.get("llm.calls", 0) - counters.get("llm.failures", 0)


def transient_left(run: Path) -> int:
    """Rejects marked transient in a run directory (the next run retries them)."""
    lines = [
        json.loads(line)
        for path in (run / "rejects").rglob("*.jsonl")
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    return sum(1 for r in lines if (r.get("raw") or {}).get("transient"))


def _index(text: str) -> int:
    found = ROW.search(text)
    assert found, text
    return int(found.group(1))
