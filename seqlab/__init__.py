"""seqlab: the from-scratch NumPy layers and tools of *Sequence Models from Scratch*.

One implementation of each layer lives here; the chapters show it with ``literalinclude`` and
import it, and the exercises and tests check against it.
"""
__version__ = "0.1.0"
