"""The built website in headless Chromium, page by page as _toc.yml lists them.

Each page must load with no console error and no request to any host but this machine, render
all of its math with the local MathJax, load every image (with alt text), keep every text at WCAG
AA contrast in light and dark mode, show its figures on a light ground in dark mode, show every
code block whole at 1280 px (none scrolls sideways), and fit a 390 px phone screen without
scrolling sideways. Each chapter's diagrams (book/diagrams/) load and show the light variant in
light mode, the dark one in dark mode or when the theme switch picks it, always with their caption.
Search must find each chapter by its title, and
"forget gate" must find the glossary and, once it is in the table of contents, the LSTM chapter.
Screenshots go to _build/test-artifacts/ for a person to look at.
"""
from __future__ import annotations

from urllib.parse import quote_plus

import pytest

from tests.browser_helpers import (CHAPTER, CONTRAST_FAILURES_JS, EXERCISE, chromium, page_kind, screenshot,
                                   source_title, static_server, toc_pages, watched_page)

pytestmark = pytest.mark.slow  # builds, grades or drives a browser: `-m "not slow"` skips it

PAGES = toc_pages()
PHONE_WIDTH = 390  # an iPhone 12 to 15, in CSS pixels
LSTM_CHAPTER = "book/04_lstm"
# TeX that MathJax left as text: the article's text outside formulas and code.
RAW_TEX_JS = r"""() => {
  const article = document.querySelector('article.bd-article'); if (!article) return [];
  const copy = article.cloneNode(true);
  copy.querySelectorAll('mjx-container, pre, code, script').forEach(e => e.remove());
  return (copy.textContent.match(/\$\$|\\(frac|sum_|mathrm|begin\{|odot|sigma)/g) || []).slice(0, 5);
}"""


def search_cases() -> list[tuple[str, str]]:
    """(what a reader types, the page it must find): every chapter by its title, and "forget gate"."""
    cases = [(source_title(page), page) for page in PAGES if page_kind(page) == CHAPTER]
    cases.append(("forget gate", "book/glossary"))
    if LSTM_CHAPTER in PAGES:  # the LSTM chapter, as soon as it is on the website
        cases.append(("forget gate", LSTM_CHAPTER))
    return cases


@pytest.fixture(scope="module")
def site(built_book):
    """The built website served on a free localhost port."""
    with static_server(built_book) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


def artifact_name(page: str) -> str:
    return page.replace("/", "-")


def wait_for_math(page) -> None:
    """Wait until MathJax has typeset the page (it loads after the page, from _static/mathjax)."""
    if page.locator(".math").count():
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20_000)
        page.evaluate("() => MathJax.startup.promise")


