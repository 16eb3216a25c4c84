"""`verify.code`: judge a generated solution by hidden tests in the sandbox.

Tests follow HumanEval's shape: a `check(candidate)` function. The solution runs in its
own process and serves calls of the entry point; the tests run in a separate judge
process that gets only plain data back, so nothing the solution does can pass for it
(see verify/zygote.py and the threat model in the README).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from synthmill.pipeline.stage import Check, StageContext
from synthmill.records import Record, Verdict
from synthmill.verify.extract import extract_code
from synthmill.verify.sandbox import Limits, RunResult, require_sandbox, run_check


def candidate_code(solution: str, entry_point: str, prefix: str = "") -> str:
    """The solution's code (out of a markdown fence), after the prompt if it is only a body."""
    code = extract_code(solution)
    if prefix and f"def {entry_point}" not in code:
        code = prefix + code
    return code


def program(solution: str, tests: str, entry_point: str, prefix: str = "") -> str:
    """Solution, tests and the call in one script: the classic, gameable way (benchmarks)."""
    code = candidate_code(solution, entry_point, prefix)
    return f"{code}\n\n{tests}\n\ncheck({entry_point})\n"


def run_solution(
    solution: str,
    tests: str,
    entry_point: str,
    *,
    limits: Limits | None = None,
    sandbox: bool = True,
    prefix: str = "",
    fresh: bool = False,
) -> RunResult:
    """Judge one solution by its tests; "passed" only when the judge saw every assert hold.

    The prompt (`prefix`) also runs on the judge's side, so helpers the tests call (such
    as HumanEval/32's `poly`) are the prompt's, not the solution's.
    """
    code = candidate_code(solution, entry_point, prefix)
    return run_check(code, tests, entry_point, limits, sandbox=sandbox, helpers=prefix, fresh=fresh)


def raw_details(result: RunResult) -> dict[str, Any]:
    """What a reject keeps of a run: status, exit code, timing, the ends of the output."""
    return {
        "status": result.status,
        "returncode": result.returncode,
        "seconds": round(result.seconds, 3),
        "sandboxed": result.sandboxed,
        "stdout": result.stdout[-2000:],
        "stderr": result.stderr[-2000:],
    }


class CodeCheck(Check):
    """Keep rows whose code passes its hidden tests in the sandbox; rejects name the status."""

    kind: ClassVar[str] = "verify.code"
    solution_column: str = Field(default="solution", description="Column with the code.")
    tests_column: str = Field(default="tests", description="Column with check(candidate).")
    entry_point_column: str = Field(default="entry_point", description="Function name column.")
    prefix_column: str | None = Field(
        default=None, description="Column prepended when the solution is only a body (HumanEval)."
    )
    wall_seconds: float = Field(default=10.0, gt=0, description="Wall-clock limit per run.")
    cpu_seconds: int = Field(default=5, ge=1, description="CPU-seconds limit per run.")
    memory_mb: int = Field(
        default=512, ge=64, description="Memory per run: each process's address space + tmpfs."
    )
    fresh_sandbox: bool = Field(
        default=False,
        description="A new sandbox per run (slower): runs share no state, not even pid numbers.",
    )
    unsafe_no_sandbox: bool = Field(
        default=False, description="Run untrusted code WITHOUT bubblewrap. Only for trusted code."
    )

    def reads(self) -> list[str]:
        prefix = [self.prefix_column] if self.prefix_column else []
        return [self.solution_column, self.tests_column, self.entry_point_column, *prefix]

    def limits(self) -> Limits:
        return Limits(
            wall_seconds=self.wall_seconds, cpu_seconds=self.cpu_seconds, memory_mb=self.memory_mb
        )

    def process(self, batch: list[Record], ctx: StageContext) -> list[Record]:
        require_sandbox(self.unsafe_no_sandbox)  # refuse early, with the fix in the message
        return super().process(batch, ctx)

    def check(self, record: Record) -> Verdict:
        data = record.data
        solution = str(data.get(self.solution_column) or "")
        if not solution.strip():
            return Verdict(False, "no code", raw={})
        prefix = str(data.get(self.prefix_column) or "") if self.prefix_column else ""
        result = run_solution(
            solution,
            str(data.get(self.tests_column) or ""),
            str(data.get(self.entry_point_column) or ""),
            limits=self.limits(),
            sandbox=require_sandbox(self.unsafe_no_sandbox),
            prefix=prefix,
            fresh=self.fresh_sandbox,
        )
        reason = "" if result.ok else result.status
        return Verdict(result.ok, reason, 1.0 if result.ok else 0.0, raw=raw_details(result))
