"""Sphinx extension: what the course's pages need beyond the theme.

- ``static/course.css``: the pages stay readable on a phone (390 px): long inline code such as
  ``notebooks/01_softmax_ce_kl/01_softmax_ce_kl.ipynb`` wraps instead of widening the page, and
  titles are smaller.
- Colab opens notebooks from GitHub, never a MyST ``.md`` chapter: the Colab button of a chapter
  points at its executed ``.ipynb``, which the website publishes under ``_sources/``, on the
  branch the website is published from (``html_context.colab_notebooks_branch``, default
  ``gh-pages``, what ``ghp-import`` pushes). Exercise pages are notebooks and keep the theme's link.
- The home page's browser title is "Home — <book title>", not the book title twice.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

STATIC = Path(__file__).resolve().parent / "static"


def _add_static(app):
    app.config.html_static_path.append(str(STATIC))


def _colab_opens_the_executed_notebook(app, pagename, templatename, context, doctree):
    if not context.get("sourcename", "").endswith((".md", ".md.txt")):
        return
    branch = context.get("colab_notebooks_branch", "gh-pages")
    for group in context.get("header_buttons", []):
        for button in group.get("buttons", []) if isinstance(group, dict) else []:
            url = button.get("url", "")
            if button.get("text") == "Colab" and url:
                # https://colab.research.google.com/github/<org>/<repo>/blob/<branch>/<path>
                parts = urlparse(url).path.split("/")
                org, repo = parts[2], parts[3]
                colab = url.split("/github/")[0]
                button["url"] = f"{colab}/github/{org}/{repo}/blob/{branch}/_sources/{pagename}.ipynb"


def _home_page_title(app, pagename, templatename, context, doctree):
    if pagename == app.config.root_doc and context.get("title") == context.get("docstitle"):
        context["title"] = "Home"


def setup(app):
    app.connect("builder-inited", _add_static)
    app.add_css_file("course.css")
    # After sphinx-book-theme (default priority 500) has built the launch buttons.
    app.connect("html-page-context", _colab_opens_the_executed_notebook, priority=800)
    app.connect("html-page-context", _home_page_title, priority=800)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
