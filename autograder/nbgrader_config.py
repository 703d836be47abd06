"""nbgrader configuration of the course.

Use it from the repository root:
``nbgrader <command> --NbGrader.config_file=autograder/nbgrader_config.py`` (nbgrader 0.9 has no
``--config`` flag), or through ``make release`` and ``make grade-demo``.
The instructor's source notebooks are ``solutions/<id>/<id>.ipynb``; nbgrader's release,
``notebooks/<id>/<id>.ipynb``, is what students get. Everything grading produces (submissions,
graded copies, feedback, the gradebook) lives under ``autograder/var/``, which git ignores.
"""
from pathlib import Path

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import ClearHiddenTests, GetGrades

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

REPO = Path(__file__).resolve().parent.parent

c.CourseDirectory.root = str(REPO)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.submitted_directory = "autograder/var/submitted"
c.CourseDirectory.autograded_directory = "autograder/var/autograded"
c.CourseDirectory.feedback_directory = "autograder/var/feedback"
c.CourseDirectory.db_url = f"sqlite:///{REPO / 'autograder' / 'var' / 'gradebook.db'}"

# Seconds per cell when grading: an exercise runs in at most 60 s in all.
c.Execute.timeout = 60
# The stub that replaces each solution: running it fails the task's tests.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
# Feedback shows students their results, never the hidden tests' code (nbgrader's default
# feedback copies the graded notebook, hidden tests included).
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]
