"""What the website and browser tests share: headless Chromium, a static server for the website,
JupyterLab started the way `make lab` starts it, a WCAG contrast check, and the pages of _toc.yml.

Chromium is Debian's ``/usr/bin/chromium`` driven by playwright (``playwright install`` cannot
download browsers on the course's machines). Every server listens on a free port of 127.0.0.1
and is stopped when its ``with`` block ends, pass or fail.
"""
from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import yaml

from tests.conftest import ARTIFACTS, REPO, venv_env

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@contextlib.contextmanager
def chromium() -> Iterator:
    """A headless Chromium browser (playwright's ``Browser``)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # one line per file would bury pytest's report
        pass


@contextlib.contextmanager
def static_server(folder: Path) -> Iterator[str]:
    """``folder`` served over HTTP on a free localhost port; yields the base URL."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Watched:
    """A page with what it logged: console errors and the requests it tried to send elsewhere."""
    page: object
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)


def watched_page(context_or_browser) -> Watched:
    """A new page that records console errors and blocks (and records) any non-local request."""
    page = context_or_browser.new_page()
    watched = Watched(page)

    def on_console(message):
        if message.type == "error":
            watched.errors.append(f"{message.text} ({message.location.get('url', '')})")

    page.on("console", on_console)
    page.on("pageerror", lambda error: watched.errors.append(str(error)))

    def guard(route):
        if urlparse(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:  # never let a test reach the network; record the attempt instead
            watched.foreign.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    # The tests read computed colours, and the theme animates them when the colour scheme switches:
    # measured mid-transition (a slow machine), the search button's ground is halfway between light
    # and dark. Transitions and animations are switched off, so that what is read is the end state.
    page.add_init_script("""document.addEventListener("DOMContentLoaded", () => {
        const style = document.createElement("style");
        style.textContent = "*, *::before, *::after { transition: none !important; animation: none !important; }";
        document.head.appendChild(style);
    });""")
    return watched


def screenshot(page, name: str, full_page: bool = False) -> Path:
    """Save a screenshot as ``_build/test-artifacts/<name>.png`` for a person to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    url: str  # base URL, without the token
    token: str
    log: Path

    def at(self, path: str) -> str:
        """The URL of ``path`` (``/lab/tree/x.ipynb``) with the token that logs the browser in."""
        return f"{self.url}{path}{'&' if '?' in path else '?'}token={self.token}"


@contextlib.contextmanager
def jupyterlab(root: Path, scratch: Path, extra_config: Path | None = None,
               timeout_s: float = 90) -> Iterator[Lab]:
    """JupyterLab on ``root`` with the course's lab_config (what `make lab` runs).

    It listens on a free port of 127.0.0.1 with a random token; its runtime, settings and
    workspace folders are in ``scratch``, so it neither reads nor writes the user's. It is
    killed, with its kernels, when the block ends. ``extra_config``: a folder put before
    lab_config on Jupyter's configuration path (a test's own nbgrader_config.py). It is started by
    `make lab`, as a reader starts it.
    """
    port, token = free_port(), secrets.token_hex(16)
    env = {**venv_env(),
           "JUPYTER_RUNTIME_DIR": str(scratch / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(scratch / "user-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(scratch / "workspaces"),
           "IPYTHONDIR": str(scratch / "ipython"),
           "OMP_NUM_THREADS": "1"}
    log = ARTIFACTS / f"jupyterlab-{root.name}.log"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # Started by the README's own command, so that what `make lab` does (its config path, and
    # --allow-root where the tests run as root) is what these tests exercise.
    lab_args = ["--no-browser", "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
                f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}"]
    cmd = ["make", "--no-print-directory", "-C", str(REPO), "lab", f"LAB_ARGS={' '.join(lab_args)}"]
    if extra_config is not None:
        cmd.append(f"LAB_CONFIG_PATH={extra_config}")
    with open(log, "w") as log_file:
        # A session of its own, so that the kill at the end reaches the kernels it started.
        server = subprocess.Popen(cmd, cwd=root, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        lab = Lab(f"http://127.0.0.1:{port}", token, log)
        try:
            wait_until_up(lab, server, timeout_s)
            yield lab
        finally:
            stop_process_group(server, timeout_s=15)


def stop_process_group(process: subprocess.Popen, timeout_s: float) -> None:
    """SIGTERM to ``process``'s session (started with ``start_new_session``), SIGKILL after ``timeout_s``."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_until_up(lab: Lab, server: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {server.returncode}; its log:\n{lab.log.read_text()[-4000:]}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(lab.at("/api/status"), timeout=2) as response:
                if response.status == 200:
                    return
        time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer within {timeout_s} s; its log:\n{lab.log.read_text()[-4000:]}")


