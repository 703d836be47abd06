"""Seq2seq with attention: the decoder reads every encoder state, not only the last one.

Taught in: book/08_attention.md

Shapes: N batch, T source length, Tq target length, V vocabulary, D embedding width, H hidden.
The encoder maps source ids ``xs: (N, T)`` to its states ``hs: (N, T, H)``; the decoder starts
from the encoder's last state, ``h`` and ``c`` (chapter 7's decoders start from ``(h, 0)``), reads
the target shifted right (teacher forcing, ``ts[:, :-1]``) and predicts ``ts[:, 1:]``. With
attention (Luong et al., 2015, dot score), each decoder state ``h_t`` scores every encoder state,
takes the softmax and the weighted sum, the context ``c_t``, and the output layer reads
``[c_t, h_t]``: attention sits **between the LSTM and the Affine** layer (a simplification, as in
DLFS2: Luong et al. pass ``[c_t, h_t]`` through a tanh layer first). Attention reads every
position, the padding included: no mask is passed. Without attention the output layer reads ``h_t``
alone, so the encoder's last state is the whole message: the same model with only the bottleneck
changed. ``peeky=True`` (without attention)
is a peeky decoder like "Deep Learning from Scratch 2"'s, which also inherits the encoder's cell
state: the encoder's last ``h`` joins the input of every decoder step and of the output layer, the
strongest baseline without attention.

:class:`InputFeedingDecoder` moves attention the other way: each step's raw context is also fed
into the *next* LSTM step's input, a simplified input feeding (Luong et al. feed the attentional
vector ``tanh(W_c [c_{t-1}; h_{t-1}])`` instead; Bahdanau et al. likewise feed the context into the
recurrence), so the decoder knows what it has already read, at the price of a loop over time for
attention too.

The encoder can be bidirectional: its states are then the two directions side by side, ``2H``
wide, and the decoder's LSTM is ``2H`` wide too, starting from both directions' last states. And
both can be deeper: :class:`ResidualLSTMStack` stacks LSTMs with residual (skip) connections.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from seqlab.attention import Attention, TimeAttention, masked_softmax, softmax_backward
from seqlab.layers import Affine, Embedding, SoftmaxCrossEntropy
from seqlab.lstm import BidirectionalLSTM, TimeLSTM, lstm_pointwise_backward, lstm_pointwise_forward
from seqlab.optim import Adam, clip_grads_by_global_norm
from seqlab.rnn import _init_weights


class ResidualLSTMStack:
    """TimeLSTMs on top of each other, each layer after the first adding its input to its output.

    Taught in: book/08_attention.md

    ``xs: (N, T, D) -> hs: (N, T, H)``: layer 0 maps D to H; layer k > 0 computes
    ``h^(k) = LSTM_k(h^(k-1)) + h^(k-1)``, a residual (skip) connection that gives the gradient an
    identity path around the layer (GNMT's deep encoder and decoder). States are lists with one
    ``(h, c)`` pair per layer, each (N, H): ``set_state(states)``, ``final_states()``, and after
    ``backward(dhs, d_lasts)`` the gradients of the initial states, ``initial_state_grads()``.
    """

    def __init__(self, layers: list[TimeLSTM]):
        for k in range(1, len(layers)):
            if layers[k].input_size != layers[k].hidden_size or layers[k].hidden_size != layers[0].hidden_size:
                raise ValueError(f"layer {k} of a residual stack must map H -> H (H = {layers[0].hidden_size}), "
                                 f"got {layers[k].input_size} -> {layers[k].hidden_size}")
        self.layers = layers
        self.params = [p for layer in layers for p in layer.params]
        self.grads = [g for layer in layers for g in layer.grads]

    @classmethod
    def init(cls, D: int, H: int, num_layers: int, rng: np.random.Generator, dtype=np.float32) -> "ResidualLSTMStack":
        return cls([TimeLSTM.init(D if k == 0 else H, H, rng, dtype) for k in range(num_layers)])

    @property
    def hidden_size(self) -> int:
        return self.layers[0].hidden_size

    def set_state(self, states: list[tuple[np.ndarray, np.ndarray]]) -> None:
        if len(states) != len(self.layers):
            raise ValueError(f"a stack of {len(self.layers)} layers needs {len(self.layers)} (h, c) pairs, got {len(states)}")
        for layer, (h, c) in zip(self.layers, states):
            layer.set_state(h, c)

    def reset_state(self) -> None:
        for layer in self.layers:
            layer.reset_state()

    def final_states(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(layer.h, layer.c) for layer in self.layers]

    def initial_state_grads(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return [(layer.dh, layer.dc) for layer in self.layers]

    def forward(self, xs: np.ndarray) -> np.ndarray:
        hs = self.layers[0].forward(xs)
        for layer in self.layers[1:]:
            hs = layer.forward(hs) + hs
        return hs

    def backward(
        self, dhs: np.ndarray, d_lasts: list | None = None
    ) -> np.ndarray:
        """dhs: (N, T, H) -> dxs: (N, T, D); d_lasts: one (dh, dc) pair (or
        None) per layer, into its last states."""
        d_lasts = d_lasts or [None] * len(self.layers)
        for k in reversed(range(len(self.layers))):
            d_last = d_lasts[k] or (None, None)
            dinputs = self.layers[k].backward(dhs, *d_last)
            # the skip connection passes dhs through unchanged
            dhs = dinputs + dhs if k > 0 else dinputs
        return dhs


class AttentionEncoder:
    """Embedding then LSTMs: ``xs: (N, T)`` ids -> ``hs: (N, T, H_out)``, the states attention reads.

    Taught in: book/08_attention.md

    One LSTM, a :class:`ResidualLSTMStack` of ``num_layers``, or (``bidirectional=True``) a
    bidirectional pair whose states are side by side, ``H_out = 2H``. ``final_states()`` gives what
    the decoder starts from: one ``(h, c)`` pair per layer, each ``(N, H_out)`` (for a bidirectional
    encoder, both directions' last states side by side). ``backward(dhs, d_states)`` takes the
    gradients of ``hs`` (from attention) and of those final states (from the decoder).
    """

    def __init__(self, V: int, D: int, H: int, rng: np.random.Generator, bidirectional: bool = False,
                 num_layers: int = 1, dtype=np.float32):
        if bidirectional and num_layers != 1:
            raise ValueError("a bidirectional encoder has one layer here: pass num_layers=1")
        self.embedding = Embedding.init(V, D, rng, dtype)
        if bidirectional:
            self.lstm = BidirectionalLSTM.init(D, H, rng, dtype)
        else:
            self.lstm = ResidualLSTMStack.init(D, H, num_layers, rng, dtype)
        self.bidirectional = bidirectional
        self.output_size = 2 * H if bidirectional else H
        self.layers = (self.embedding, self.lstm)
        self.params = [p for layer in self.layers for p in layer.params]
        self.grads = [g for layer in self.layers for g in layer.grads]

    def forward(self, xs: np.ndarray) -> np.ndarray:
        return self.lstm.forward(self.embedding.forward(xs))

    def final_states(self) -> list[tuple[np.ndarray, np.ndarray]]:
        if not self.bidirectional:
            return self.lstm.final_states()
        h_n, c_n = self.lstm.final_states()  # each (2, N, H): forward direction first
        return [(np.concatenate([h_n[0], h_n[1]], axis=-1), np.concatenate([c_n[0], c_n[1]], axis=-1))]

    def backward(self, dhs: np.ndarray, d_states: list[tuple[np.ndarray, np.ndarray]]) -> None:
        if self.bidirectional:
            H = self.output_size // 2
            (dh, dc), = d_states
            dh, dc = (np.stack([d[:, :H], d[:, H:]]) for d in (dh, dc))  # (2, N, H), the h_n layout
            dxs = self.lstm.backward(dhs, dh, dc)
        else:
            dxs = self.lstm.backward(dhs, d_states)
        self.embedding.backward(dxs)


class AttentionDecoder:
    """Embedding, LSTMs started from the encoder's states, attention over the encoder's states, Affine.

    Taught in: book/08_attention.md

    forward(ts_in: (N, Tq) ids, hs_enc: (N, T, H), states) -> scores (N, Tq, V); ``states`` is one
    ``(h, c)`` pair per layer, each (N, H), from the encoder. Attention reads the top layer's states.
    With ``attention=False`` the Affine reads the LSTM's states alone (H -> V), and ``hs_enc`` is
    used only through ``states``: the plain seq2seq decoder. With ``peeky=True`` (and no attention)
    the top encoder layer's last ``h: (N, H)`` also joins every step's LSTM input, ``[embed(y_t), h]``,
    and the Affine's, ``[h_t, h]``. The weights of the last forward stay in ``attention_weights: (N, Tq, T)``.
    """

    def __init__(self, V: int, D: int, H: int, rng: np.random.Generator, attention: bool = True,
                 num_layers: int = 1, peeky: bool = False, dtype=np.float32):
        if peeky and attention:
            raise ValueError("the peeky decoder is the baseline without attention: pass attention=False with peeky=True")
        self.embedding = Embedding.init(V, D, rng, dtype)
        self.lstm = ResidualLSTMStack.init(D + H if peeky else D, H, num_layers, rng, dtype)
        self.attention = TimeAttention() if attention else None
        self.peeky = peeky
        self.affine = Affine.init(2 * H if attention or peeky else H, V, rng, dtype)
        self.layers = (self.embedding, self.lstm, self.affine)
        self.params = [p for layer in self.layers for p in layer.params]
        self.grads = [g for layer in self.layers for g in layer.grads]
        self.step_attention = Attention()  # for generation, one step at a time
        self.attention_weights = None

    @property
    def hidden_size(self) -> int:
        return self.lstm.hidden_size

    def forward(
        self,
        ts_in: np.ndarray,
        hs_enc: np.ndarray,
        states: list[tuple[np.ndarray, np.ndarray]],
    ) -> np.ndarray:
        self.lstm.set_state(states)
        if self.peeky:
            return self._peeky_forward(ts_in, states[-1][0])
        # (N, Tq, H)
        hs_dec = self.lstm.forward(self.embedding.forward(ts_in))
        if self.attention is None:
            return self.affine.forward(hs_dec)
        # (N, Tq, H): every step's context at once
        cs = self.attention.forward(hs_enc, hs_dec)
        self.attention_weights = self.attention.attention_weights
        # one concatenation, outside any loop
        return self.affine.forward(np.concatenate([cs, hs_dec], axis=-1))

    def backward(self, dscores: np.ndarray):
        """dscores: (N, Tq, V) -> ``(dhs_enc (N, T, H) or None, d_states)``, the gradients for the encoder."""
        if self.peeky:
            return None, self._peeky_backward(dscores)
        dout = self.affine.backward(dscores)
        dhs_enc = None
        if self.attention is None:
            dhs_dec = dout
        else:
            H = self.hidden_size
            dcs, dhs_dec = dout[..., :H], dout[..., H:]
            dhs_enc, dhs_dec_from_attention = self.attention.backward(dcs)
            dhs_dec = dhs_dec + dhs_dec_from_attention  # h_t is read by the Affine and by the scores
        self.embedding.backward(self.lstm.backward(dhs_dec))
        return dhs_enc, self.lstm.initial_state_grads()

    def _peeky_forward(
        self, ts_in: np.ndarray, peek: np.ndarray
    ) -> np.ndarray:
        """The peeky decoder: ``peek: (N, H)``, the encoder's last state,
        read at every step twice."""
        N, Tq = ts_in.shape
        # (N, Tq, H), a view
        peeks = np.broadcast_to(peek[:, None, :], (N, Tq, peek.shape[1]))
        hs_dec = self.lstm.forward(
            np.concatenate([self.embedding.forward(ts_in), peeks], axis=-1)
        )
        return self.affine.forward(np.concatenate([hs_dec, peeks], axis=-1))

    def _peeky_backward(self, dscores: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        H = self.hidden_size
        dout = self.affine.backward(dscores)  # (N, Tq, 2H): [h_t, peek]
        dinputs = self.lstm.backward(np.ascontiguousarray(dout[..., :H]))  # (N, Tq, D + H): [embed, peek]
        self.embedding.backward(dinputs[..., :-H])
        d_states = list(self.lstm.initial_state_grads())
        dh, dc = d_states[-1]
        # The peeked h is the initial state of the top layer too: its gradient sums all 2 Tq + 1 uses.
        d_states[-1] = (dh + dout[..., H:].sum(axis=1) + dinputs[..., -H:].sum(axis=1), dc)
        return d_states

    def generate(self, hs_enc: np.ndarray, states: list[tuple[np.ndarray, np.ndarray]], start_id: int,
                 length: int) -> np.ndarray:
        """Greedy decoding for the whole batch: ``(N, length)`` ids; the weights go to ``attention_weights``."""
        N = len(hs_enc)
        ids = np.full((N, 1), start_id, dtype=np.int64)
        generated, weights = [], []
        peek = states[-1][0][:, None, :]  # (N, 1, H): the encoder's last state, read by every peeky step
        for _ in range(length):
            self.lstm.set_state(states)
            embedded = self.embedding.forward(ids)
            if self.peeky:
                embedded = np.concatenate([embedded, peek], axis=-1)
            h = self.lstm.forward(embedded)[:, 0]  # (N, H), one step
            states = self.lstm.final_states()
            if self.peeky:
                scores = self.affine.forward(np.concatenate([h, peek[:, 0]], axis=-1))
            elif self.attention is None:
                scores = self.affine.forward(h)
            else:
                c = self.step_attention.forward(hs_enc, h)
                weights.append(self.step_attention.attention_weight)
                scores = self.affine.forward(np.concatenate([c, h], axis=-1))
            ids = scores.argmax(axis=-1)[:, None]
            generated.append(ids[:, 0])
        self.lstm.reset_state()
        self.attention_weights = np.stack(weights, axis=1) if weights else None  # (N, length, T)
        return np.stack(generated, axis=1)


class InputFeedingDecoder:
    """An attention decoder whose LSTM also reads the previous step's context: ``x_t = [embed(y_t), c_{t-1}]``.

    Taught in: book/08_attention.md

    A simplified input feeding: it feeds the raw context ``c_{t-1}``, where Luong et al. (2015) feed
    the attentional vector ``tanh(W_c [c_{t-1}; h_{t-1}])``.

    The same interface as :class:`AttentionDecoder`. Weights: the embedding, ``Wx: (D + H, 4H)``
    (rows for the embedding, then for the context; one matrix, as if the input were concatenated,
    but applied as two matmuls so nothing is concatenated inside the loop), ``Wh: (H, 4H)``,
    ``b: (4H,)`` in the gate order i, f, g, o, and the Affine layer ``(2H, V)`` on ``[c_t, h_t]``.
    ``c_0 = 0``. The attention steps depend on each other now, so both passes loop over time.
    """

    def __init__(self, V: int, D: int, H: int, rng: np.random.Generator, dtype=np.float32):
        self.embedding = Embedding.init(V, D, rng, dtype)
        Wx, Wh, b = _init_weights(D + H, H, rng, dtype, num_gates=4)
        self.lstm_params = [Wx, Wh, b]
        self.lstm_grads = [np.zeros_like(p) for p in self.lstm_params]
        self.affine = Affine.init(2 * H, V, rng, dtype)
        self.params = self.embedding.params + self.lstm_params + self.affine.params
        self.grads = self.embedding.grads + self.lstm_grads + self.affine.grads
        self.embedding_width = D
        self.attention_weights = None
        self.cache = None

    @property
    def hidden_size(self) -> int:
        return self.lstm_params[1].shape[0]

    def _step(self, pre: np.ndarray, h: np.ndarray, cell: np.ndarray, context: np.ndarray, hs_enc: np.ndarray):
        """One step from ``pre = embed(y_t) Wx_e + b: (N, 4H)``: the new h, cell and context, and what backward needs."""
        _, Wh, _ = self.lstm_params
        a = pre + h @ Wh + context @ self.lstm_params[0][self.embedding_width:]
        h_new, cell_new, gates, tanh_c = lstm_pointwise_forward(a, cell)
        weights = masked_softmax(np.einsum("nth,nh->nt", hs_enc, h_new))  # (N, T)
        context_new = np.einsum("nt,nth->nh", weights, hs_enc)
        return h_new, cell_new, context_new, (h, cell, context, gates, tanh_c, weights)

    def forward(self, ts_in: np.ndarray, hs_enc: np.ndarray, states: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        Wx, _, b = self.lstm_params
        embedded = self.embedding.forward(ts_in)  # (N, Tq, D)
        pres = embedded @ Wx[: self.embedding_width] + b  # (N, Tq, 4H): the input part of every step at once
        (h, cell), = states
        context = np.zeros_like(h)
        hs, contexts, steps = [], [], []
        for t in range(ts_in.shape[1]):
            h, cell, context, step_cache = self._step(pres[:, t], h, cell, context, hs_enc)
            hs.append(h)
            contexts.append(context)
            steps.append(step_cache)
        hs_dec, cs = np.stack(hs, axis=1), np.stack(contexts, axis=1)  # (N, Tq, H) each
        self.attention_weights = np.stack([step[-1] for step in steps], axis=1)  # (N, Tq, T)
        self.cache = (embedded, hs_enc, hs_dec, steps)
        return self.affine.forward(np.concatenate([cs, hs_dec], axis=-1))

    def backward(self, dscores: np.ndarray):
        """dscores: (N, Tq, V) -> ``(dhs_enc (N, T, H), [(dh0, dc0)])``."""
        Wx, Wh, _ = self.lstm_params
        D, H = self.embedding_width, self.hidden_size
        embedded, hs_enc, hs_dec, steps = self.cache
        dout = self.affine.backward(dscores)
        dcs, dhs_dec = dout[..., :H], dout[..., H:]
        N, Tq, _ = dout.shape
        dhs_enc = np.zeros_like(hs_enc)
        das = np.empty((N, Tq, 4 * H), dout.dtype)
        dh_next = np.zeros((N, H), dout.dtype)
        dcell = np.zeros((N, H), dout.dtype)
        dcontext_next = np.zeros((N, H), dout.dtype)  # from step t + 1, which read c_t as input
        dWh, dWx_context = np.zeros_like(Wh), np.zeros_like(Wx[D:])
        for t in reversed(range(Tq)):
            h_prev, cell_prev, context_prev, gates, tanh_c, weights = steps[t]
            h = hs_dec[:, t]
            # c_t = sum_j a_j hs_j with a = softmax(hs . h_t): read by the Affine layer and by step t + 1.
            dcontext = dcs[:, t] + dcontext_next
            dweights = np.einsum("nth,nh->nt", hs_enc, dcontext)
            dscores_t = softmax_backward(dweights, weights)
            dhs_enc += weights[:, :, None] * dcontext[:, None, :] + dscores_t[:, :, None] * h[:, None, :]
            dh = dhs_dec[:, t] + dh_next + np.einsum("nt,nth->nh", dscores_t, hs_enc)
            da, dcell = lstm_pointwise_backward(dh, dcell, cell_prev, gates, tanh_c)
            das[:, t] = da
            dh_next, dcontext_next = da @ Wh.T, da @ Wx[D:].T
            dWh += h_prev.T @ da
            dWx_context += context_prev.T @ da
        das_flat = das.reshape(N * Tq, 4 * H)
        self.lstm_grads[0][:D] = embedded.reshape(N * Tq, D).T @ das_flat
        self.lstm_grads[0][D:] = dWx_context
        self.lstm_grads[1][...] = dWh
        self.lstm_grads[2][...] = das_flat.sum(axis=0)
        self.embedding.backward(das @ Wx[:D].T)
        return dhs_enc, [(dh_next, dcell)]

    def generate(self, hs_enc: np.ndarray, states: list[tuple[np.ndarray, np.ndarray]], start_id: int,
                 length: int) -> np.ndarray:
        Wx, _, b = self.lstm_params
        (h, cell), = states
        context = np.zeros_like(h)
        ids = np.full(len(hs_enc), start_id, dtype=np.int64)
        generated, weights = [], []
        for _ in range(length):
            pre = self.embedding.forward(ids) @ Wx[: self.embedding_width] + b
            h, cell, context, step_cache = self._step(pre, h, cell, context, hs_enc)
            weights.append(step_cache[-1])
            ids = self.affine.forward(np.concatenate([context, h], axis=-1)).argmax(axis=-1)
            generated.append(ids)
        self.attention_weights = np.stack(weights, axis=1)
        return np.stack(generated, axis=1)


class AttentionSeq2seq:
    """An :class:`AttentionEncoder` and an :class:`AttentionDecoder`, trained with the mean cross-entropy.

    Taught in: book/08_attention.md

    ``forward(xs: (N, T), ts: (N, 1 + Tq)) -> loss``: the decoder reads ``ts[:, :-1]`` and predicts
    ``ts[:, 1:]``. ``backward()`` fills ``grads``. ``generate(xs, start_id, length) -> (N, length)``.
    ``attention=False`` gives the plain seq2seq of the same size; ``bidirectional=True`` a
    bidirectional encoder (H per direction, and a 2H-wide decoder); ``input_feeding=True`` an
    :class:`InputFeedingDecoder`; ``num_layers > 1`` residual stacks in the encoder and the decoder,
    decoder layer k starting from encoder layer k's last state; ``attention=False, peeky=True`` a
    peeky decoder like that of "Deep Learning from Scratch 2" (which starts from ``(h, 0)``; this one
    inherits the encoder's ``c`` too).
    """

    def __init__(self, V: int, D: int, H: int, rng: np.random.Generator, attention: bool = True,
                 bidirectional: bool = False, input_feeding: bool = False, num_layers: int = 1, peeky: bool = False,
                 dtype=np.float32):
        if input_feeding and not attention:
            raise ValueError("input_feeding feeds the attention context into the next step: it needs attention=True")
        if input_feeding and num_layers != 1:
            raise ValueError("the input-feeding decoder has one LSTM layer: pass num_layers=1")
        self.encoder = AttentionEncoder(V, D, H, rng, bidirectional, num_layers, dtype)
        if input_feeding:
            self.decoder = InputFeedingDecoder(V, D, self.encoder.output_size, rng, dtype)
        else:
            self.decoder = AttentionDecoder(V, D, self.encoder.output_size, rng, attention, num_layers, peeky, dtype)
        self.loss_layer = SoftmaxCrossEntropy()
        self.params = self.encoder.params + self.decoder.params
        self.grads = self.encoder.grads + self.decoder.grads

    def forward(self, xs: np.ndarray, ts: np.ndarray) -> float:
        hs_enc = self.encoder.forward(xs)
        scores = self.decoder.forward(ts[:, :-1], hs_enc, self.encoder.final_states())
        return self.loss_layer.forward(scores, ts[:, 1:])

    def backward(self, dout: float = 1.0) -> None:
        dhs_enc, d_states = self.decoder.backward(
            self.loss_layer.backward(dout)
        )
        # without attention only the final states reach the decoder
        if dhs_enc is None:
            N, T = self.encoder.embedding.ids.shape
            dhs_enc = np.zeros(
                (N, T, self.encoder.output_size), d_states[0][0].dtype
            )
        self.encoder.backward(dhs_enc, d_states)

    def generate(self, xs: np.ndarray, start_id: int, length: int) -> np.ndarray:
        hs_enc = self.encoder.forward(xs)
        return self.decoder.generate(hs_enc, self.encoder.final_states(), start_id, length)

    @property
    def attention_weights(self) -> np.ndarray | None:
        """``(N, Tq, T)``: how much each output step read each input position, in the last forward or generate."""
        return self.decoder.attention_weights


def train_seq2seq(model, optimizer, xs: np.ndarray, ts: np.ndarray, epochs: int, batch_size: int,
                  max_grad_norm: float | None = 5.0, seed: int = 0) -> list[float]:
    """Minibatch training for a fixed number of epochs (deterministic): returns the loss of every step.

    xs: (N, T) source ids, ts: (N, 1 + Tq) START then the answer. Each epoch shuffles the rows
    with a generator seeded by ``seed``; gradients are clipped by their global norm.
    """
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(epochs):
        order = rng.permutation(len(xs))
        for start in range(0, len(xs) - batch_size + 1, batch_size):  # full batches only: one shape
            rows = order[start:start + batch_size]
            losses.append(_train_step(model, optimizer, xs[rows], ts[rows], max_grad_norm))
    return losses


def _train_step(model, optimizer, xs: np.ndarray, ts: np.ndarray, max_grad_norm: float | None) -> float:
    """One update on one batch: forward, backward, clip, step; returns the batch's loss."""
    loss = model.forward(xs, ts)
    model.backward()
    if max_grad_norm is not None:
        clip_grads_by_global_norm(model.grads, max_grad_norm)
    optimizer.update(model.params, model.grads)
    return loss


@dataclass
class LearningCurve:
    """What :func:`train_with_learning_curve` measured: at each checkpoint, the number of updates
    done so far, the exact-match test accuracy and the mean training loss since the previous
    checkpoint; and the CPU seconds of the whole run (training and scoring)."""

    updates: list[int] = field(default_factory=list)
    accuracies: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


def train_with_learning_curve(V: int, D: int, H: int, xs: np.ndarray, ts: np.ndarray, xs_test: np.ndarray,
                              ts_test: np.ndarray, start_id: int, *, seed: int, updates: int, checkpoint_every: int,
                              batch_size: int = 64, lr: float = 0.01, max_grad_norm: float | None = 5.0,
                              keep_model: bool = False, **model_options):
    """Build ``AttentionSeq2seq(V, D, H, rng, **model_options)``, train it with Adam (constant ``lr``)
    for ``updates`` batches of fresh shuffles, both generators seeded by ``seed``, and score it on the test
    set every ``checkpoint_every`` updates. Returns ``(LearningCurve, model or None)``.

    A plain function of picklable arguments, so that worker processes can run the chapter's seeds
    and variants side by side; every variant with the same ``seed`` starts from the same generator
    and sees the same batches in the same order: only the model differs.
    """
    if updates % checkpoint_every:
        raise ValueError(f"updates={updates} must be a multiple of checkpoint_every={checkpoint_every}, "
                         "so that the last checkpoint is the end of training")
    start = time.process_time()
    init_seed, order_seed = np.random.SeedSequence(seed).spawn(2)  # the batches do not depend on the model's size
    model = AttentionSeq2seq(V, D, H, np.random.default_rng(init_seed), **model_options)
    rng = np.random.default_rng(order_seed)
    optimizer = Adam(lr)
    batches_per_epoch = len(xs) // batch_size  # full batches only: one shape
    curve, losses, order = LearningCurve(), [], None
    for step in range(updates):
        k = step % batches_per_epoch
        if k == 0:
            order = rng.permutation(len(xs))
        rows = order[k * batch_size:(k + 1) * batch_size]
        losses.append(_train_step(model, optimizer, xs[rows], ts[rows], max_grad_norm))
        if (step + 1) % checkpoint_every == 0:
            curve.updates.append(step + 1)
            curve.accuracies.append(exact_match_accuracy(model, xs_test, ts_test, start_id))
            curve.losses.append(float(np.mean(losses[-checkpoint_every:])))
    curve.seconds = time.process_time() - start
    return curve, model if keep_model else None


def exact_match_accuracy(model, xs: np.ndarray, ts: np.ndarray, start_id: int, batch_size: int = 1000) -> float:
    """The share of rows whose greedy answer equals ``ts[:, 1:]`` at every position (padding included)."""
    answers = ts[:, 1:]
    correct = 0
    for start in range(0, len(xs), batch_size):
        generated = model.generate(xs[start:start + batch_size], start_id, answers.shape[1])
        correct += int(np.all(generated == answers[start:start + batch_size], axis=1).sum())
    return correct / len(xs)
