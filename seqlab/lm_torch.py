"""The course's language models in PyTorch, trained and scored exactly as :mod:`seqlab.lm` does it.

Taught in: book/04_lstm.md

The NumPy models (:class:`seqlab.models.RNNLM`, ``LSTMLM``, ``BetterLSTMLM``) teach what happens
inside; the chapters prove that ``torch.nn`` computes the same thing on the same weights. Once that
is proved, longer comparisons between models can run in torch, which is faster (book/04_lstm.md
times ``nn.LSTM`` against ``TimeLSTM`` on one CPU thread; the gap depends on the sizes) and runs on a
GPU, without changing what is measured. So :func:`train_torch_lm` walks the blocks of
:func:`seqlab.lm.bptt_batches`, with the same per-epoch random shift as :func:`seqlab.lm.train_lm`,
and sets Adam's learning rate with the same schedule (:func:`seqlab.lm.cosine_lr`);
:func:`evaluate_torch_perplexity` *is* :func:`seqlab.lm.evaluate_perplexity`, run on a thin adapter.
Weight layouts are converted by :mod:`seqlab.convert` only.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn.functional as F

from seqlab.convert import lm_to_torch, torch_lm_grads_as_numpy
from seqlab.lm import (TrainHistory, _check_stream, _check_training_layout, bptt_batches, cosine_lr, evaluate_perplexity,
                       perplexity)
from seqlab.progress import progress_bar

RECURRENT_MODULES = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


def default_device() -> torch.device:
    """``cuda`` when a GPU is available, else ``cpu``."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class SequenceDropout(torch.nn.Module):
    """Inverted dropout on ``(N, T, D)``: a fresh mask per element, or with ``variational=True``
    one mask per sequence, ``(N, 1, D)``, shared by all T steps (Gal and Ghahramani, 2016).

    Taught in: book/04_lstm.md

    The torch twin of :class:`seqlab.layers.Dropout` and :class:`seqlab.layers.VariationalDropout`;
    the identity in evaluation mode. Masks come from torch's global generator (``torch.manual_seed``).
    """

    def __init__(self, p: float = 0.0, variational: bool = False):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability p must lie in [0, 1), got {p}: p = 1 would drop every unit")
        self.p, self.variational = p, variational

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if not self.variational:
            return F.dropout(x, self.p, training=True)
        N, _, D = x.shape
        keep = torch.empty((N, 1, D), dtype=x.dtype, device=x.device).bernoulli_(1 - self.p)
        return x * keep / (1 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}, variational={self.variational}"


def _keep_one_bias(module: torch.nn.Module, cell: str) -> None:
    """Hold at zero the part of ``bias_hh`` that only ever adds to
    ``bias_ih``, as the NumPy layers have one bias.

    Only the sum of torch's two biases enters an RNN or LSTM, but each gets
    its own Adam step of about ``lr``, so their sum would move twice as fast
    as the NumPy model's one ``b`` and the two trainings would part after the
    first step. So ``bias_hh`` stays zero and frozen: the model has exactly
    the NumPy model's parameters and learns exactly as it does. In a GRU the
    n block of ``bias_hh`` is ``b_hn``, a parameter of its own (the reset
    gate scales it); only its r and z blocks are held at zero, by zeroing
    their gradient, to which Adam then makes no step.
    """
    for name, bias in module.named_parameters():
        if not name.startswith("bias_hh"):
            continue
        with torch.no_grad():
            if cell == "gru":
                H = bias.shape[0] // 3
                bias[: 2 * H] = 0
                keep = torch.cat([torch.zeros(2 * H), torch.ones(H)]).to(
                    bias.dtype
                )
                bias.register_hook(
                    lambda grad, keep=keep: grad * keep.to(grad.device)
                )
            else:
                bias.zero_()
                bias.requires_grad_(False)