@pytest.mark.parametrize("name", PAGES)
def test_page_in_the_browser(browser, site, name):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
    watched = watched_page(context)
    page = watched.page
    page.goto(f"{site}/{name}.html", wait_until="networkidle")
    wait_for_math(page)
    screenshot(page, artifact_name(name))
    problems = []

    formulas = page.locator(".math").count()
    untypeset = page.locator(".math:not(:has(mjx-container))").count()
    if untypeset:
        problems.append(f"{untypeset} of {formulas} formulas were not rendered by MathJax")
    if page_kind(name) in (CHAPTER, EXERCISE) and page.locator("mjx-container").count() < 3:
        problems.append(f"only {page.locator('mjx-container').count()} rendered formulas: did MathJax load?")
    raw_tex = page.evaluate(RAW_TEX_JS)
    if raw_tex:
        problems.append(f"raw TeX shown instead of rendered math: {raw_tex}")

    images = page.eval_on_selector_all(
        "article.bd-article img", "imgs => imgs.map(i => [i.currentSrc, i.complete && i.naturalWidth > 0, i.alt.trim()])")
    problems += [f"image did not load: {src}" for src, loaded, _ in images if not loaded]
    problems += [f"image without alt text: {src}" for src, _, alt in images if not alt]
    if page_kind(name) == CHAPTER and not images:
        problems.append("the chapter shows no figure (did its plots render? MPLBACKEND must not be Agg)")

    # On a desktop a table fits the text column; only a phone may need to scroll it sideways.
    cut_tables = page.eval_on_selector_all(
        ".bd-article .pst-scrollable-table-container",
        "boxes => boxes.filter(b => b.scrollWidth > b.clientWidth + 1).map(b => b.innerText.slice(0, 40))")
    problems += [f"at 1280 px this table is wider than the text and scrolls sideways: {t!r}" for t in cut_tables]
    # Nor does code: a cell's input or a literalinclude (tests/test_code_width.py checks the sources
    # against the column's width; this checks what the reader gets). A printed output may scroll:
    # it is a result, like a wide table.
    wide_code = page.eval_on_selector_all(
        "article.bd-article pre",
        "pres => pres.filter(p => !p.closest('.cell_output') && p.scrollWidth > p.clientWidth + 1)"
        ".map(p => p.innerText.slice(0, 40))")
    problems += [f"at 1280 px this code is wider than its box and scrolls sideways: {t!r}" for t in wide_code]

    problems += [f"light mode, contrast {f['ratio']} < {f['needed']}: {f['text']!r} ({f['where']}, {f['color']} on "
                 f"{f['background']})" for f in page.evaluate(CONTRAST_FAILURES_JS)]

    # Dark mode, as a reader whose system prefers it sees the page (the book follows the system).
    page.emulate_media(color_scheme="dark")
    page.wait_for_function("() => document.documentElement.dataset.theme === 'dark'", timeout=5_000)
    problems += [f"dark mode, contrast {f['ratio']} < {f['needed']}: {f['text']!r} ({f['where']}, {f['color']} on "
                 f"{f['background']})" for f in page.evaluate(CONTRAST_FAILURES_JS)]
    # A plot is dark text on a transparent ground: it needs a light ground of its own.
    dark_grounds = page.eval_on_selector_all(
        ".bd-article .cell_output img", "imgs => imgs.map(i => [i.currentSrc, getComputedStyle(i).backgroundColor])")
    problems += [f"dark mode: figure on a dark ground {ground}: {src}" for src, ground in dark_grounds
                 if not ground.startswith("rgb(") or sum(map(float, ground[4:-1].split(","))) < 600]
    figures = page.locator(".bd-article .cell_output img")
    if figures.count():
        figures.first.scroll_into_view_if_needed()
        screenshot(page, f"{artifact_name(name)}-dark-figure")
    else:
        screenshot(page, f"{artifact_name(name)}-dark")

    # A phone: no sideways scrolling of the whole page (wide tables and code scroll in their box).
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": PHONE_WIDTH, "height": 844})
    page.evaluate("() => window.scrollTo(0, 0)")
    page.wait_for_timeout(300)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    if width > PHONE_WIDTH:
        problems.append(f"at {PHONE_WIDTH} px the page is {width} px wide: a reader must scroll sideways")
    screenshot(page, f"{artifact_name(name)}-phone")

    if watched.foreign:
        problems.append(f"requests to other hosts: {watched.foreign}")
    problems += [f"console error: {e}" for e in watched.errors]
    context.close()
    assert not problems, f"{name}.html:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("query,expected", search_cases())
def test_search_finds(browser, site, query, expected):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watched = watched_page(context)
    page = watched.page
    page.goto(f"{site}/search.html?q={quote_plus(query)}", wait_until="networkidle")
    # Sphinx's search writes a summary line once it has ranked every result.
    page.locator("#search-results .search-summary, #search-results p").first.wait_for(timeout=20_000)
    page.wait_for_function("() => !document.querySelector('#search-results h2')?.textContent.includes('Searching')",
                           timeout=20_000)
    hits = page.eval_on_selector_all("#search-results ul.search li a:first-of-type",
                                     "links => links.map(a => new URL(a.href).pathname)")
    found = [h.lstrip("/").removesuffix(".html") for h in hits]
    screenshot(page, f"search-{quote_plus(query)}-{artifact_name(expected)}")
    context.close()
    assert expected in found[:5], f"searching {query!r} does not list {expected} in the first 5 results: {found}"
    assert not watched.errors and not watched.foreign, (watched.errors, watched.foreign)


