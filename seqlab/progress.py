"""Progress bars for the training loops: tqdm's, switched off by ``enabled=False`` or by ``TQDM_DISABLE``.

``tqdm.auto`` picks the widget class inside Jupyter, and that class does not read tqdm's
``TQDM_DISABLE`` environment variable (the console class does, and only when ``disable`` is not
passed). The book is built with ``TQDM_DISABLE=1``, so that no bar is frozen into a static page,
while students running a notebook keep theirs: the variable is therefore read here, once for every
loop of the package.
"""
from __future__ import annotations

import os

from tqdm.auto import tqdm

_OFF = ("1", "true", "yes")


def progress_bar(iterable=None, *, enabled: bool = True, **kwargs) -> tqdm:
    """``tqdm(iterable, **kwargs)``, disabled when ``enabled`` is false or ``TQDM_DISABLE`` is 1/true/yes."""
    disabled = not enabled or os.environ.get("TQDM_DISABLE", "").strip().lower() in _OFF
    return tqdm(iterable, disable=disabled, **kwargs)