class TorchLM(torch.nn.Module):
    """A recurrent language model in torch: Embedding -> dropout -> [RNN/LSTM/GRU -> dropout] x L -> Linear.

    Taught in: book/04_lstm.md

    ``cell`` is ``"rnn"`` (tanh), ``"lstm"`` or ``"gru"``. With the defaults (one layer, no dropout,
    no tying) it is :class:`seqlab.models.RNNLM` (``cell="rnn"``) or ``LSTMLM`` (``cell="lstm"``);
    with layers, dropout and ``tie_weights=True`` it is :class:`seqlab.models.BetterLSTMLM`. Like the
    NumPy model, it applies dropout to the embeddings and to every layer's outputs, never on the
    recurrent path, and keeps each layer in its own single-layer module so that the dropout between
    layers can be variational (``nn.LSTM(num_layers=L, dropout=p)`` would draw a fresh mask per step).
    Tying makes ``output.weight`` the same ``Parameter`` as ``embedding.weight`` (needs ``D == H``);
    autograd then adds the two uses' gradients into one ``.grad``. Each recurrent module keeps one
    trainable bias, as the NumPy layers do (:func:`_keep_one_bias`), so that Adam trains the same
    parameters: loaded with :meth:`from_numpy`, it computes the same loss and gradients, and it is meant
    to train as the NumPy model does, up to float rounding (book/04_lstm.md trains the RNN LM both ways;
    dropout masks differ between the libraries in any case).

    ``forward(xs, state) -> (logits, state)``: xs (N, T) int64 token ids, logits (N, T, V); ``state``
    is None (zeros) or the list of per-layer states the previous call returned, each ``h: (1, N, H)``,
    or ``(h, c)`` for an LSTM. Initialization and dropout masks use torch's global generator.
    """

    def __init__(self, V: int, D: int, H: int, cell: str = "rnn", num_layers: int = 1, dropout: float = 0.0,
                 variational: bool = False, tie_weights: bool = False):
        super().__init__()
        if cell not in RECURRENT_MODULES:
            raise ValueError(f"cell must be one of {sorted(RECURRENT_MODULES)}, got {cell!r}")
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"num_layers must be an integer >= 1, got {num_layers!r}")
        if tie_weights and D != H:
            raise ValueError(f"weight tying reuses the embedding (V, D) as the output weight (V, H), so it needs "
                             f"D == H; got D = {D}, H = {H}: make them equal or pass tie_weights=False")
        self.cell, self.tie_weights = cell, tie_weights
        self.embedding = torch.nn.Embedding(V, D)
        module_type = RECURRENT_MODULES[cell]
        self.recurrent = torch.nn.ModuleList(module_type(D if k == 0 else H, H, batch_first=True)
                                             for k in range(num_layers))
        # dropouts[0] on the embeddings, dropouts[k + 1] on layer k's outputs, as in BetterLSTMLM.
        self.dropouts = torch.nn.ModuleList(SequenceDropout(dropout, variational) for _ in range(num_layers + 1))
        self.output = torch.nn.Linear(H, V)
        if tie_weights:
            self.output.weight = self.embedding.weight  # one Parameter, two uses
        for module in self.recurrent:
            _keep_one_bias(module, cell)

    def forward(self, xs: torch.Tensor, state: list | None = None) -> tuple[torch.Tensor, list]:
        if xs.ndim != 2:
            raise ValueError(f"TorchLM expects token ids xs of shape (N, T), got {tuple(xs.shape)}")
        if state is None:
            state = [None] * len(self.recurrent)
        hs = self.dropouts[0](self.embedding(xs))  # (N, T, D)
        new_state = []
        for layer, dropout, layer_state in zip(self.recurrent, self.dropouts[1:], state, strict=True):
            hs, layer_state = layer(hs, layer_state)  # (N, T, H)
            hs = dropout(hs)
            new_state.append(layer_state)
        return self.output(hs), new_state  # (N, T, V)

    def num_parameters(self) -> int:
        """The number of numbers that training changes, a tied weight counted once: the NumPy model's count.

        The redundant halves of torch's two biases (see :func:`_keep_one_bias`) are not counted.
        """
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        redundant_gru_biases = 2 * self.output.in_features * len(self.recurrent) if self.cell == "gru" else 0
        return trainable - redundant_gru_biases

    @classmethod
    def from_numpy(cls, model) -> "TorchLM":
        """The same model in torch, holding a copy of the weights of a NumPy ``RNNLM``, ``LSTMLM`` or
        ``BetterLSTMLM`` (its dropout probability, variational or not, and tying are carried over):
        :func:`seqlab.convert.lm_to_torch`."""
        return lm_to_torch(model)

    def grads_as_numpy(self) -> list[np.ndarray]:
        """The ``.grad`` of every parameter, in the layout and order of the NumPy model's ``grads``:
        :func:`seqlab.convert.torch_lm_grads_as_numpy`."""
        return torch_lm_grads_as_numpy(self)


