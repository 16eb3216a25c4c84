"""How the runner reports progress. The library logs; the CLI draws rich progress bars."""

from __future__ import annotations

import logging
from typing import Protocol

log = logging.getLogger(__name__)


class Progress(Protocol):
    def stage_started(self, stage: str, total: int | None) -> None: ...

    def advance(self, stage: str, rows_in: int, rows_out: int) -> None: ...

    def note(self, message: str) -> None: ...


class LogProgress:
    """Progress as log lines, for library use and non-interactive runs."""

    def stage_started(self, stage: str, total: int | None) -> None:
        log.info("stage %s: %s rows expected", stage, "?" if total is None else total)

    def advance(self, stage: str, rows_in: int, rows_out: int) -> None:
        log.debug("stage %s: +%d in, +%d out", stage, rows_in, rows_out)

    def note(self, message: str) -> None:
        log.info(message)
