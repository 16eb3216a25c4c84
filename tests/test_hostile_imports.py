"""`map` functions (and every `module:name` in a config) import from the folder the run
starts in before installed packages: an installed package with the same top-level name
(opacus installs one called `examples`) must not hide the user's `examples/steps.py`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from synthmill.pipeline.function import load_function


def package(root: Path, files: dict[str, str]) -> None:
    (root / "shadowpkg").mkdir(parents=True)
    (root / "shadowpkg" / "__init__.py").write_text("")
    for name, text in files.items():
        (root / "shadowpkg" / name).write_text(text)


def test_a_module_beside_the_pipeline_wins_over_an_installed_namesake(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed, project = tmp_path / "site", tmp_path / "project"
    package(installed, {})  # like opacus's `examples`: the package, without steps.py
    package(project, {"steps.py": "def shout(batch):\n    return batch\n"})
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".")] + [str(installed)])
    monkeypatch.chdir(project)
    for name in ("shadowpkg", "shadowpkg.steps"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    try:
        fn = load_function("shadowpkg.steps:shout")
        assert fn.__module__ == "shadowpkg.steps" and fn([1]) == [1]
    finally:
        for name in ("shadowpkg", "shadowpkg.steps"):
            sys.modules.pop(name, None)
