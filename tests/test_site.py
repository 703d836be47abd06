"""The built website, read as HTML: table of contents, downloads, launch links, titles and headings,
figures' alt text, glossary, setup page and instructor guide.

Every check is driven by ``_toc.yml`` and ``_config.yml``: a chapter or exercise added to the table
of contents is checked without touching this file. What needs a browser (console errors, math
rendered, search, phone width, dark mode, contrast) is in test_browser.py.
"""
from __future__ import annotations

import importlib.util
import json
import posixpath
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from tests.browser_helpers import CHAPTER, EXERCISE, book_config, page_kind, toc_pages
from tests.conftest import REPO

pytestmark = pytest.mark.slow  # builds, grades or drives a browser: `-m "not slow"` skips it

PAGES = toc_pages()
NOTEBOOK_PAGES = [p for p in PAGES if page_kind(p) in (CHAPTER, EXERCISE)]
CJK = re.compile(r"[\u4e00-\u9fff]")


class PageOutline(HTMLParser):
    """The parts of a built page these tests read: title, headings of the article, links, images."""

    def __init__(self):
        super().__init__()
        self.title, self.headings, self.links, self.images, self.nav_links = "", [], [], [], []
        self._in_title = self._in_article = 0
        self._heading: list | None = None
        self._nav_depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "title":
            self._in_title = 1
        if tag == "article" and "bd-article" in (attrs.get("class") or ""):
            self._in_article = 1
        if tag == "nav" and "bd-docs-nav" in (attrs.get("class") or ""):
            self._nav_depth = 1
        elif tag == "nav" and self._nav_depth:
            self._nav_depth += 1
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs)
            if self._nav_depth:
                self.nav_links.append(attrs["href"])
        if self._in_article and re.fullmatch(r"h[1-6]", tag):
            self._heading = [int(tag[1]), ""]
        if self._in_article and tag == "img":
            self.images.append(attrs)

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = 0
        if tag == "article":
            self._in_article = 0
        if tag == "nav" and self._nav_depth:
            self._nav_depth -= 1
        if self._heading and re.fullmatch(r"h[1-6]", tag):
            self.headings.append((self._heading[0], " ".join(self._heading[1].split()).rstrip("#").strip()))
            self._heading = None

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        if self._heading is not None:
            self._heading[1] += data


def outline(built_book: Path, page: str) -> PageOutline:
    parser = PageOutline()
    parser.feed((built_book / f"{page}.html").read_text())
    return parser


def test_every_chapter_and_exercise_is_in_the_sidebar(built_book):
    chapters = [p.relative_to(REPO).with_suffix("").as_posix() for p in (REPO / "book").glob("[0-9][0-9]_*.md")]
    exercises = [p.relative_to(REPO).with_suffix("").as_posix() for p in (REPO / "notebooks").glob("*/*.ipynb")
                 if p.stem == p.parent.name]
    missing = sorted(set(chapters + exercises) - set(PAGES))
    assert not missing, f"pages missing from _toc.yml (add them, or the website never shows them): {missing}"
    # The sidebar of the home page is the table of contents a reader sees.
    home = outline(built_book, PAGES[0])
    linked = {posixpath.normpath(posixpath.join(posixpath.dirname(PAGES[0]), href.split("#")[0].removesuffix(".html")))
              for href in home.nav_links}
    absent = [p for p in PAGES[1:] if p not in linked]
    assert not absent, f"pages in _toc.yml but not in the website's sidebar: {absent}"


@pytest.mark.parametrize("page", NOTEBOOK_PAGES)
def test_notebook_page_offers_its_ipynb_and_launch_links(built_book, page):
    links = [a["href"] for a in outline(built_book, page).links]
    download = next((h for h in links if h.endswith(f"_sources/{page}.ipynb")), None)
    assert download, f"{page}.html has no download link to _sources/{page}.ipynb"
    notebook = nbformat.read(built_book / "_sources" / f"{page}.ipynb", as_version=4)
    if page_kind(page) == CHAPTER:  # executed at build time: the download has the outputs
        outputs = sum(len(c.get("outputs", [])) for c in notebook.cells if c.cell_type == "code")
        assert outputs > 0, f"the downloadable {page}.ipynb has no outputs: was the chapter executed?"

    config = book_config()
    repo_url = (config.get("repository") or {}).get("url", "").rstrip("/")
    launch = config.get("launch_buttons") or {}
    source = f"{page}.md" if page_kind(page) == CHAPTER else f"{page}.ipynb"
    if repo_url and launch.get("binderhub_url"):
        binder = [h for h in links if h.startswith(launch["binderhub_url"].rstrip("/"))]
        assert binder and binder[0].endswith(f"urlpath=lab/tree/{source}"), f"{page}: Binder link {binder}"
    if repo_url and launch.get("colab_url"):
        colab = [h for h in links if h.startswith(launch["colab_url"].rstrip("/"))]
        # Colab opens notebooks from GitHub: a chapter's executed .ipynb, an exercise's own file.
        assert colab and colab[0].endswith(".ipynb"), f"{page}: Colab link {colab} does not open a notebook"
    hub = (launch.get("jupyterhub_url") or "").rstrip("/")
    hub_links = [h for h in links if "/hub/user-redirect/git-pull" in h]
    if repo_url and hub:
        assert hub_links and hub_links[0].startswith(hub) and source in hub_links[0], f"{page}: JupyterHub link {hub_links}"
    else:
        assert not hub_links, f"{page} offers a JupyterHub link, but _config.yml sets no jupyterhub_url"


