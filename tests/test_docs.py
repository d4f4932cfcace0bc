"""The front page and the docs/ pages: their links resolve, and each generated block lives on
the page the code that writes it names (README.md: results; docs/bench.md: bench;
docs/lab.md: cells)."""

import pathlib
import re

import pytest

from apps import cli
from apps.bench import cells as bench_cells
from apps.bench import common as bench_common
from shared import report

ROOT = pathlib.Path(__file__).resolve().parents[1]

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.M)


def _without_code_blocks(text: str) -> str:
    return re.sub(r"^(```|~~~).*?^\1[^\n]*$", "", text, flags=re.M | re.S)


def _prose(text: str) -> str:
    """`text` without fenced code blocks and inline code, where a bracket is not a link."""
    return re.sub(r"(`+)(?:(?!\1).)+?\1", "", _without_code_blocks(text), flags=re.S)


def anchors(page: pathlib.Path) -> set[str]:
    """The fragment GitHub gives each heading of `page` (``-1``, ``-2`` for repeats)."""
    seen: dict[str, int] = {}
    found = set()
    for line in _without_code_blocks(page.read_text(encoding="utf-8")).splitlines():
        heading = re.match(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        words = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading.group(1)).lower()
        slug = re.sub(r"[^\w\- ]", "", words).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def broken_links(page: pathlib.Path) -> list[str]:
    """Every relative link or image of `page` whose file (or heading) does not exist."""
    text = _prose(page.read_text(encoding="utf-8"))
    targets = INLINE_LINK.findall(text) + REFERENCE_LINK.findall(text)
    broken = []
    for target in targets:
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("//"):
            continue  # http:, https:, mailto: ... : not a file of the repository
        path, _, fragment = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{page.name}: {target} (no {resolved})")
        elif fragment and resolved.suffix == ".md" and fragment not in anchors(resolved):
            broken.append(f"{page.name}: {target} (no heading #{fragment} in {resolved.name})")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_points_to_a_file_that_exists(page):
    assert broken_links(page) == []


def test_a_broken_link_is_found(tmp_path):
    (tmp_path / "there.md").write_text("# Here it is\n")
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab" / "plot.png").write_bytes(b"")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n"
        "[fine](there.md), [heading](there.md#here-it-is), ![plot](lab/plot.png),\n"
        "[web](https://example.org/missing.md), [same page](#page), `[code](gone.md)`\n\n"
        "```\n[in a block](gone-too.md)\n```\n\n"
        "[missing file](nowhere.md), ![missing image](lab/nothing.png),\n"
        "[missing heading](there.md#not-here), [missing here](#nope)\n\n"
        "[ref]: ../outside/none.md\n"
    )
    broken = broken_links(page)
    assert [entry.split(" ")[1] for entry in broken] == [
        "nowhere.md",
        "lab/nothing.png",
        "there.md#not-here",
        "#nope",
        "../outside/none.md",
    ]


def test_headings_get_githubs_anchors(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "# rnn-apps\n## Predicting on a device, without TensorFlow\n## Deploying a `.tflite`\n"
        "## Results\n## Results\n```\n# not a heading\n```\n"
    )
    assert anchors(page) == {
        "rnn-apps",
        "predicting-on-a-device-without-tensorflow",
        "deploying-a-tflite",
        "results",
        "results-1",
    }


@pytest.mark.parametrize(
    ("page", "start", "end"),
    [
        ("README.md", report.START, report.END),
        (str(bench_common.PAGE), bench_common.START, bench_common.END),
        (str(bench_cells.CELLS_PAGE), bench_cells.CELLS_START, bench_cells.CELLS_END),
    ],
)
def test_each_generated_block_is_on_the_page_its_writer_names(page, start, end):
    text = (ROOT / page).read_text(encoding="utf-8")
    assert text.count(start) == 1 and text.count(end) == 1
    assert text.index(start) < text.index(end)
    for other in PAGES:
        if other != ROOT / page:
            assert start not in other.read_text(encoding="utf-8"), other


def test_the_readme_stays_a_front_page():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 180
    assert "make demo" in text and "make test" in text


def test_bench_writes_docs_bench_md_and_cells_docs_lab_md(monkeypatch):
    import apps.bench

    calls = {}
    monkeypatch.setattr(
        apps.bench, "main", lambda apps, out, page, quick, **kw: calls.update(bench=page) or 0
    )
    monkeypatch.setattr(
        apps.bench,
        "cells_main",
        lambda apps, cells, out, page, quick, **kw: calls.update(cells=page) or 0,
    )

    def bench(*argv: str) -> int:
        return cli.command_bench(cli.make_parser().parse_args(["bench", *argv]))

    assert bench("--quick") == 0 and bench("--cells", "gru", "--quick") == 0
    assert calls == {"bench": pathlib.Path("docs/bench.md"), "cells": pathlib.Path("docs/lab.md")}
    assert bench("--quick", "--page", "other.md") == 0 and bench("--cells", "--readme", "x.md") == 0
    assert calls == {"bench": pathlib.Path("other.md"), "cells": pathlib.Path("x.md")}
