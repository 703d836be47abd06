"""Sphinx extension: register each <script> of the site once.

sphinx-thebe (and sphinx-togglebutton) register their inline scripts on every
``env-before-read-docs`` event, which fires twice in a Jupyter Book build: every page then
declares ``const THEBE_JS_URL`` twice, and the browser logs an error. Drop exact duplicates
from each page's scripts.
"""


def _key(script):
    # An inline script is registered with filename None by one path and "" by the other.
    return getattr(script, "filename", None) or "", tuple(sorted(getattr(script, "attributes", {}).items()))


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context["script_files"]:
        if _key(script) not in seen:
            seen.add(_key(script))
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    # Late, once every other extension has added its scripts to the page.
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
