"""`synthmill collapse run` as a user meets it: JSON of every chain, PNG plots, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import cli as run_cli

CLI = [sys.executable, "-m", "synthmill"]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_collapse_run_writes_json_and_plots(tmp_path: Path) -> None:
    args = ["collapse", "run", "-f", "gaussian", "-f", "zipf", "-g", "3", "-s", "2", "-o", "lab"]
    out = cli(*args, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "done" in out.stderr and "replace" in out.stderr
    results = json.loads((tmp_path / "lab" / "collapse.json").read_text())
    assert results["machine"]["cpu_count"] >= 1
    assert set(results["families"]) == {"gaussian", "zipf"}
    runs = results["families"]["gaussian"]["runs"]
    assert len(runs) == 5 * 2 * 4  # policies x seeds x (generations + 1)
    assert {"var_ratio", "w2", "real_share"} <= set(runs[0])
    summary = results["families"]["zipf"]["summary"]
    assert {e["policy"] for e in summary} == {
        "replace", "accumulate", "keep-real", "accumulate-subsample", "verified"
    }  # fmt: skip
    assert summary[0]["test_error"]["q25"] <= summary[0]["test_error"]["median"]
    for name in ("gaussian.png", "zipf.png"):
        assert (tmp_path / "lab" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_collapse_unknown_family_is_one_line(tmp_path: Path) -> None:
    out = cli("collapse", "run", "-f", "gpt", cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().startswith("error: unknown family 'gpt'; use one of gaussian")
    bad = cli("collapse", "run", "-f", "kde", "-p", "forget", cwd=tmp_path)
    assert bad.returncode == 2 and "unknown policy 'forget'" in bad.stderr
    assert not (tmp_path / "runs").exists()


def test_collapse_families_lists_every_family(tmp_path: Path) -> None:
    out = cli("collapse", "families", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    for name in ("gaussian", "gmm", "kde", "regression", "zipf", "ngram"):
        assert name in out.stdout


def test_collapse_rows_and_params_are_used_and_recorded(tmp_path: Path) -> None:
    # N=10 used to become 20 silently; every family parameter is settable and recorded.
    args = ["collapse", "run", "-f", "gaussian", "-f", "regression", "-p", "replace", "-g", "2",
            "-s", "2", "-n", "12", "-P", "estimator=mle", "-P", "regression.d=3",
            "-P", "regression.noise=0.5", "--no-plots", "-o", "lab"]  # fmt: skip
    out = cli(*args, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    results = json.loads((tmp_path / "lab" / "collapse.json").read_text())
    gauss, reg = results["families"]["gaussian"], results["families"]["regression"]
    assert gauss["config"] == {"n": 12, "mu": 0.0, "sigma": 1.0, "estimator": "mle"}
    assert reg["config"]["d"] == 3 and reg["config"]["noise"] == 0.5 and reg["config"]["n"] == 12
    assert {r["train_size"] for r in gauss["runs"]} == {12}
    assert results["config"]["rows"] == 12


@pytest.mark.parametrize(
    "args,message",
    [
        (["-f", "gaussian", "-n", "1"], "n must be at least 2"),
        (["-f", "regression", "-n", "8"], "n must be at least d + 2"),
        (["-f", "gaussian", "-P", "estimator=biased"], "unknown estimator 'biased'"),
        (["-f", "gaussian", "-P", "beta=2"], "no chosen family has 'beta'"),
        (["-f", "zipf", "-P", "zipf.beta=high"], "zipf.beta='high' is not a valid float"),
        (["-f", "zipf", "-P", "gaussian.mu=1"], "family 'gaussian' is not being run"),
        (["-f", "zipf", "-P", "beta"], "write NAME=VALUE"),
        (["-f", "zipf", "-P", "zipf.n=5"], "zipf has no parameter 'n'"),
        (["-f", "kde", "--verify-rows", "0"], "verify rows"),
    ],
)
def test_collapse_bad_parameters_fail_before_any_work(
    tmp_path: Path, args: list[str], message: str
) -> None:
    out = cli("collapse", "run", *args, "-o", "lab", cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip().startswith("error:") and message in out.stderr, out.stderr
    assert not (tmp_path / "lab").exists()


def test_collapse_out_naming_a_file_is_one_line_and_leaves_it(tmp_path: Path) -> None:
    data = tmp_path / "rows.jsonl"
    data.write_text('{"text": "kept as it is"}\n')
    args = ["collapse", "run", "-f", "gaussian", "-g", "1", "-s", "1", "-o", str(data)]
    done = run_cli(*args)
    assert (done.returncode, done.stderr.strip().splitlines()[-1:]) == (
        2,
        [f"error: --out {data} is a file; name a folder for collapse.json and the plots"],
    )
    assert data.read_text() == '{"text": "kept as it is"}\n'
