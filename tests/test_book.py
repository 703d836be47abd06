"""The website builds from the chapters with no failing cell, within the chapters' time budget."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from jupyter_cache import get_cache

from tests.conftest import REPO

pytestmark = pytest.mark.slow  # builds, grades or drives a browser: `-m "not slow"` skips it

# Seconds a chapter may take to execute on 2 cores, and all of them together (COURSE.md: 120 s a
# chapter, the whole book built in 8 minutes).
BUDGET_S = {"default": 120}
BOOK_EXECUTION_BUDGET_S = 8 * 60


def toc_files() -> list[str]:
    """Every page named in _toc.yml, as paths without extension relative to the repository."""
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc["parts"]:
        files += [entry["file"] for entry in part["chapters"]]
    return files


def chapter_sources() -> list[Path]:
    return sorted(p for p in (REPO / "book").glob("[0-9][0-9]_*.md"))


def test_every_chapter_is_in_the_table_of_contents():
    listed = set(toc_files())
    missing = [p.relative_to(REPO).with_suffix("").as_posix() for p in chapter_sources()
               if p.relative_to(REPO).with_suffix("").as_posix() not in listed]
    assert not missing, f"chapters missing from _toc.yml: {missing}"
    exercises = [f"notebooks/{p.parent.name}/{p.stem}" for p in (REPO / "notebooks").glob("*/*.ipynb")]
    assert not [e for e in exercises if e not in listed], "every exercise needs its page in _toc.yml"


def test_every_page_is_built(built_book):
    for name in toc_files():
        page = built_book / f"{name}.html"
        assert page.is_file(), f"{name} is in _toc.yml but {page.relative_to(REPO)} was not built"
        assert re.search(r"<h1>.+</h1>", page.read_text(), re.S), f"{page.name} has no title"


def test_every_chapter_executed_within_its_budget(built_book):
    records = {Path(r.uri).resolve(): r for r in get_cache(REPO / "_build" / ".jupyter_cache").list_cache_records()}
    for chapter in chapter_sources():
        assert chapter.resolve() in records, f"{chapter.name} was not executed into the cache"
        seconds = records[chapter.resolve()].data["execution_seconds"]
        budget = BUDGET_S.get(chapter.stem, BUDGET_S["default"])
        print(f"{chapter.name}: executed in {seconds:.1f} s (budget {budget} s)")
        assert seconds <= budget, f"{chapter.name} took {seconds:.1f} s to execute, over its {budget} s budget"
    total = sum(records[c.resolve()].data["execution_seconds"] for c in chapter_sources())
    assert total <= BOOK_EXECUTION_BUDGET_S, f"the chapters took {total:.0f} s to execute, over the book's {BOOK_EXECUTION_BUDGET_S} s"


def test_math_is_served_by_the_local_mathjax(built_book):
    page = (built_book / "book" / "01_softmax_ce_kl.html").read_text()
    scripts = [src.split("?")[0] for src in re.findall(r'<script[^>]+src="([^"]+)"', page)]
    assert any(s.endswith("_static/mathjax/tex-chtml.js") for s in scripts), scripts
    assert sum("mathjax" in s for s in scripts) == 1, f"MathJax is loaded more than once: {scripts}"
    assert not [s for s in scripts if s.startswith(("http:", "https:", "//"))], f"scripts from other hosts: {scripts}"
    assert (built_book / "_static" / "mathjax" / "tex-chtml.js").is_file()


def test_a_chapter_taken_from_the_cache_is_published_with_its_outputs(built_book, tmp_path):
    """myst-nb 1.x writes a chapter it takes from jupyter-cache (after a prose edit, say) to
    _build/jupyter_execute without outputs, and the site offers that file for download:
    book/_ext/course_pages.py merges them back from the cache. Here on a copy stripped as myst-nb
    strips it."""
    import importlib.util

    import nbformat

    spec = importlib.util.spec_from_file_location("course_pages", REPO / "book" / "_ext" / "course_pages.py")
    course_pages = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(course_pages)
    cache = REPO / "_build" / ".jupyter_cache"
    for chapter in chapter_sources():
        executed = built_book.parent / "jupyter_execute" / "book" / f"{chapter.stem}.ipynb"
        published = nbformat.read(built_book / "_sources" / "book" / f"{chapter.stem}.ipynb", as_version=4)
        outputs = [c.get("outputs", []) for c in published.cells if c.cell_type == "code"]
        assert sum(map(len, outputs)) > 0, f"the published {chapter.stem}.ipynb has no outputs"
        stripped = nbformat.read(executed, as_version=4)
        for cell in stripped.cells:
            if cell.cell_type == "code":
                cell.outputs = []
        copy = tmp_path / executed.name
        nbformat.write(stripped, copy)
        assert course_pages.restore_cached_outputs(copy, cache), f"{chapter.stem}: nothing restored"
        restored = nbformat.read(copy, as_version=4)
        # Each cell published with outputs has them again. (Not equal outputs: a fresh execution
        # orders a cell's streams and displays otherwise than jupyter-cache stores them, and keeps
        # no glue record, which the cache does.)
        again = [bool(c.get("outputs")) for c in restored.cells if c.cell_type == "code"]
        lost = [i for i, (has, had) in enumerate(zip(again, map(bool, outputs))) if had and not has]
        assert len(again) == len(outputs) and not lost, f"{chapter.stem}: code cells {lost} lost their outputs"
        assert not course_pages.restore_cached_outputs(copy, cache), "a notebook with outputs is left alone"
