"""Helpers shared by tests: the command line run in this process, and a small curation
pipeline (read -> filter.length -> dedup.exact).

A subprocess costs seconds of imports per call; `main()` is what the console script runs
(one-line errors, exit codes), so calling it here tests the same thing.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthmill.cli import main


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


def run_main(args: Sequence[object]) -> int:
    """`synthmill ARGS` in this process; its exit code. Output goes to sys.stdout and
    sys.stderr as they are (pytest's capsys sees it); sys.argv is restored after."""
    saved = sys.argv
    sys.argv = ["synthmill", *map(str, args)]
    try:
        main()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = saved
    return 0


def cli(*args: str, cwd: Path | None = None, **env: str) -> Done:
    """`synthmill ARGS` in this process with stdout and stderr captured, run in `cwd` with
    `env` added (wide COLUMNS, so help text is not wrapped); cwd and env are restored."""
    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.update({"COLUMNS": "400", **env})
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run_main(args)
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return Done(code, out.getvalue(), err.getvalue())


def curation_config(
    folder: Path, name: str, rows: int, shard_size: int, output: dict[str, Any] | None = None
) -> dict[str, Any]:
    """read -> filter.length (min_words 2) -> dedup.exact over folder/rows.jsonl, into
    folder/out. Row i is (i % 7) filler words then a number below rows * 0.35, so some rows
    are too short and some are copies. The file is written once (a rerun is a resume)."""
    src = folder / "rows.jsonl"
    if not src.exists():
        distinct = int(rows * 0.35)
        texts = (" ".join(["word"] * (i % 7) + [str(i % distinct)]) for i in range(rows))
        src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    return {
        "name": name,
        "shard_size": shard_size,
        "stages": [
            {"use": "read", "path": str(src)},
            {"use": "filter.length", "min_words": 2},
            {"use": "dedup.exact"},
        ],
        "output": {"dir": str(folder / "out"), **(output or {})},
    }


# `--set` for runs of the weak embedded model (or a tiny n) whose tests check that every
# row is kept or rejected with a reason: such a run may lose every row, which is exit 1
# unless the config allows an empty dataset (tests/pipeline/test_empty_run.py).
MAY_BE_EMPTY = "allow_empty=true"