# The diagrams of book/diagrams/ (README.md there): each is an only-dark image followed by the
# numbered only-light figure; the theme hides the variant that does not match the mode.
DIAGRAMS_JS = """() => Array.from(document.querySelectorAll('article.bd-article img.diagram')).map(i => ({
  src: i.currentSrc, dark: i.classList.contains('only-dark'), light: i.classList.contains('only-light'),
  loaded: i.complete && i.naturalWidth > 0, shown: getComputedStyle(i).display !== 'none' && i.offsetWidth > 0,
  scale: i.naturalWidth ? i.getBoundingClientRect().width / i.naturalWidth : 0, alt: i.alt.trim()}))"""
DIAGRAM_CAPTIONS_JS = """() => Array.from(document.querySelectorAll('article.bd-article figure.diagram')).map(f => {
  const c = f.querySelector('figcaption'); return [f.id, !!c && c.offsetHeight > 0]; })"""
# The kit's smallest text is 12 px at a diagram's natural width (at most 760 px); the column at
# 1280 px is 688 px wide, so the text may shrink to about 11 px, no further.
DIAGRAM_MIN_SCALE = 0.9


def diagram_problems(page, mode: str) -> list[str]:
    """What is wrong with the diagrams of the open page, in ``mode`` ("light" or "dark")."""
    problems = []
    images = page.evaluate(DIAGRAMS_JS)
    for im in images:
        src = im["src"].rsplit("/", 1)[-1]
        if not im["loaded"]:
            problems.append(f"{mode} mode: diagram did not load: {src}")
        if not im["alt"]:
            problems.append(f"{mode} mode: diagram without alt text: {src}")
        if im["dark"] == im["light"]:
            problems.append(f"diagram {src} must have exactly one of only-light and only-dark")
        if im["dark"] != src.endswith("-dark.svg"):
            problems.append(f"diagram {src}: its class and its file's variant disagree")
        wanted = im["dark"] if mode == "dark" else im["light"]
        if im["shown"] != wanted:
            problems.append(f"{mode} mode: the {'dark' if im['dark'] else 'light'} variant {src} is "
                            f"{'shown' if im['shown'] else 'hidden'}")
        if im["shown"] and im["scale"] < DIAGRAM_MIN_SCALE:
            problems.append(f"{mode} mode: {src} is scaled to {im['scale']:.2f} of its width: text below 11 px")
    problems += [f"{mode} mode: the caption of {fig} is hidden"
                 for fig, visible in page.evaluate(DIAGRAM_CAPTIONS_JS) if not visible]
    return problems


@pytest.mark.parametrize("name", [page for page in PAGES if page_kind(page) == CHAPTER])
def test_diagrams_follow_light_and_dark_mode(browser, site, name):
    """Every chapter shows a diagram of its model: loaded, captioned, the light variant in light
    mode, the dark one in dark mode (the system's preference), and the variant the theme switch
    picks when the reader overrides it."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
    page = context.new_page()
    page.goto(f"{site}/{name}.html", wait_until="networkidle")
    problems = []
    if not page.evaluate(DIAGRAMS_JS):
        problems.append("the chapter shows no diagram (book/diagrams/README.md)")
    problems += diagram_problems(page, "light")
    page.emulate_media(color_scheme="dark")
    page.wait_for_function("() => document.documentElement.dataset.theme === 'dark'", timeout=5_000)
    problems += diagram_problems(page, "dark")
    diagrams = page.locator("article.bd-article img.diagram.only-dark")
    if diagrams.count():
        diagrams.first.scroll_into_view_if_needed()
        screenshot(page, f"{artifact_name(name)}-dark-diagram")
    # The theme's switch sets data-theme on <html>, whatever the system prefers.
    page.evaluate("() => { document.documentElement.dataset.theme = 'light'; }")
    problems += [f"{p} (set by the theme switch)" for p in diagram_problems(page, "light")]
    context.close()
    assert not problems, f"{name}.html:\n  " + "\n  ".join(problems)
