"""Helpers shared by tests: the command line run in this process.

A subprocess costs seconds of imports per call; `main()` is what the console script runs
(one-line errors, exit codes), so calling it here tests the same thing.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

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
