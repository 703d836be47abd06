"""JupyterLab for the course: `make lab` loads this folder (JUPYTER_CONFIG_PATH=lab_config).

It opens the repository with the file browser on the student exercises in ``notebooks/``, so
that the chapters in ``book/`` are one click away and open as notebooks through jupytext. The
nbgrader server extensions (Validate, the assignment list, formgrader) are enabled by nbgrader's
own install; their course settings are in ``nbgrader_config.py`` next to this file.
"""
from pathlib import Path

c = get_config()  # noqa: F821 (provided by traitlets when Jupyter loads this file)

LAB_CONFIG = Path(__file__).resolve().parent
REPO = LAB_CONFIG.parent

c.ServerApp.root_dir = str(REPO)
c.LabApp.default_url = "/lab/tree/notebooks"
# overrides.json: chapters (.md) open as notebooks; JupyterLab never fetches news or update
# checks from the internet (the course works offline, and the tests forbid other hosts); and
# every cell of a notebook stays rendered (windowingMode "none": the course's notebooks are
# small, and the browser's find-in-page then sees the whole exercise).
c.LabApp.app_settings_dir = str(LAB_CONFIG / "settings")
