"""`verify.code`: run a generated solution against hidden tests in the sandbox.

Tests follow HumanEval's shape: a `check(candidate)` function called on the entry point.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from synthmill.pipeline.stage import Check, StageContext
from synthmill.records import Record, Verdict
from synthmill.verify.extract import extract_code
from synthmill.verify.sandbox import Limits, RunResult, require_sandbox, run_python


def program(solution: str, tests: str, entry_point: str, prefix: str = "") -> str:
    """The program to run: the solution (after a prompt prefix if any), tests, the call."""
    code = extract_code(solution)
    if prefix and f"def {entry_point}" not in code:
        code = prefix + code
    return f"{code}\n\n{tests}\n\ncheck({entry_point})\n"


def run_solution(
    solution: str,
    tests: str,
    entry_point: str,
    *,
    limits: Limits | None = None,
    sandbox: bool = True,
    prefix: str = "",
) -> RunResult:
    """Run one solution against its tests; "passed" means every assert held."""
    return run_python(program(solution, tests, entry_point, prefix), limits, sandbox=sandbox)


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
    memory_mb: int = Field(default=512, ge=64, description="Address-space limit per run.")
    unsafe_no_sandbox: bool = Field(
        default=False, description="Run untrusted code WITHOUT bubblewrap. Only for trusted code."
    )

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
        )
        reason = "" if result.ok else result.status
        return Verdict(result.ok, reason, 1.0 if result.ok else 0.0, raw=raw_details(result))
