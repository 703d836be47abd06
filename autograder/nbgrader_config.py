"""nbgrader configuration of the course.

Use it from the repository root:
``nbgrader <command> --NbGrader.config_file=autograder/nbgrader_config.py`` (nbgrader 0.9 has no
``--config`` flag), or through ``make release`` and ``make grade-demo``.
The instructor's source notebooks are ``solutions/<id>/<id>.ipynb``; nbgrader's release,
``notebooks/<id>/<id>.ipynb``, is what students get. Everything grading produces (submissions,
graded copies, feedback, the gradebook) lives under ``autograder/var/``, which git ignores.
"""
import sys
from pathlib import Path

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.converters import Autograde
from nbgrader.preprocessors import ClearHiddenTests, Execute, GetGrades

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # Formgrader's server (make lab) may not have the checkout on its path
    sys.path.insert(0, str(REPO))

c.CourseDirectory.root = str(REPO)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.submitted_directory = "autograder/var/submitted"
c.CourseDirectory.autograded_directory = "autograder/var/autograded"
c.CourseDirectory.feedback_directory = "autograder/var/feedback"
c.CourseDirectory.db_url = f"sqlite:///{REPO / 'autograder' / 'var' / 'gradebook.db'}"

# nbgrader's Execute would run each submission with the instructor's rights. In its place, the
# outputs that `make grade` recorded in the sandbox (autograder/preprocessors.py); plain `nbgrader
# autograde` and Formgrader's autograde button, which have none, refuse and name the command.
# Named, not imported: nbconvert imports it when autograde runs, so that an import error stops
# autograde there, where an error in this file would make nbgrader drop the file, Execute included.
c.Autograde.autograde_preprocessors = [
    "autograder.preprocessors.FillOutputsFromCache" if step is Execute else step
    for step in Autograde.class_traits()["autograde_preprocessors"].default()  # nbgrader's own steps
]
# Seconds per cell of nbgrader's own execution, now only Validate in `make lab` (the sandboxed
# grader has its limits in autograder/sandbox.py): an exercise runs in at most 60 s in all.
c.Execute.timeout = 60
# Formgrader's manual-grading page and the feedback pages are HTML made from a submission: a
# student's <script> or onerror= there would run in the instructor's server (the page has its
# origin). nbconvert's sanitizer removes them.
c.HTMLExporter.sanitize_html = True
# The stub that replaces each solution: running it fails the task's tests.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
# Feedback shows students their results, never the hidden tests' code (nbgrader's default
# feedback copies the graded notebook, hidden tests included).
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]