# WCAG 2.1 contrast (success criterion 1.4.3, level AA) of every visible text on the page:
# 4.5:1, or 3:1 for large text (24 px, or 18.66 px bold). The background is found by blending the
# ancestors' background colours; text over an image or a gradient is skipped (no single colour).
CONTRAST_FAILURES_JS = """
() => {
  const parse = c => { const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const v = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number); return [v[0], v[1], v[2], v.length > 3 ? v[3] : 1]; };
  const over = (top, bottom) => { const a = top[3] + bottom[3] * (1 - top[3]);
    return a === 0 ? [0, 0, 0, 0] : [0, 1, 2].map(i => (top[i] * top[3] + bottom[i] * bottom[3] * (1 - top[3])) / a).concat([a]); };
  const luminance = c => { const [r, g, b] = c.slice(0, 3).map(v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const background = el => { const layers = [];
    for (let e = el; e; e = e.parentElement) { const s = getComputedStyle(e);
      if (s.backgroundImage !== 'none') return null;
      const c = parse(s.backgroundColor); if (c && c[3] > 0) { layers.push(c); if (c[3] === 1) break; } }
    let bg = [255, 255, 255, 1]; for (const c of layers.reverse()) bg = over(c, bg); return bg; };
  const failures = []; const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement; if (!el || seen.has(el) || !node.textContent.trim()) continue; seen.add(el);
    if (el.closest('mjx-container, svg, script, style, noscript, .visually-hidden, .sr-only, [aria-hidden=true]')) continue;
    const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
    if (r.width === 0 || r.height === 0 || s.visibility !== 'visible' || parseFloat(s.opacity) < 0.1) continue;
    if (el.closest('[hidden], details:not([open]) > :not(summary)')) continue;
    let hidden = false; for (let e = el; e; e = e.parentElement) if (getComputedStyle(e).display === 'none') { hidden = true; break; }
    if (hidden) continue;
    const bg = background(el); const fg0 = parse(s.color); if (!bg || !fg0) continue;
    const fg = over(fg0, bg); const [l1, l2] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
    const ratio = (l1 + 0.05) / (l2 + 0.05); const size = parseFloat(s.fontSize); const bold = parseInt(s.fontWeight) >= 700;
    const needed = (size >= 24 || (bold && size >= 18.66)) ? 3 : 4.5;
    if (ratio < needed) failures.push({text: node.textContent.trim().slice(0, 40), ratio: Math.round(ratio * 100) / 100,
      needed, color: s.color, background: `rgb(${bg.slice(0, 3).map(Math.round).join(', ')})`,
      where: el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '')});
  }
  return failures;
}
"""


# The website's pages, as _toc.yml lists them: paths without extension, the root first.
CHAPTER, EXERCISE, OTHER = "chapter", "exercise", "other"


def book_config() -> dict:
    return yaml.safe_load((REPO / "_config.yml").read_text())


def toc_pages() -> list[str]:
    """Every page of _toc.yml in reading order (root, then parts, chapters and their sections)."""
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    pages = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                pages.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return [str(Path(p).with_suffix("")) if Path(p).suffix in (".md", ".ipynb") else p for p in pages]


def page_kind(page: str) -> str:
    """A chapter (``book/NN_name``), an exercise (``notebooks/<id>/<id>``) or another page."""
    if re.fullmatch(r"book/\d\d_[^/]+", page):
        return CHAPTER
    if re.fullmatch(r"notebooks/([^/]+)/\1", page):
        return EXERCISE
    return OTHER


def source_title(page: str) -> str:
    """The title (first level-1 heading) of a page's source, read before the book is built."""
    md, ipynb = REPO / f"{page}.md", REPO / f"{page}.ipynb"
    if md.exists():
        text = md.read_text()
    else:
        text = "\n".join(c.source for c in nbformat.read(ipynb, as_version=4).cells if c.cell_type == "markdown")
    heading = re.search(r"^# (.+)$", text, re.M)
    if not heading:
        raise ValueError(f"{page} has no '# title' heading")
    return heading.group(1).strip()