def sphinx_options_with(repository: str, **launch) -> dict:
    """The theme options Sphinx gets from _config.yml with repository.url and launch buttons set,
    after the course's extension has read them (what a publisher's one setting does)."""
    from types import SimpleNamespace

    from jupyter_book.config import get_final_config

    config = book_config()
    config["repository"] = {**config.get("repository", {}), "url": repository}
    config["launch_buttons"] = {**config.get("launch_buttons", {}), **launch}
    sphinx_config, _ = get_final_config(user_yaml=config, cli_config={"latex_individualpages": False},
                                         sourcedir=REPO)
    options = dict(sphinx_config["html_theme_options"])
    course_pages()._repository_buttons_from_the_repository(None, SimpleNamespace(html_theme_options=options))
    return options


def course_pages():
    spec = importlib.util.spec_from_file_location("course_pages", REPO / "book" / "_ext" / "course_pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_jupyterhub_url_in_config_reaches_the_launch_buttons():
    """Setting ``launch_buttons.jupyterhub_url`` (with the repository) is all it takes (no other file)."""
    options = sphinx_options_with("https://github.com/someone/course", jupyterhub_url="https://hub.example.edu")
    assert options["launch_buttons"]["jupyterhub_url"] == "https://hub.example.edu"
    assert options["repository_url"] == "https://github.com/someone/course"


def test_one_setting_fills_every_repository_link_and_none_is_invented():
    """repository.url in _config.yml fills the buttons and the setup page's clone command; empty, the
    site shows none of them. No address that nobody owns is written anywhere."""
    published = sphinx_options_with("https://github.com/someone/course")
    assert all(published[key] for key in ("use_repository_button", "use_issues_button"))
    assert published["launch_buttons"]["binderhub_url"] and published["launch_buttons"]["colab_url"]
    unpublished = sphinx_options_with("")
    assert not any(unpublished.get(key) for key in course_pages().REPOSITORY_BUTTONS)
    assert not unpublished["launch_buttons"], "launch buttons need the repository's address"

    setup = (REPO / "book" / "setup.md").read_text()
    filled = course_pages().clone_commands(setup, "https://github.com/someone/course")
    assert "git clone https://github.com/someone/course.git\ncd course\n" in filled
    unfilled = course_pages().clone_commands(setup, "")
    assert "git clone" not in unfilled and "REPOSITORY_" not in unfilled

    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    texts = [f for f in tracked if f.endswith((".md", ".yml", ".py", ".cfg", ".toml", ".txt"))
             and (REPO / f).is_file() and f != "tests/test_site.py"]
    invented = [f for f in texts if "seqlab-course" in (REPO / f).read_text(errors="replace")]
    assert not invented, f"an address nobody owns (github.com/seqlab-course): {invented}"


def test_without_a_repository_the_site_links_to_none(built_book):
    if (book_config().get("repository") or {}).get("url"):
        pytest.skip("_config.yml names a repository: the launch-link test checks its buttons")
    for page in PAGES:
        # The theme's buttons (repository, issues, launch) and any launch link; a link in the prose
        # to another project (bubblewrap's repository, say) is not one of them.
        buttons = [a["href"] for a in outline(built_book, page).links
                   if "btn" in (a.get("class") or "") or re.match(r"https://(mybinder\.org|colab\.research)", a["href"])]
        foreign = [h for h in buttons if h.startswith("http")]
        assert not foreign, f"{page}.html links to a repository that _config.yml does not name: {foreign}"
    assert "git clone" not in (built_book / "book" / "setup.html").read_text()


@pytest.mark.parametrize("page", PAGES)
def test_title_and_heading_order(built_book, page):
    parsed = outline(built_book, page)
    title = book_config()["title"]
    h1 = [text for level, text in parsed.headings if level == 1]
    assert len(h1) == 1, f"{page} has {len(h1)} top-level headings {h1}: a page has exactly one title"
    expected = "Home" if page == PAGES[0] else h1[0]
    assert parsed.title.strip() == f"{expected} \u2014 {title}", f"{page}: browser title {parsed.title.strip()!r}"
    levels = [level for level, _ in parsed.headings]
    jumps = [(a, b, text) for (a, _), (b, text) in zip(parsed.headings, parsed.headings[1:]) if b > a + 1]
    assert levels[0] == 1 and not jumps, f"{page}: headings skip a level: {jumps} (a h{levels[0]} comes first)"


def test_page_titles_are_unique(built_book):
    titles = [outline(built_book, page).title.strip() for page in PAGES]
    assert len(set(titles)) == len(titles), f"two pages share a browser title: {titles}"


@pytest.mark.parametrize("page", PAGES)
def test_figures_have_alt_text(built_book, page):
    images = outline(built_book, page).images
    missing = [img.get("src") for img in images if not (img.get("alt") or "").strip()]
    assert not missing, f"{page}: figures without alt text: {missing}"


def test_glossary_gives_every_term_a_chinese_name(built_book):
    text = (REPO / "book" / "glossary.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("|") and not set(line) <= set("|-: ")]
    assert [c.strip() for c in rows[0].strip("|").split("|")][:2] == ["English term", "Chinese name"], \
        "the glossary's first two columns are the term and its Chinese name (what a phone shows first)"
    rows = rows[1:]
    assert len(rows) >= 40, f"the glossary has {len(rows)} terms"
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
    # A name Chinese texts use untranslated (BERT, Transformer) counts as the Chinese name.
    without_chinese = [c[0] for c in cells if len(c) < 4 or not (CJK.search(c[1]) or c[1] in c[0])]
    assert not without_chinese, f"glossary terms without a Chinese name: {without_chinese}"
    terms = [c[0].lower() for c in cells]
    assert terms == sorted(terms), "the glossary is not in alphabetical order"
    assert "book/glossary" in PAGES


def test_errata_page_links_reach_their_boxes(built_book):
    """Each link of the errata page lands on an erratum box (tests/test_errata.py checks the sources)."""
    page = "book/errata"
    assert page in PAGES, "book/errata.md is not in _toc.yml"
    links = [a["href"] for a in outline(built_book, page).links if "#erratum-" in a["href"]]
    assert len(links) >= 6, f"the errata page links to {len(links)} boxes: {links}"
    for href in links:
        target, anchor = href.split("#")
        html = (built_book / posixpath.dirname(page) / target).read_text()
        box = re.search(rf'<div class="([^"]*)" id="{re.escape(anchor)}"', html)
        assert box and "erratum" in box.group(1).split(), f"{href} does not land on an erratum box"


def test_setup_page_covers_build_test_lab_and_jupytext():
    text = (REPO / "book" / "setup.md").read_text()
    for needed in ("make book", "make test", "make lab", "Validate", "jupytext", "Troubleshooting"):
        assert needed in text, f"book/setup.md does not mention {needed!r}"
    assert "book/setup" in PAGES


def test_instructor_guide_covers_the_whole_cycle_and_jupyterhub():
    guide = "\n".join((REPO / "book" / f"{name}.md").read_text() for name in ("instructors", "jupyterhub")
                      if (REPO / "book" / f"{name}.md").exists())
    for step in ("generate_assignment", "release_assignment", "collect", "autograde", "generate_feedback",
                 "release_feedback", "export", "fetch_assignment", "submit", "Exchange.root", "formgrader"):
        assert step in guide, f"the instructor guide (book/instructors.md, book/jupyterhub.md) never mentions {step}"
    assert "book/instructors" in PAGES


def test_jupyterhub_page_is_in_the_table_of_contents():
    assert (REPO / "book" / "jupyterhub.md").exists()
    assert "book/jupyterhub" in PAGES, "book/jupyterhub.md is not in _toc.yml (under 'For instructors')"


def test_make_lab_uses_the_course_lab_config():
    makefile = (REPO / "Makefile").read_text()
    recipe = re.search(r"^lab:.*?(?=^\S)", makefile, re.S | re.M).group(0)
    # lab_config last on the path (a test's own config may come first), then `jupyter lab`.
    assert re.search(r"JUPYTER_CONFIG_PATH=[^\n]*\$\(CURDIR\)/lab_config", recipe) and "jupyter lab" in recipe, recipe
    overrides = json.loads((REPO / "lab_config" / "settings" / "overrides.json").read_text())
    viewers = overrides["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]
    assert viewers.get("markdown") == "Jupytext Notebook", "chapters (.md) must open as notebooks in `make lab`"


@pytest.mark.parametrize("page", NOTEBOOK_PAGES)
def test_no_progress_bar_is_frozen_into_the_page(built_book, page):
    """A tqdm bar executed at build time is a stale widget on a static page ("0/2 [00:00<?, ?it/s]"):
    the book builds with TQDM_DISABLE=1, while students running the notebooks still get their bars."""
    html = (built_book / f"{page}.html").read_text()
    assert not re.search(r"it/s\]", html), f"{page}: a progress bar was executed into the page"
