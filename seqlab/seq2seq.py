"""Sequence to sequence: an LSTM encoder reads the question, an LSTM decoder writes the answer.

Taught in: book/07_seq2seq.md

Shapes: N batch, T_in source length, T decoder length, D embedding size, H hidden size, V vocabulary.

- :class:`Encoder`: ``xs: (N, T_in)`` ids -> ``hs: (N, T_in, H)``, every hidden state (attention
  reads them all); ``hs[:, -1]``, the last one, is the fixed-length bridge to the decoder.
- :class:`Decoder`: starts from ``(h, 0)`` and reads the answer shifted right (teacher forcing):
  ``ts: (N, T)`` ids and ``h: (N, H)`` -> scores ``(N, T, V)``; its ``backward`` returns ``dh``.
- :class:`PeekyDecoder`: also feeds ``h`` to every LSTM step and to the output layer.
- :class:`Seq2seq`, :class:`PeekySeq2seq`: an encoder and a decoder with the softmax cross-entropy
  loss; ``generate`` decodes greedily.

Every decoder also offers ``initial_state(h)`` and ``step(last_ids, state)``, the step-function
interface of :mod:`seqlab.generate`, so greedy decoding and beam search run on any of them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from seqlab.functional import log_softmax
from seqlab.generate import greedy_decode
from seqlab.layers import Affine, Embedding, SoftmaxCrossEntropy
from seqlab.lstm import TimeLSTM, lstm_step_forward
from seqlab.optim import Adam, clip_grads_by_global_norm
from seqlab.progress import progress_bar


def _check_ids(name: str, ids: np.ndarray, expected: str) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"{name} must be integer token ids of shape {expected}, got {ids.dtype} of shape {ids.shape}")
    return ids


class Encoder:
    """Embedding, then an LSTM: ``xs: (N, T_in)`` ids -> ``hs: (N, T_in,
    H)``, all hidden states.

    Taught in: book/07_seq2seq.md

    The seq2seq of this chapter keeps only ``hs[:, -1]``; attention (chapter
    8) reads every row. ``backward(dhs)`` takes the gradient of all of ``hs``
    (zeros but the last step here).
    """

    def __init__(self, embed: Embedding, lstm: TimeLSTM):
        if embed.params[0].shape[1] != lstm.input_size:
            raise ValueError(
                f"the embedding's size {embed.params[0].shape[1]} must "
                f"equal the LSTM's input size {lstm.input_size}"
            )
        self.embed, self.lstm = embed, lstm
        self.layers = [embed, lstm]
        self.params = [p for layer in self.layers for p in layer.params]
        self.grads = [g for layer in self.layers for g in layer.grads]
        self.param_names = ("embed.W", "lstm.Wx", "lstm.Wh", "lstm.b")

    @classmethod
    def init(
        cls,
        V: int,
        D: int,
        H: int,
        rng: np.random.Generator,
        dtype=np.float32,
    ) -> "Encoder":
        return cls(
            Embedding.init(V, D, rng, dtype), TimeLSTM.init(D, H, rng, dtype)
        )

    @property
    def hidden_size(self) -> int:
        return self.lstm.hidden_size

    def forward(self, xs: np.ndarray) -> np.ndarray:
        xs = _check_ids("Encoder: xs", xs, "(N, T_in)")
        return self.lstm.forward(self.embed.forward(xs))  # (N, T_in, H)

    def backward(self, dhs: np.ndarray) -> None:
        self.embed.backward(self.lstm.backward(dhs))


class Decoder:
    """Embedding, an LSTM started from the encoder's ``(h, 0)``, and an
    affine output layer.

    Taught in: book/07_seq2seq.md

    ``forward(ts, h)``: ``ts: (N, T)`` ids (START, then the answer shifted
    right), ``h: (N, H)`` -> scores ``(N, T, V)``. ``backward(dscores)`` ->
    ``dh: (N, H)``, what flows back into the encoder.
    """

    def __init__(self, embed: Embedding, lstm: TimeLSTM, affine: Affine):
        self.embed, self.lstm, self.affine = embed, lstm, affine
        self.layers = [embed, lstm, affine]
        self.params = [p for layer in self.layers for p in layer.params]
        self.grads = [g for layer in self.layers for g in layer.grads]
        self.param_names = (
            "embed.W",
            "lstm.Wx",
            "lstm.Wh",
            "lstm.b",
            "affine.W",
            "affine.b",
        )
        self._check_sizes()

    def _check_sizes(self) -> None:
        D, H = self.embed.params[0].shape[1], self.lstm.hidden_size
        if self.lstm.input_size != D or self.affine.params[0].shape[0] != H:
            raise ValueError(
                f"Decoder needs an LSTM input of {D} (the embedding) and an "
                f"affine input of {H}, got "
                f"{self.lstm.input_size} and "
                f"{self.affine.params[0].shape[0]}"
            )

    @classmethod
    def init(
        cls,
        V: int,
        D: int,
        H: int,
        rng: np.random.Generator,
        dtype=np.float32,
    ) -> "Decoder":
        return cls(
            Embedding.init(V, D, rng, dtype),
            TimeLSTM.init(D, H, rng, dtype),
            Affine.init(H, V, rng, dtype),
        )

    def forward(self, ts: np.ndarray, h: np.ndarray) -> np.ndarray:
        ts = _check_ids("Decoder: ts", ts, "(N, T)")
        self.lstm.set_state(h, np.zeros_like(h))
        # (N, T, V)
        return self.affine.forward(self.lstm.forward(self.embed.forward(ts)))

    def backward(self, dscores: np.ndarray) -> np.ndarray:
        self.embed.backward(
            self.lstm.backward(self.affine.backward(dscores))
        )
        # (N, H): the gradient of the initial state, the encoder's h
        return self.lstm.dh

    # The step-function interface of seqlab.generate: state = (h, c), each
    # (B, H).
    def initial_state(self, h: np.ndarray) -> tuple[np.ndarray, ...]:
        return h, np.zeros_like(h)

    def step(
        self, last_ids: np.ndarray, state: tuple[np.ndarray, ...]
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """One decoding step: ``last_ids: (B,)`` -> ``log_probs: (B, V)`` and
        the next state."""
        h, c = state
        x = self.embed.params[0][last_ids]  # (B, D)
        h, c, _ = lstm_step_forward(x, h, c, *self.lstm.params)
        W, b = self.affine.params
        return log_softmax(h @ W + b), (h, c)


class PeekyDecoder(Decoder):
    """A decoder that peeks: the encoder's ``h`` joins the input of every
    LSTM step and of the output layer.

    Taught in: book/07_seq2seq.md

    LSTM input ``[embed(t_i), h]``: (D + H); affine input ``[h_i, h]``: (2H).
    With the plain decoder, ``h`` is only the first state, and the LSTM must
    carry it through T updates; here every step reads it afresh. The
    concatenations happen once per sequence, outside the time loop; ``h``
    reaches the loss along T + T + 1 paths, and ``backward`` adds their
    gradients.
    """

    def _check_sizes(self) -> None:
        D, H = self.embed.params[0].shape[1], self.lstm.hidden_size
        if (
            self.lstm.input_size != D + H
            or self.affine.params[0].shape[0] != 2 * H
        ):
            raise ValueError(
                f"PeekyDecoder needs an LSTM input of D + H = {D + H} and "
                f"an affine input of 2H = {2 * H}, "
                f"got {self.lstm.input_size} and "
                f"{self.affine.params[0].shape[0]}"
            )

    @classmethod
    def init(
        cls,
        V: int,
        D: int,
        H: int,
        rng: np.random.Generator,
        dtype=np.float32,
    ) -> "PeekyDecoder":
        return cls(
            Embedding.init(V, D, rng, dtype),
            TimeLSTM.init(D + H, H, rng, dtype),
            Affine.init(2 * H, V, rng, dtype),
        )

    def forward(self, ts: np.ndarray, h: np.ndarray) -> np.ndarray:
        ts = _check_ids("PeekyDecoder: ts", ts, "(N, T)")
        N, T = ts.shape
        H = h.shape[1]
        # (N, T, H), a view: no copy of h per step
        hs_peek = np.broadcast_to(h[:, None, :], (N, T, H))
        self.lstm.set_state(h, np.zeros_like(h))
        # (N, T, H)
        out = self.lstm.forward(
            np.concatenate([self.embed.forward(ts), hs_peek], axis=2)
        )
        # (N, T, V)
        return self.affine.forward(np.concatenate([out, hs_peek], axis=2))

    def backward(self, dscores: np.ndarray) -> np.ndarray:
        H = self.lstm.hidden_size
        d_out_peek = self.affine.backward(dscores)  # (N, T, 2H)
        # (N, T, D + H)
        d_embed_peek = self.lstm.backward(
            np.ascontiguousarray(d_out_peek[..., :H])
        )
        D = d_embed_peek.shape[2] - H
        self.embed.backward(d_embed_peek[..., :D])
        # h was read at every step by the affine layer and the LSTM, and once
        # as the initial state.
        return (
            d_out_peek[..., H:].sum(axis=1)
            + d_embed_peek[..., D:].sum(axis=1)
            + self.lstm.dh
        )

    # state = (h, c, h_encoder): the encoder's h travels with each sequence,
    # so beam search keeps it.
    def initial_state(self, h: np.ndarray) -> tuple[np.ndarray, ...]:
        return h, np.zeros_like(h), h

    def step(
        self, last_ids: np.ndarray, state: tuple[np.ndarray, ...]
    ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        h, c, h_encoder = state
        # (B, D + H)
        x = np.concatenate(
            [self.embed.params[0][last_ids], h_encoder], axis=1
        )
        h, c, _ = lstm_step_forward(x, h, c, *self.lstm.params)
        W, b = self.affine.params
        return log_softmax(np.concatenate([h, h_encoder], axis=1) @ W + b), (
            h,
            c,
            h_encoder,
        )


class Seq2seq:
    """An encoder, a decoder and the loss: ``forward(xs, ts) -> loss``,
    ``backward()``, ``generate``.

    Taught in: book/07_seq2seq.md

    ``xs: (N, T_in)`` source ids; ``ts: (N, 1 + T_out)`` START then the
    answer. The decoder reads ``ts[:, :-1]`` and is scored on ``ts[:, 1:]``
    (teacher forcing); the loss is the mean cross-entropy per answer
    character.
    """

    decoder_class = Decoder

    def __init__(self, encoder: Encoder, decoder: Decoder):
        self.encoder, self.decoder = encoder, decoder
        self.loss_layer = SoftmaxCrossEntropy()
        self.params = encoder.params + decoder.params
        self.grads = encoder.grads + decoder.grads
        self.param_names = tuple(
            f"encoder.{n}" for n in encoder.param_names
        ) + tuple(f"decoder.{n}" for n in decoder.param_names)

    @classmethod
    def init(
        cls,
        V: int,
        D: int,
        H: int,
        rng: np.random.Generator | int = 0,
        dtype=np.float32,
        forget_bias: float | None = None,
        weights: str = "torch",
    ) -> "Seq2seq":
        """Embeddings of size D and LSTMs of size H, initialized from
        ``rng``.

        ``weights="torch"`` draws them in the style of ``torch.nn`` (uniform
        weights and biases in +-1/sqrt(H) for the LSTMs and +-1/sqrt(fan_in)
        for the output layer, standard normal embeddings); each LSTM has one
        bias, where ``nn.LSTM`` draws two and sums them, so the summed bias's
        distribution differs from PyTorch's. ``weights="dlfs2"`` draws them
        as "Deep Learning from Scratch 2" does (``ch07/seq2seq.py``): normal
        weights divided by sqrt(fan_in), embeddings divided by 100, zero
        biases. The two differ in three ways at once (weight distribution,
        biases, embedding scale); chapter 7 measures them together.
        ``forget_bias``: when given, both LSTMs' forget-gate biases start at
        this value instead (chapter 4: a bias of 1 keeps about 73% of the
        cell per step at first, meant to let the state, here the encoder's
        summary, survive the early updates; chapter 7 measures its effect).
        """
        if weights not in ("torch", "dlfs2"):
            raise ValueError(
                f'weights must be "torch" or "dlfs2", got {weights!r}'
            )
        rng = (
            rng
            if isinstance(rng, np.random.Generator)
            else np.random.default_rng(rng)
        )
        model = cls(
            Encoder.init(V, D, H, rng, dtype),
            cls.decoder_class.init(V, D, H, rng, dtype),
        )
        if weights == "dlfs2":
            for name, p in zip(model.param_names, model.params):
                if name.endswith("embed.W"):
                    p[...] = rng.standard_normal(p.shape) / 100
                elif name.endswith(".b"):
                    p[...] = 0
                # Wx (D_in, 4H), Wh (H, 4H), affine W (H_in, V):
                # N(0, 1 / fan_in)
                else:
                    p[...] = rng.standard_normal(p.shape) / np.sqrt(
                        p.shape[0]
                    )
        if forget_bias is not None:
            for lstm in (model.encoder.lstm, model.decoder.lstm):
                # b: (4H,), blocks i, f, g, o
                lstm.params[2][H:2 * H] = forget_bias
        return model

    def forward(self, xs: np.ndarray, ts: np.ndarray) -> float:
        ts = _check_ids("Seq2seq: ts", ts, "(N, 1 + T_out)")
        if ts.shape[1] < 2:
            raise ValueError(
                "ts must hold START and at least one answer token, (N, 1 + "
                f"T_out); got shape {ts.shape}"
            )
        hs = self.encoder.forward(xs)
        self._hs_shape = hs.shape
        scores = self.decoder.forward(ts[:, :-1], hs[:, -1])
        return self.loss_layer.forward(scores, ts[:, 1:])

    def backward(self, dout: float = 1.0) -> None:
        dh = self.decoder.backward(self.loss_layer.backward(dout))
        dhs = np.zeros(self._hs_shape, dh.dtype)
        dhs[:, -1] = dh  # only the last hidden state reached the decoder
        self.encoder.backward(dhs)

    def generate(
        self, xs: np.ndarray, start_id: int, length: int
    ) -> np.ndarray:
        """Greedy decoding: ``xs: (N, T_in)`` -> ``(N, length)`` ids, each
        step's argmax fed back in."""
        h = self.encoder.forward(xs)[:, -1]
        start_ids = np.full(len(h), start_id, dtype=np.int64)
        return greedy_decode(
            self.decoder.step,
            self.decoder.initial_state(h),
            start_ids,
            length,
        )


