"""Sphinx extension: what the course's pages need beyond the theme.

- ``static/course.css``: the pages stay readable on a phone (390 px): long inline code such as
  ``notebooks/01_softmax_ce_kl/01_softmax_ce_kl.ipynb`` wraps instead of widening the page, and
  titles are smaller.
- Colab opens notebooks from GitHub, never a MyST ``.md`` chapter: the Colab button of a chapter
  points at its executed ``.ipynb``, which the website publishes under ``_sources/``, on the
  branch the website is published from (``html_context.colab_notebooks_branch``, default
  ``gh-pages``, what ``ghp-import`` pushes). Exercise pages are notebooks and keep the theme's link.
- The home page's browser title is "Home — <book title>", not the book title twice.
- Each term of the glossary's tables is a main index entry with an anchor on its row, so that the
  site's search lists the glossary first for a term (a page that merely uses "forget gate" often
  would outrank it otherwise), and the result links to the term's row.
"""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

from docutils import nodes
from sphinx import addnodes

STATIC = Path(__file__).resolve().parent / "static"
GLOSSARY = "book/glossary"


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


def _index_glossary_terms(app, doctree):
    if app.env.docname != GLOSSARY:
        return
    seen: set[str] = set()
    for table in doctree.findall(nodes.table):
        for row in table.findall(nodes.row):
            if isinstance(row.parent, nodes.thead):
                continue
            term = row.children[0].astext().strip()
            if not term:
                continue
            target = "term-" + re.sub(r"[^a-z0-9]+", "-", term.lower()).strip("-")
            if target in seen:
                continue
            seen.add(target)
            row["ids"].append(target)
            entry = addnodes.index(entries=[("single", term, target, "main", None)])
            row.children[0].insert(0, entry)


def setup(app):
    app.connect("builder-inited", _add_static)
    app.add_css_file("course.css")
    # After sphinx-book-theme (default priority 500) has built the launch buttons.
    app.connect("html-page-context", _colab_opens_the_executed_notebook, priority=800)
    app.connect("html-page-context", _home_page_title, priority=800)
    app.connect("doctree-read", _index_glossary_terms)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
