"""seqlab.progress: the training loops' bars obey TQDM_DISABLE even where tqdm's widget class would not."""
import pytest

from seqlab import progress


class Recorder:
    """Stands in for tqdm.auto's class, which in Jupyter is the widget that ignores TQDM_DISABLE."""

    def __init__(self, iterable=None, **kwargs):
        self.iterable, self.kwargs = iterable, kwargs


@pytest.mark.parametrize("value, enabled, disabled", [
    (None, True, False), ("", True, False), ("0", True, False), ("false", True, False),
    ("1", True, True), ("True", True, True), (" yes ", True, True), (None, False, True), ("0", False, True),
])
def test_bar_is_disabled_by_the_argument_or_the_environment(monkeypatch, value, enabled, disabled):
    monkeypatch.setattr(progress, "tqdm", Recorder)
    if value is None:
        monkeypatch.delenv("TQDM_DISABLE", raising=False)
    else:
        monkeypatch.setenv("TQDM_DISABLE", value)
    bar = progress.progress_bar(range(3), enabled=enabled, desc="x", leave=False)
    assert bar.kwargs == {"disable": disabled, "desc": "x", "leave": False} and bar.iterable == range(3)
