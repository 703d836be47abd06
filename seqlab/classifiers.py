"""Many-to-one sequence models built from any time layer, and the loop that trains them.

Taught in: book/03_gradient_flow.md

A time layer is anything with TimeRNN's interface: ``forward(xs: (N, T, D)) -> hs: (N, T, H)``,
``backward(dhs: (N, T, H)) -> dxs``, and ``params``, ``grads``, ``param_names``. The models read
the last output ``hs[:, -1]: (N, H)`` through a head (an ``Affine`` to C classes or to one
number) and a loss. Chapters 4 and 5 pass a TimeLSTM or a TimeGRU to the same classes and train
them with the same :func:`train`, so the comparison with the RNN changes nothing but the layer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from seqlab.layers import Affine, SoftmaxCrossEntropy
from seqlab.optim import clip_grads_by_global_norm, global_norm
from seqlab.progress import progress_bar


class MeanSquaredError:
    """The mean of ``(predictions - targets)**2`` over every element; ``F.mse_loss``'s default.

    Taught in: book/03_gradient_flow.md
    """

    def __init__(self):
        self.params, self.grads = [], []
        self.cache = None

    def forward(self, predictions: np.ndarray, targets: np.ndarray) -> float:
        """predictions and targets of the same shape, (N, 1) for one number per sequence."""
        if np.shape(predictions) != np.shape(targets):
            raise ValueError(f"predictions {np.shape(predictions)} and targets {np.shape(targets)} must have "
                             "the same shape (reshape the targets to (N, 1) for one number per sequence)")
        self.cache = (predictions, targets)
        return float(np.mean((predictions - targets) ** 2))

    def backward(self, dout: float = 1.0) -> np.ndarray:
        predictions, targets = self.cache
        return (2 * dout / predictions.size) * (predictions - targets)


class ManyToOne:
    """Time layer -> last output -> head -> loss: one answer per sequence.

    Taught in: book/03_gradient_flow.md

    xs: (N, T, D) -> hs: (N, T, H) -> hs[:, -1]: (N, H) -> head -> loss.
    Interface of :func:`train`: ``forward(xs, ts) -> loss``, then
    ``backward()`` fills ``grads``; ``params`` and ``grads`` are matching
    lists of the layers' own arrays, updated in place.

    The time layer must not be stateful: each batch holds new, independent
    sequences. For a bidirectional layer the last output's backward half has
    read a single step; use a unidirectional layer (or stack one on top) for
    a summary of the whole sequence.
    """

    def __init__(self, time_layer, head, loss_layer):
        if getattr(time_layer, "stateful", False):
            raise ValueError(
                "a many-to-one model reads independent sequences: create "
                "its time layer with stateful=False"
            )
        self.time_layer, self.head, self.loss_layer = (
            time_layer,
            head,
            loss_layer,
        )
        named_layers = {"time_layer": time_layer, "head": head}
        self.params = [
            p for layer in named_layers.values() for p in layer.params
        ]
        self.grads = [
            g for layer in named_layers.values() for g in layer.grads
        ]
        self.param_names = tuple(
            f"{prefix}.{name}"
            for prefix, layer in named_layers.items()
            for name in getattr(
                layer,
                "param_names",
                [f"param{i}" for i in range(len(layer.params))],
            )
        )
        # of the last forward's hs, for backward
        self._hs_shape, self._hs_dtype = None, None

    def predict(self, xs: np.ndarray) -> np.ndarray:
        """xs: (N, T, D) -> the head's output for the last step: (N, C)
        scores, or (N, 1) numbers."""
        xs = np.asarray(xs)
        if xs.ndim != 3:
            raise ValueError(
                f"{type(self).__name__} expects xs of shape (N, T, D), got "
                f"{xs.shape}"
            )
        hs = self.time_layer.forward(xs)  # (N, T, H)
        self._hs_shape, self._hs_dtype = hs.shape, hs.dtype
        return self.head.forward(hs[:, -1])

    def forward(self, xs: np.ndarray, ts: np.ndarray) -> float:
        """The mean loss over the N sequences."""
        return self.loss_layer.forward(self.predict(xs), ts)

    def backward(self) -> np.ndarray:
        """Fills ``grads`` from the last ``forward``; returns ``dL/dxs: (N,
        T, D)``.

        ``dxs[:, t]`` shows how much of the learning signal reaches the input
        of step t.
        """
        if self._hs_shape is None:
            raise RuntimeError("call forward(xs, ts) before backward()")
        # (N, T, H): only the last step is read
        dhs = np.zeros(self._hs_shape, self._hs_dtype)
        dhs[:, -1] = self.head.backward(self.loss_layer.backward())
        return self.time_layer.backward(dhs)


class SequenceClassifier(ManyToOne):
    """A many-to-one classifier: ``Affine(H, C)`` on the last output, softmax cross-entropy on ``ts: (N,)`` class ids.

    Taught in: book/03_gradient_flow.md

    ``predict(xs)`` returns the logits (N, C); ``SequenceClassifier.init(time_layer, C, rng)``
    builds the head from the layer's output size.
    """

    def __init__(self, time_layer, head: Affine):
        super().__init__(time_layer, head, SoftmaxCrossEntropy())

    @classmethod
    def init(cls, time_layer, num_classes: int, rng: np.random.Generator) -> "SequenceClassifier":
        dtype = time_layer.params[0].dtype
        return cls(time_layer, Affine.init(time_layer.output_size, num_classes, rng, dtype))

    def accuracy(self, xs: np.ndarray, ts: np.ndarray) -> float:
        """The fraction of the N sequences whose highest logit is the target class."""
        return float(np.mean(self.predict(xs).argmax(axis=-1) == ts))


class SequenceRegressor(ManyToOne):
    """A many-to-one regressor: ``Affine(H, 1)`` on the last output, mean squared error on ``ts: (N, 1)``.

    Taught in: book/03_gradient_flow.md
    """

    def __init__(self, time_layer, head: Affine):
        super().__init__(time_layer, head, MeanSquaredError())

    @classmethod
    def init(cls, time_layer, rng: np.random.Generator) -> "SequenceRegressor":
        dtype = time_layer.params[0].dtype
        return cls(time_layer, Affine.init(time_layer.output_size, 1, rng, dtype))


@dataclass
class TrainingLog:
    """What :func:`train` measured at each step it took.

    loss: (S,) the batch loss; grad_norm: (S,) the global gradient norm *before* clipping.
    S is the number of steps requested, or fewer if training diverged: ``diverged_at`` is then the
    step whose loss or gradient was inf or NaN (its values are the last entries), else None.
    """

    loss: np.ndarray
    grad_norm: np.ndarray
    diverged_at: int | None = None


def train(
    model,
    xs: np.ndarray,
    ts: np.ndarray,
    optimizer,
    steps: int,
    batch_size: int,
    max_norm: float | None = None,
    seed: int = 0,
    progress: bool = True,
) -> TrainingLog:
    """Train ``model`` on random batches of ``(xs, ts)`` for ``steps``
    updates of ``optimizer``.

    xs: (N, T, D) and ts: (N, ...) are the training set; each step draws
    ``batch_size`` sequences from it without replacement. With ``max_norm``
    every step clips the gradients by global norm before the update. A step
    whose loss or gradient norm is inf or NaN ends training: there is no
    sensible update to make from it, and every later step would be NaN too.
    """
    if len(xs) != len(ts):
        raise ValueError(
            f"xs holds {len(xs)} sequences but ts holds {len(ts)} targets"
        )
    if not 1 <= batch_size <= len(xs):
        raise ValueError(
            f"batch_size must lie in [1, {len(xs)}] (the number of "
            f"sequences), got {batch_size}"
        )
    rng = np.random.default_rng(seed)
    losses, norms = [], []
    for step in progress_bar(
        range(steps), enabled=progress, desc="training", leave=False
    ):
        batch = rng.choice(len(xs), size=batch_size, replace=False)
        # divergence is detected below, not warned about
        with np.errstate(over="ignore", invalid="ignore"):
            loss = model.forward(xs[batch], ts[batch])
            model.backward()
            norm = global_norm(model.grads)
        losses.append(loss)
        norms.append(norm)
        if not (math.isfinite(loss) and math.isfinite(norm)):
            return TrainingLog(
                np.array(losses), np.array(norms), diverged_at=step
            )
        if max_norm is not None:
            clip_grads_by_global_norm(model.grads, max_norm)
        optimizer.update(model.params, model.grads)
    return TrainingLog(np.array(losses), np.array(norms))


# The learning rates of recall_experiment, one per optimizer: set once for the recall task of
# chapters 3 to 5 and used at every lag and for every cell; the book does not tune them.
RECALL_LEARNING_RATES = {"SGD": 0.3, "Adam": 0.02}


def recall_experiment(
    cell: str,
    optimizer: str,
    lag: int,
    seed: int,
    *,
    hidden_size: int = 16,
    steps: int = 300,
    batch_size: int = 128,
    lr: float | None = None,
    max_norm: float = 1.0,
    keep_bias: float | None = None,
    num_symbols: int = 4,
    keep_model: bool = False
) -> dict:
    """Train one many-to-one ``cell`` on
    :func:`seqlab.tasks.long_range_recall` at ``lag``; a plain dict of
    results.

    Taught in: book/03_gradient_flow.md, book/05_gru.md

    One run of the memory experiment of chapters 3 to 5, a function of the
    package so that worker processes can run many at once. ``cell`` is
    ``"RNN"``, ``"LSTM"`` or ``"GRU"`` (H = ``hidden_size``, PyTorch's
    default initialization drawn from ``seed``; with ``keep_bias``, the bias
    of the gate that keeps the state, the LSTM's forget gate or the GRU's
    update gate z, is then set to it, so that both start by keeping about
    ``sigmoid(keep_bias)`` of their state per step); ``optimizer`` is
    ``"SGD"`` or ``"Adam"``, at ``lr`` (default:
    :data:`RECALL_LEARNING_RATES`, 0.3 for SGD, 0.02 for Adam). Every run
    sees the same 2,000 training and 500 test sequences of the lag, ``steps``
    batches of ``batch_size`` drawn with ``seed``, clipped by global norm at
    ``max_norm``: only the cell, the optimizer and the seed change the
    budget's use, not its size.

    Returns ``accuracy`` (test), ``final_loss`` (mean training loss of the
    last 20 steps), the ratio ``||dL/dx_0|| / ||dL/dx_lag||`` on the test set
    before (``signal_before``) and after (``signal_after``) training: how
    much of the learning signal reaches the symbol to recall (both norms
    summed in float64: squares of float32 entries near 1e-26 underflow), and
    ``clipped_fraction`` and ``largest_norm``, the share of steps whose
    gradient norm exceeded ``max_norm`` and the largest norm before clipping:
    how much clipping did.
    """
    from seqlab.gru import TimeGRU
    from seqlab.lstm import TimeLSTM
    from seqlab.optim import SGD, Adam
    from seqlab.rnn import TimeRNN
    from seqlab.tasks import long_range_recall

    layers = {"RNN": TimeRNN, "LSTM": TimeLSTM, "GRU": TimeGRU}
    optimizers = {
        "SGD": (SGD, RECALL_LEARNING_RATES["SGD"]),
        "Adam": (Adam, RECALL_LEARNING_RATES["Adam"]),
    }
    if cell not in layers or optimizer not in optimizers:
        raise ValueError(
            f"cell must be one of {sorted(layers)} and optimizer one of "
            f"{sorted(optimizers)}, "
            f"got {cell!r} and {optimizer!r}"
        )
    rng = np.random.default_rng(seed)
    H = hidden_size
    layer = layers[cell].init(num_symbols, H, rng)
    if cell != "RNN" and keep_bias is not None:
        # b: LSTM (4H,) blocks i, f, g, o; GRU (3H,) blocks r, z, n
        layer.params[2][H:2 * H] = keep_bias
    model = SequenceClassifier.init(layer, num_symbols, rng)
    xs_train, ts_train = long_range_recall(2000, lag, num_symbols, seed=0)
    xs_test, ts_test = long_range_recall(500, lag, num_symbols, seed=1)

    def signal_ratio() -> float:
        model.forward(xs_test, ts_test)
        # (N, T, D); float32 squares of ~1e-26 would underflow to 0
        dxs = model.backward().astype(np.float64)
        return float(np.linalg.norm(dxs[:, 0]) / np.linalg.norm(dxs[:, -1]))

    signal_before = signal_ratio()
    optimizer_class, default_lr = optimizers[optimizer]
    log = train(
        model,
        xs_train,
        ts_train,
        optimizer_class(default_lr if lr is None else lr),
        steps=steps,
        batch_size=batch_size,
        max_norm=max_norm,
        seed=seed,
        progress=False,
    )
    result = dict(
        cell=cell,
        optimizer=optimizer,
        lag=lag,
        seed=seed,
        accuracy=model.accuracy(xs_test, ts_test),
        final_loss=float(np.mean(log.loss[-20:])),
        signal_before=signal_before,
        signal_after=signal_ratio(),
        diverged=log.diverged_at is not None,
        loss=log.loss,
        clipped_fraction=float(np.mean(log.grad_norm > max_norm)),
        largest_norm=float(np.max(log.grad_norm)),
    )
    if keep_model:
        result["model"] = model
    return result
