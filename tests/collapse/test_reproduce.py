"""`synthmill collapse reproduce`: each paper's setting agrees with its formulas, and the
agreement check can fail (a wrong theory is caught)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from synthmill.collapse.gaussian import Gaussian
from synthmill.collapse.policies import run_chain
from synthmill.collapse.reproduce import Row, _row, reproduce
from synthmill.errors import ConfigError


@pytest.mark.slow
@pytest.mark.parametrize(
    "paper,seeds", [("shumailov", 300), ("gerstgrasser", 300), ("dohmatob", 60)]
)
def test_each_reproduction_agrees(paper: str, seeds: int) -> None:
    result = reproduce(paper, seeds)
    assert result["agrees"], [r.as_dict() for r in result["rows"] if not r.agrees]
    assert len(result["rows"]) >= 2 and all(r.se > 0 for r in result["rows"])


def test_agreement_catches_a_wrong_theory() -> None:
    # The MLE variance decays as 0.99^(t+1) in the mean: against the unbiased martingale's
    # 1 it must disagree, and against its own formula it must agree.
    rows = [r for s in range(300) for r in run_chain(Gaussian(estimator="mle"), "replace", 40, s)]
    ratio = np.array([r["var_ratio"] for r in rows if r["generation"] == 40])
    assert not _row("martingale", 1.0, ratio, "wrong theory").agrees
    assert _row("mle", 0.99**41, ratio, "right theory").agrees
    assert not Row("x", 1.0, 1.4, 0.1, "").agrees and Row("x", 1.0, 1.29, 0.1, "").agrees


def test_reproduce_rejects_unknown_papers_and_too_few_seeds() -> None:
    with pytest.raises(ConfigError, match="unknown paper 'hinton'"):
        reproduce("hinton")
    with pytest.raises(ConfigError, match="at least 10 seeds"):
        reproduce("gerstgrasser", 3)


@pytest.mark.slow
def test_reproduce_cli_prints_the_table_and_writes_json(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "synthmill", "collapse", "reproduce", "gerstgrasser", "--quick"]
    out = subprocess.run([*cmd, "--json", "t.json"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "accumulate E[excess]" in out.stdout and "yes" in out.stdout
    table = json.loads((tmp_path / "t.json").read_text())
    assert table["agrees"] and table["seeds"] == 200
    assert {r["agrees"] for r in table["rows"]} == {True}
    bad = subprocess.run([*cmd[:4], "reproduce", "nobody"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)  # fmt: skip
    assert bad.returncode == 2 and "unknown paper 'nobody'" in bad.stderr
