"""The benchmarks' baseline: plain ``nbgrader autograde``, executing each notebook unsandboxed.

The course's configuration (``autograder/nbgrader_config.py``) refuses that, since it runs the
students' code with the instructor's rights; the benchmarks measure it on their own generated,
honest submissions only, so this file loads the course's and puts nbgrader's ``Execute`` back.
"""
from pathlib import Path

from nbgrader.converters import Autograde

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)
load_subconfig(str(Path(__file__).resolve().parent.parent / "autograder" / "nbgrader_config.py"))  # noqa: F821
c.Autograde.autograde_preprocessors = Autograde.class_traits()["autograde_preprocessors"].default()