class PeekySeq2seq(Seq2seq):
    """:class:`Seq2seq` with a :class:`PeekyDecoder`.

    Taught in: book/07_seq2seq.md
    """

    decoder_class = PeekyDecoder


# ---------------------------------------------------------------------------------------------
# Training and scoring
# ---------------------------------------------------------------------------------------------

def exact_match_accuracy(model, xs: np.ndarray, ts: np.ndarray, batch_size: int = 2048) -> float:
    """The fraction of questions whose whole greedy answer equals the target ``ts[:, 1:]``."""
    start_id, length = int(ts[0, 0]), ts.shape[1] - 1
    correct = 0
    for i in range(0, len(xs), batch_size):
        answers = model.generate(xs[i:i + batch_size], start_id, length)
        correct += int(np.all(answers == ts[i:i + batch_size, 1:], axis=1).sum())
    return correct / len(xs)


@dataclass
class Seq2seqHistory:
    """What :func:`train_seq2seq` measured: the mean loss of each epoch, the loss of every step,
    the test accuracy after each epoch (when a test set is given), and the training time in CPU
    seconds (scoring excluded)."""

    losses: list[float] = field(default_factory=list)
    step_losses: list[float] = field(default_factory=list)
    accuracies: list[float] = field(default_factory=list)
    seconds: float = 0.0


