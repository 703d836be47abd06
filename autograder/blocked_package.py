"""In the grader's sandbox, the ``__init__`` of every package that student code may not use.

The sandbox puts this file in place of PyTorch (and of any other package that computes
gradients): an exercise's answers are NumPy code, and autograd would answer a backward pass
without deriving it. Importing such a package stops here with a message the student can act on.
"""
raise ImportError(
    f"{__name__} is not available to your code in the grader: write your answer with NumPy and the "
    "standard library (the exercise's introduction lists what you may import)")