def detach_state(state):
    """The same state without its history: truncated BPTT carries the values, and cuts the gradient."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    return type(state)(detach_state(s) for s in state)


def train_torch_lm(
    model: torch.nn.Module,
    ids: np.ndarray,
    *,
    batch_size: int,
    time_size: int,
    steps: int,
    lr: float,
    rng: np.random.Generator | None = None,
    max_grad_norm: float | None = None,
    device: torch.device | str | None = None,
    progress: bool = True
) -> TrainHistory:
    """Train a torch language model as :func:`seqlab.lm.train_lm` trains a
    NumPy one; returns its TrainHistory.

    ``model(xs, state) -> (logits (N, T, V), state)`` (a :class:`TorchLM`).
    Each epoch resets the state and, with ``rng``, drops
    ``rng.integers(time_size)`` tokens from the start of ``ids`` (the draws
    of ``train_lm``, in the same order), then walks the blocks of
    :func:`seqlab.lm.bptt_batches`: forward, mean cross-entropy, backward,
    optional clipping by global norm, and a ``torch.optim.Adam`` step whose
    learning rate ``cosine_lr(lr, steps)(step)`` is set before the step.
    Stops after ``steps`` updates. ``device`` defaults to
    :func:`default_device`; the model is moved there. The model is left in
    training mode. The history holds every step's loss and one point at the
    end (no validation).
    """
    ids = _check_stream("ids", ids)
    _check_training_layout(
        ids, rng, batch_size=batch_size, time_size=time_size, steps=steps
    )
    device = default_device() if device is None else torch.device(device)
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = cosine_lr(lr, steps)
    history = TrainHistory()
    start = time.perf_counter()
    bar = progress_bar(
        total=steps,
        enabled=progress,
        desc="train_torch_lm",
        unit="step",
        leave=False,
    )
    while len(history.losses) < steps:
        offset = int(rng.integers(time_size)) if rng is not None else 0
        state = None
        for xs, ts in bptt_batches(ids[offset:], batch_size, time_size):
            logits, state = model(
                torch.from_numpy(xs).to(device), detach_state(state)
            )
            loss = F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]),
                torch.from_numpy(ts).to(device).reshape(-1),
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(
                    model.parameters(), max_grad_norm
                )
            for group in optimizer.param_groups:
                group["lr"] = schedule(len(history.losses))
            optimizer.step()
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                raise FloatingPointError(
                    f"the training loss became {loss_value} at step "
                    f"{len(history.losses)}: "
                    "lower the learning rate or clip gradients "
                    "(max_grad_norm)"
                )
            history.losses.append(loss_value)
            bar.update(1)
            if len(history.losses) >= steps:
                break
        else:
            history.epochs += 1
    bar.close()
    history.steps.append(len(history.losses))
    history.train_perplexity.append(
        perplexity(float(np.mean(history.losses)))
    )
    history.seconds.append(time.perf_counter() - start)
    return history


class _StatefulScorer:
    """A torch language model behind the interface :func:`seqlab.lm.evaluate_perplexity` calls:
    ``forward(xs, ts) -> mean nll`` carrying the state from call to call, and ``reset_state()``."""

    def __init__(self, model: torch.nn.Module, device: torch.device):
        self.model, self.device, self.state = model, device, None

    def reset_state(self) -> None:
        self.state = None

    def forward(self, xs: np.ndarray, ts: np.ndarray) -> float:
        logits, self.state = self.model(torch.from_numpy(np.ascontiguousarray(xs)).to(self.device), self.state)
        targets = torch.from_numpy(np.ascontiguousarray(ts)).to(self.device)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)).item()


def evaluate_torch_perplexity(model: torch.nn.Module, ids: np.ndarray, batch_size: int, time_size: int) -> float:
    """Perplexity of a torch language model on the stream ``ids``: :func:`seqlab.lm.evaluate_perplexity`
    itself (the same blocks, tails and state carried across them), in evaluation mode (dropout off)
    and without gradients. The model's training mode is restored afterwards."""
    was_training = model.training
    device = next(model.parameters()).device
    model.eval()
    try:
        with torch.no_grad():
            return evaluate_perplexity(_StatefulScorer(model, device), ids, batch_size, time_size)
    finally:
        model.train(was_training)
