"""`make release`: regenerate every student notebook in ``notebooks/`` from ``solutions/``.

Run it after editing an exercise's source notebook, and commit both: a test fails when the
committed release differs from a fresh generation.
"""
from autograder.nbgrader_cli import assignments, nbgrader

if __name__ == "__main__":
    for assignment in assignments():
        nbgrader("generate_assignment", assignment, "--force")
        print(f"released notebooks/{assignment}/{assignment}.ipynb")
