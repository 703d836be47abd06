"""Sphinx extension: what the course's pages need beyond the theme.

- ``static/course.css``: the pages stay readable on a phone (390 px): long inline code such as
  ``notebooks/01_softmax_ce_kl/01_softmax_ce_kl.ipynb`` wraps instead of widening the page, and
  titles are smaller.
- Colab opens notebooks from GitHub, never a MyST ``.md`` chapter: the Colab button of a chapter
  points at its executed ``.ipynb``, which the website publishes under ``_sources/``, on the
  branch the website is published from (``html_context.colab_notebooks_branch``, default
  ``gh-pages``, what ``ghp-import`` pushes). Exercise pages are notebooks and keep the theme's link.
- The home page's browser title is "Home — <book title>", not the book title twice.
- One setting, ``repository.url`` in ``_config.yml``, fills every link to the course's repository:
  the theme's repository, issue and launch buttons, and the clone command of ``book/setup.md``
  (written there as ``git clone REPOSITORY_URL`` / ``cd REPOSITORY_FOLDER``). Left empty, the site
  shows none of them, never a dead button or an invented address; the executed notebook of each
  chapter is still offered for download (the theme copies it only for its launch buttons).
- A chapter's executed notebook keeps its outputs on a cached rebuild. myst-nb 1.x writes
  ``_build/jupyter_execute/<page>.ipynb`` from the notebook it read, not from the one it merged
  the cache's outputs into, so a chapter re-read from the cache (an edit of its prose, say) was
  published without a single output; the outputs are merged back here from the same cache.
- Each term of the glossary's tables is a main index entry with an anchor on its row, so that the
  site's search lists the glossary first for a term (a page that merely uses "forget gate" often
  would outrank it otherwise), and the result links to the term's row.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import urlparse

from docutils import nodes
from sphinx import addnodes

STATIC = Path(__file__).resolve().parent / "static"
GLOSSARY = "book/glossary"


SETUP = "book/setup"
REPOSITORY_BUTTONS = ("use_repository_button", "use_issues_button", "use_edit_page_button", "use_source_button")


def _add_static(app):
    app.config.html_static_path.append(str(STATIC))


def repository_url(config) -> str:
    """The course's repository as _config.yml's ``repository.url`` sets it, or "" when unset."""
    return (config.html_theme_options.get("repository_url") or "").strip().rstrip("/")


def _repository_buttons_from_the_repository(app, config):
    """The repository and issue buttons with an address; without one, no button that needs it."""
    options = config.html_theme_options
    if repository_url(config):
        options.update(use_repository_button=True, use_issues_button=True)
        return
    options.update({key: False for key in REPOSITORY_BUTTONS})
    options["launch_buttons"] = {}


def clone_commands(source: str, url: str) -> str:
    """``source`` with the setup page's placeholders filled from ``url``, or the clone line left out."""
    if url:
        folder = url.removesuffix(".git").rsplit("/", 1)[-1]
        return source.replace("REPOSITORY_URL", f"{url}.git").replace("REPOSITORY_FOLDER", folder)
    source = re.sub(r"^git clone REPOSITORY_URL\n", "", source, flags=re.M)
    return source.replace("REPOSITORY_FOLDER", "path/to/your/copy/of/the/course")


def restore_cached_outputs(executed: Path, cache_path: Path) -> bool:
    """Merge the outputs of ``executed``'s jupyter-cache record into it when it has code cells and
    not one output (what myst-nb writes for a chapter it took from the cache). True if it did."""
    import nbformat
    from jupyter_cache import get_cache

    notebook = nbformat.read(executed, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    if not code or any(cell.get("outputs") for cell in code) or not cache_path.is_dir():
        return False
    try:
        _, merged = get_cache(str(cache_path)).merge_match_into_notebook(notebook)
    except KeyError:  # no record of these code cells: nothing to restore
        return False
    nbformat.write(merged, executed)
    return True


def _keep_cached_outputs(app, doctree):
    docname = app.env.docname
    if not str(app.env.doc2path(docname)).endswith(".md"):
        return
    executed = Path(app.outdir).parent / "jupyter_execute" / f"{docname}.ipynb"
    # jupyter-book sets myst-nb's cache path (_build/.jupyter_cache); myst-nb's default otherwise.
    cache_path = getattr(app.config, "nb_execution_cache_path", "") or Path(app.outdir).parent / ".jupyter_cache"
    if executed.is_file():
        restore_cached_outputs(executed, Path(cache_path))


def _fill_clone_commands(app, docname, source):
    if docname == SETUP:
        source[0] = clone_commands(source[0], repository_url(app.config))


def _offer_the_executed_notebook(app, pagename, templatename, context, doctree):
    """Without launch buttons the theme does not publish a chapter's executed notebook: do it here."""
    if repository_url(app.config) or not context.get("sourcename", "").endswith((".md", ".md.txt")):
        return
    executed = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if executed.is_file():
        published = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
        published.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(executed, published)
        context["ipynb_source"] = f"{pagename}.ipynb"


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
    app.connect("config-inited", _repository_buttons_from_the_repository)
    app.connect("source-read", _fill_clone_commands)
    # Before sphinx-book-theme's header buttons (priority 501), which read ipynb_source.
    app.connect("html-page-context", _offer_the_executed_notebook, priority=500)
    app.add_css_file("course.css")
    # After sphinx-book-theme (default priority 500) has built the launch buttons.
    app.connect("html-page-context", _colab_opens_the_executed_notebook, priority=800)
    app.connect("html-page-context", _home_page_title, priority=800)
    app.connect("doctree-read", _index_glossary_terms)
    app.connect("doctree-read", _keep_cached_outputs)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
