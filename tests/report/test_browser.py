"""The report in a real browser (Debian Chromium, headless): no console error, the charts
and the row browser in the rendered DOM, hostile row text inert, and a screenshot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from synthmill.report import build_report
from tests.report.chromium import render, screenshot

pytestmark = pytest.mark.slow


def test_the_console_check_catches_a_broken_page(tmp_path: Path) -> None:
    """The check below can fail: a page with a script error logs a console line."""
    page = tmp_path / "bad.html"
    page.write_text("<html><body><script>console.error('x'); nothing();</script></body></html>")
    _, console = render(page)
    assert any("Uncaught ReferenceError" in line for line in console)


def test_report_renders_without_errors(llm_run: Path, tmp_path: Path) -> None:
    page = build_report(llm_run, tmp_path / "r.html")
    dom, console = render(page)
    assert console == []
    assert re.search(r'<body[^>]*data-ready="1"', dom)  # the browser script ran to its end
    assert dom.count('<svg class="chart"') >= 3  # funnel, reasons, column histograms
    rows = re.findall(r'<tr class="row" data-i="\d+">', dom)
    assert len(rows) == int(re.search(r"(\d+) of (\d+) sampled rows", dom).group(2))  # type: ignore[union-attr]
    assert 'id="q"' in dom and 'id="origin"' in dom and "synthetic</option>" in dom
    # the hostile questions stayed text: no element, attribute or title they asked for
    assert "data-pwned" not in re.search(r"<body[^>]*>", dom).group(0)  # type: ignore[union-attr]
    assert "<title>pwned" not in dom and "&lt;script&gt;document.body" in dom
    assert not re.search(r"<img src=\"?x", dom)


def test_rl_report_renders(rl_run: Path, tmp_path: Path) -> None:
    dom, console = render(build_report(rl_run, tmp_path / "rl.html"))
    assert console == [] and "pass@1" in dom and 'data-ready="1"' in dom


def test_screenshot(llm_run: Path, tmp_path: Path) -> None:
    png = tmp_path / "report.png"
    screenshot(build_report(llm_run, tmp_path / "r.html"), png)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # not a blank page


def test_collapse_report_renders(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from typer.testing import CliRunner

    from synthmill.cli import app

    out = tmp_path / "lab"
    args = ["collapse", "run", "--family", "gaussian", "--policy", "replace", "--generations",
            "1", "--seeds", "1", "--scale", "0.2", "-o", str(out)]  # fmt: skip
    assert CliRunner().invoke(app, args).exit_code == 0
    dom, console = render(build_report(out))
    assert console == [] and 'data-ready="1"' in dom
    assert re.search(r'<img class="plot" alt="gaussian plot" src="data:image/png;base64,', dom)


def test_search_filters_the_rows(llm_run: Path, tmp_path: Path) -> None:
    """The search box (prefilled from #q=) keeps exactly the rows holding the words."""
    import json
    from urllib.parse import quote

    import pyarrow.parquet as pq

    page = build_report(llm_run, tmp_path / "r.html")
    questions = pq.read_table(llm_run / "data").column("question").to_pylist()
    for words in ("tides", "</script>", "no such words"):
        dom, console = render(page, fragment="#q=" + quote(words))
        wanted = sum(words.lower() in json.dumps(q, ensure_ascii=False).lower() for q in questions)
        assert console == [] and f">{wanted} of {len(questions)} sampled rows" in dom, words
        assert len(re.findall(r'<tr class="row" ', dom)) == wanted