SCHEDULES = ("linear", "constant")


def _check_schedule(schedule: str) -> None:
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")


def train_seq2seq(model, xs: np.ndarray, ts: np.ndarray, *, epochs: int, batch_size: int, lr: float,
                  max_grad_norm: float = 5.0, seed: int = 0, xs_test: np.ndarray | None = None,
                  ts_test: np.ndarray | None = None, progress: bool = True,
                  schedule: str = "linear") -> Seq2seqHistory:
    """Adam on shuffled minibatches for a fixed number of epochs, clipping the global gradient norm.

    ``schedule="linear"``: the learning rate decays linearly from ``lr`` to zero over the run,
    large steps early and fine ones at the end; ``"constant"`` keeps ``lr``, as DLFS2 does.
    Chapter 7 measures what each choice buys.
    """
    _check_schedule(schedule)
    rng = np.random.default_rng(seed)
    optimizer = Adam(lr=lr)
    num_batches = len(xs) // batch_size  # drop the ragged last batch: every step sees batch_size rows
    total_steps = epochs * num_batches
    history = Seq2seqHistory()
    for epoch in progress_bar(range(epochs), enabled=progress, desc=type(model).__name__):
        start = time.process_time()
        order = rng.permutation(len(xs))
        loss_sum = 0.0
        for k in range(num_batches):
            rows = order[k * batch_size:(k + 1) * batch_size]
            loss = model.forward(xs[rows], ts[rows])
            loss_sum += loss
            history.step_losses.append(float(loss))
            model.backward()
            clip_grads_by_global_norm(model.grads, max_grad_norm)
            if schedule == "linear":
                optimizer.lr = lr * (1 - optimizer.step / total_steps)
            optimizer.update(model.params, model.grads)
        history.seconds += time.process_time() - start
        history.losses.append(loss_sum / num_batches)
        if xs_test is not None:
            history.accuracies.append(exact_match_accuracy(model, xs_test, ts_test))
    return history


def train_and_score(model, xs: np.ndarray, ts: np.ndarray, xs_test: np.ndarray, ts_test: np.ndarray,
                    **recipe) -> tuple[float, Seq2seqHistory, Seq2seq]:
    """Train ``model`` with :func:`train_seq2seq` (no progress bar) and return its test accuracy,
    the training history and the trained model.

    A plain function of picklable arguments, so that a worker process can run it and send the
    model back: chapter 7 trains its NumPy run in a worker beside the PyTorch ones.
    """
    history = train_seq2seq(model, xs, ts, progress=False, **recipe)
    return exact_match_accuracy(model, xs_test, ts_test), history, model
