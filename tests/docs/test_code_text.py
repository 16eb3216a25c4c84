"""Docstrings and comments are about the code: none names a person or their role."""

from __future__ import annotations

import re

from tests.conftest import REPO

ROLES = re.compile(r"\b(engineer|coordinator|reviewer|maintainer)s?\b( [A-Z]\b|'s)", re.I)


def test_no_source_text_names_someone_by_their_role() -> None:
    found = [
        f"{path.relative_to(REPO)}:{n}: {line.strip()}"
        for path in sorted((REPO / "src/synthmill").rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ROLES.search(line)
    ]
    assert not found, "\n".join(found)
    assert ROLES.search("How a recipe uses this package (engineer B's API):")  # what it finds
