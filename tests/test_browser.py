"""The built website in headless Chromium: math rendered by the local MathJax, no console errors,
no request to any host but this machine. Screenshots go to _build/test-artifacts/ for a person to look at."""
from __future__ import annotations

import functools
import http.server
import shutil
import threading
from urllib.parse import urlparse

import pytest

from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.slow  # builds, grades or drives a browser: `-m "not slow"` skips it

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@pytest.fixture(scope="module")
def site(built_book):
    """The built website served on a free localhost port."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(built_book))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync"],
        )
        yield browser
        browser.close()


def open_page(browser, url: str, width: int = 1280):
    """Load ``url``; return the page, its console errors and the requests sent to other hosts."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors, foreign = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def guard(route):
        if urlparse(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:  # never let the test reach the network; record the attempt instead
            foreign.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    page.goto(url, wait_until="networkidle")
    return page, errors, foreign


def test_chapter_1_renders_math_offline(browser, site):
    page, errors, foreign = open_page(browser, f"{site}/book/01_softmax_ce_kl.html")
    page.wait_for_selector("mjx-container", timeout=20_000)
    rendered = page.locator("mjx-container").count()
    raw_tex = page.locator("text=/\\$\\$|\\\\frac|\\\\sum_/").count()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chapter01.png"), full_page=False)
    page.screenshot(path=str(ARTIFACTS / "chapter01-full.png"), full_page=True)
    assert rendered >= 10, f"only {rendered} formulas rendered by MathJax"
    assert raw_tex == 0, "some TeX is shown as raw source instead of rendered math"
    assert not foreign, f"the page requested other hosts: {foreign}"
    assert not errors, f"console errors: {errors}"
    # The article's own images: the theme's logos (Binder, Colab) are not the chapter's figures.
    images = page.eval_on_selector_all(
        "article.bd-article img", "imgs => imgs.map(i => [i.src, i.complete && i.naturalWidth > 0, i.alt])")
    assert len(images) >= 2, f"chapter 1 shows {len(images)} figures: did the plots render (MPLBACKEND must not be Agg)?"
    assert all(ok for _, ok, _ in images), f"images that did not load: {[s for s, ok, _ in images if not ok]}"
    assert all(alt for _, _, alt in images), f"figures without alt text: {[s for s, _, alt in images if not alt]}"
