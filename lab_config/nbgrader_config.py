"""nbgrader in `make lab`: the course's configuration plus a local exchange.

JupyterLab's nbgrader extensions read every ``nbgrader_config.py`` on Jupyter's configuration
path; `make lab` puts this folder first on it. The course's own configuration
(``autograder/nbgrader_config.py``: folders, gradebook) is loaded first, so formgrader shows the
course's real gradebook. The exchange (where *release_assignment* puts exercises and *submit*
puts submissions) is a folder of this checkout, so the Assignment List works on one machine
without root rights. A JupyterHub uses a shared exchange instead: see book/jupyterhub.md.
"""
from pathlib import Path

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

REPO = Path(__file__).resolve().parent.parent

load_subconfig(str(REPO / "autograder" / "nbgrader_config.py"))  # noqa: F821 (provided by traitlets)

c.CourseDirectory.course_id = "seqmodels"
c.Exchange.root = str(REPO / "autograder" / "var" / "exchange")
