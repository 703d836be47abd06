"""Attention: from a decoder reading its encoder's states to self-attention and the Transformer block.

Taught in: book/08_attention.md

Shapes: N batch, T (or Tk) positions attended over, Tq queries, H (or D) features, h heads. A
**mask** is boolean and says where attention *may* look, ``True`` = attend, as the boolean
``attn_mask`` of ``F.scaled_dot_product_attention``. (``nn.MultiheadAttention``'s ``attn_mask`` and
``key_padding_mask`` use the opposite sign, ``True`` = ignore; :mod:`seqlab.convert` flips it.)

A row whose mask is all ``False`` has nothing to attend to. We define its attention weights, its
output and every gradient through it as **zeros**, as ``F.scaled_dot_product_attention`` does
since torch 2.5 (``nn.MultiheadAttention`` returns NaN there with its default ``need_weights=True``
and on its inference fast path); a plain softmax would give 0 / 0 = NaN.
"""
from __future__ import annotations

import numpy as np

from seqlab.layers import Affine


# ---------------------------------------------------------------------------------------------
# The softmax over the attended positions, with a mask


def masked_softmax(
    scores: np.ndarray, mask: np.ndarray | None = None
) -> np.ndarray:
    """Softmax over the last axis, ``scores: (..., T)``, restricted to where
    ``mask`` is True.

    mask: boolean, broadcastable to ``scores.shape``; None attends
    everywhere. Masked positions get weight exactly 0, and a row with no
    position left gets all zeros (not NaN).
    """
    if mask is None:
        shifted = scores - scores.max(axis=-1, keepdims=True)
        weights = np.exp(shifted)
        weights /= weights.sum(axis=-1, keepdims=True)
        return weights
    mask = _checked_mask(mask, scores.shape)
    # Masked scores become -inf so exp gives exactly 0; the row max ignores
    # them. A fully masked row has max -inf: shift it by 0 instead, and its
    # sum of 0 is replaced by 1, giving zeros.
    masked = np.where(mask, scores, -np.inf)
    row_max = masked.max(axis=-1, keepdims=True)
    row_max = np.where(np.isfinite(row_max), row_max, 0)
    weights = np.exp(masked - row_max)
    total = weights.sum(axis=-1, keepdims=True)
    weights /= np.where(total > 0, total, 1)
    return weights


def softmax_backward(dweights: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Gradient through a softmax on the last axis: ``ds = a * (da - sum(da * a))``.

    Masked positions have ``a = 0`` and so get no gradient; a fully masked row gets zeros.
    """
    return weights * (dweights - np.sum(dweights * weights, axis=-1, keepdims=True))


def _checked_mask(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.dtype != np.bool_:
        raise TypeError(f"an attention mask must be boolean (True = attend), got dtype {mask.dtype}: "
                        "build it with a comparison, e.g. lengths[:, None] > np.arange(T)")
    try:
        np.broadcast_shapes(mask.shape, shape)
    except ValueError:
        raise ValueError(f"the attention mask of shape {mask.shape} does not broadcast to the scores' "
                         f"shape {shape}: a padding mask is (N, Tk), seen as (N, 1, Tk) or (N, 1, 1, Tk)") from None
    return mask


def padding_mask(lengths, T: int) -> np.ndarray:
    """``(N, T)`` boolean, True at the first ``lengths[n]`` positions of sequence n (the real tokens)."""
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or (lengths < 0).any() or (lengths > T).any():
        raise ValueError(f"lengths must be a 1-D array of integers in [0, {T}], got {lengths!r}")
    return np.arange(T)[None, :] < lengths[:, None]


def causal_mask(Tq: int, Tk: int | None = None) -> np.ndarray:
    """``(Tq, Tk)`` boolean, True where key j <= query i: a position sees itself and the past only."""
    Tk = Tq if Tk is None else Tk
    return np.tril(np.ones((Tq, Tk), dtype=bool))


# ---------------------------------------------------------------------------------------------
# Seq2seq attention (Bahdanau et al. 2015; Luong et al. 2015, dot score): a decoder state h reads
# the encoder states hs.


class AttentionWeight:
    """The alignment of one decoder state with every encoder state: ``a =
    softmax(hs . h)``.

    Taught in: book/08_attention.md

    forward(hs: (N, T, H), h: (N, H), mask: (N, T) or None) -> a: (N, T),
    rows summing to 1 (or 0 where the mask is all False). backward(da: (N,
    T)) -> (dhs: (N, T, H), dh: (N, H)). The score is the dot product; it has
    no parameters.
    """

    def __init__(self):
        self.params, self.grads = [], []
        self.cache = None

    def forward(
        self, hs: np.ndarray, h: np.ndarray, mask: np.ndarray | None = None
    ) -> np.ndarray:
        _check_states("AttentionWeight", hs, h)
        # (N, T): h against every encoder state
        scores = np.einsum("nth,nh->nt", hs, h)
        a = masked_softmax(scores, mask)
        self.cache = (hs, h, a)
        return a

    def backward(self, da: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        hs, h, a = self.cache
        dscores = softmax_backward(da, a)  # (N, T)
        dhs = dscores[:, :, None] * h[:, None, :]  # score_t = hs_t . h
        dh = np.einsum("nt,nth->nh", dscores, hs)
        return dhs, dh


class WeightSum:
    """The context vector, the encoder states averaged with the attention
    weights: ``c = sum_t a_t hs_t``.

    Taught in: book/08_attention.md

    forward(hs: (N, T, H), a: (N, T)) -> c: (N, H). backward(dc: (N, H)) ->
    (dhs: (N, T, H), da: (N, T)).
    """

    def __init__(self):
        self.params, self.grads = [], []
        self.cache = None

    def forward(self, hs: np.ndarray, a: np.ndarray) -> np.ndarray:
        if hs.ndim != 3 or a.shape != hs.shape[:2]:
            raise ValueError(
                "WeightSum needs hs: (N, T, H) and a: (N, T), got hs: "
                f"{hs.shape} and a: {a.shape}"
            )
        self.cache = (hs, a)
        return np.einsum("nt,nth->nh", a, hs)

    def backward(self, dc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        hs, a = self.cache
        # each hs_t received the share a_t of dc
        dhs = a[:, :, None] * dc[:, None, :]
        da = np.einsum("nth,nh->nt", hs, dc)
        return dhs, da


class Attention:
    """AttentionWeight then WeightSum: one decoder state ``h: (N, H)`` reads ``hs: (N, T, H)`` -> ``c: (N, H)``.

    Taught in: book/08_attention.md

    backward(dc) -> (dhs, dh). The weights of the last forward stay in ``attention_weight: (N, T)``.
    """

    def __init__(self):
        self.params, self.grads = [], []
        self.weight_layer = AttentionWeight()
        self.sum_layer = WeightSum()
        self.attention_weight = None

    def forward(self, hs: np.ndarray, h: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        a = self.weight_layer.forward(hs, h, mask)
        self.attention_weight = a
        return self.sum_layer.forward(hs, a)

    def backward(self, dc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dhs_sum, da = self.sum_layer.backward(dc)
        dhs_weight, dh = self.weight_layer.backward(da)
        # hs is read twice: by the scores and by the sum
        return dhs_sum + dhs_weight, dh


class TimeAttention:
    """Attention for every decoder step at once: ``hs_dec: (N, Tq, H)`` reads ``hs_enc: (N, T, H)`` -> ``cs: (N, Tq, H)``.

    Taught in: book/08_attention.md

    The same computation as :class:`Attention` at each step, but the Tq steps do not depend on each
    other (the decoder's LSTM has already run), so all scores are one batched matmul,
    ``hs_dec @ hs_enc^T: (N, Tq, T)``, and there is no loop over time. backward(dcs) ->
    ``(dhs_enc, dhs_dec)``. The weights of the last forward stay in ``attention_weights: (N, Tq, T)``,
    for heatmaps. mask: (N, T) padding mask of the encoder positions, or None.
    """

    def __init__(self):
        self.params, self.grads = [], []
        self.attention_weights = None
        self.cache = None

    def forward(self, hs_enc: np.ndarray, hs_dec: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        if hs_enc.ndim != 3 or hs_dec.ndim != 3 or hs_enc.shape[0] != hs_dec.shape[0] or hs_enc.shape[2] != hs_dec.shape[2]:
            raise ValueError(f"TimeAttention needs hs_enc: (N, T, H) and hs_dec: (N, Tq, H) with the same N and H, "
                             f"got {hs_enc.shape} and {hs_dec.shape}")
        scores = hs_dec @ hs_enc.transpose(0, 2, 1)  # (N, Tq, T)
        a = masked_softmax(scores, None if mask is None else np.asarray(mask)[:, None, :])
        self.attention_weights = a
        self.cache = (hs_enc, hs_dec, a)
        return a @ hs_enc  # (N, Tq, H)

    def backward(self, dcs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        hs_enc, hs_dec, a = self.cache
        da = dcs @ hs_enc.transpose(0, 2, 1)  # (N, Tq, T)
        dscores = softmax_backward(da, a)
        # read by the sum and the scores
        dhs_enc = (
            a.transpose(0, 2, 1) @ dcs + dscores.transpose(0, 2, 1) @ hs_dec
        )
        dhs_dec = dscores @ hs_enc
        return dhs_enc, dhs_dec


def _check_states(owner: str, hs: np.ndarray, h: np.ndarray) -> None:
    if hs.ndim != 3 or h.ndim != 2 or h.shape != (hs.shape[0], hs.shape[2]):
        raise ValueError(f"{owner} needs hs: (N, T, H) and h: (N, H), got hs: {hs.shape} and h: {h.shape}")


# ---------------------------------------------------------------------------------------------
# Scaled dot-product attention (Vaswani et al. 2017)


def scaled_dot_product_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None = None,
                                 is_causal: bool = False):
    """``softmax(q k^T / sqrt(d) + mask) v``, like ``F.scaled_dot_product_attention``.

    q: (..., Tq, d), k: (..., Tk, d), v: (..., Tk, dv); any leading axes (N, heads), matching.
    mask: boolean, True = attend, broadcastable to (..., Tq, Tk); ``is_causal`` adds the causal mask.
    Returns ``(out: (..., Tq, dv), cache)``; the attention weights are ``cache[3]``, (..., Tq, Tk).
    A query whose keys are all masked gets weights 0 and output 0 (F.scaled_dot_product_attention's choice).
    """
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"need q: (..., Tq, d), k: (..., Tk, d), v: (..., Tk, dv), got {q.shape}, {k.shape}, {v.shape}")
    Tq, Tk = q.shape[-2], k.shape[-2]
    if is_causal:
        causal = causal_mask(Tq, Tk)
        mask = causal if mask is None else (np.asarray(mask) & causal)
    scale = 1 / np.sqrt(q.shape[-1])  # keeps the scores' variance near 1 whatever d is
    scores = (q @ np.swapaxes(k, -1, -2)) * q.dtype.type(scale)  # (..., Tq, Tk)
    weights = masked_softmax(scores, mask)
    return weights @ v, (q, k, v, weights, scale)


def attention_output_and_weights(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None = None):
    """``(out, weights)`` of :func:`scaled_dot_product_attention`, without the rest of its cache."""
    out, cache = scaled_dot_product_attention(q, k, v, mask)
    return out, cache[3]


def scaled_dot_product_attention_backward(dout: np.ndarray, cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`scaled_dot_product_attention`: ``dout: (..., Tq, dv)`` -> ``(dq, dk, dv)``."""
    q, k, v, weights, scale = cache
    dv = np.swapaxes(weights, -1, -2) @ dout  # (..., Tk, dv)
    dweights = dout @ np.swapaxes(v, -1, -2)  # (..., Tq, Tk)
    dscores = softmax_backward(dweights, weights) * q.dtype.type(scale)
    dq = dscores @ k
    dk = np.swapaxes(dscores, -1, -2) @ q
    return dq, dk, dv


class MultiHeadAttention:
    """Multi-head attention: h heads of scaled dot-product attention on learned projections, ``nn.MultiheadAttention``.

    Taught in: book/08_attention.md

    D = model width, h = heads, d = D / h per head. Parameters, in ``nn.MultiheadAttention``'s order:
    ``W_in: (D, 3D)`` the query, key and value projections side by side (``in_proj_weight = W_in.T``),
    ``b_in: (3D,)`` (``in_proj_bias``), ``W_out: (D, D)`` and ``b_out: (D,)`` (``out_proj``).

    forward(query: (N, Tq, D), key=None, value=None, mask=None) -> (N, Tq, D). With key and value
    None it is self-attention, and the three projections are one matmul; backward(dout) then
    returns ``dx``; after cross-attention it returns ``(dquery, dkey, dvalue)``. mask: boolean,
    True = attend, broadcastable to (N, h, Tq, Tk); :func:`padding_mask` gives (N, Tk), pass it
    as ``mask[:, None, None, :]``. The weights of the last forward are in ``head_weights`` (N, h, Tq, Tk)
    and, averaged over the heads, in ``attention_weights``.
    """

    param_names = ("W_in", "b_in", "W_out", "b_out")

    def __init__(self, W_in: np.ndarray, b_in: np.ndarray, W_out: np.ndarray, b_out: np.ndarray, num_heads: int):
        D = W_out.shape[0]
        if W_in.shape != (D, 3 * D) or b_in.shape != (3 * D,) or W_out.shape != (D, D) or b_out.shape != (D,):
            raise ValueError(f"MultiHeadAttention needs W_in: (D, 3D), b_in: (3D,), W_out: (D, D), b_out: (D,), "
                             f"got {W_in.shape}, {b_in.shape}, {W_out.shape}, {b_out.shape}")
        if D % num_heads:
            raise ValueError(f"the width D = {D} must be a multiple of num_heads = {num_heads}")
        self.params = [W_in, b_in, W_out, b_out]
        self.grads = [np.zeros_like(p) for p in self.params]
        self.num_heads = num_heads
        self.attention_weights = self.head_weights = None
        self.cache = None

    @classmethod
    def init(cls, D: int, num_heads: int, rng: np.random.Generator, dtype=np.float32) -> "MultiHeadAttention":
        """``nn.MultiheadAttention``'s initialization: Xavier-uniform ``W_in``, zero biases, ``out_proj`` as ``nn.Linear``."""
        bound_in = np.sqrt(6 / (D + 3 * D))
        W_in = rng.uniform(-bound_in, bound_in, (D, 3 * D)).astype(dtype)
        bound_out = 1 / np.sqrt(D)
        W_out = rng.uniform(-bound_out, bound_out, (D, D)).astype(dtype)
        return cls(W_in, np.zeros(3 * D, dtype), W_out, np.zeros(D, dtype), num_heads)

    @property
    def width(self) -> int:
        return self.params[2].shape[0]

    def _split_heads(self, x: np.ndarray) -> np.ndarray:
        N, T, D = x.shape
        return x.reshape(N, T, self.num_heads, D // self.num_heads).transpose(0, 2, 1, 3)  # (N, h, T, d)

    @staticmethod
    def _merge_heads(x: np.ndarray) -> np.ndarray:
        N, h, T, d = x.shape
        return x.transpose(0, 2, 1, 3).reshape(N, T, h * d)  # (N, T, D)

    def forward(
        self,
        query: np.ndarray,
        key: np.ndarray | None = None,
        value: np.ndarray | None = None,
        mask: np.ndarray | None = None,
    ) -> np.ndarray:
        W_in, b_in, W_out, b_out = self.params
        D = self.width
        self_attention = key is None and value is None
        if not self_attention and (key is None or value is None):
            raise ValueError(
                "pass both key and value (cross-attention) or neither "
                "(self-attention)"
            )
        key = query if self_attention else key
        value = query if self_attention else value
        for name, x in (("query", query), ("key", key), ("value", value)):
            if x.ndim != 3 or x.shape[-1] != D:
                raise ValueError(
                    f"MultiHeadAttention expects {name} of shape (N, T, "
                    f"{D}), got {x.shape}"
                )
        if self_attention:
            # (N, T, 3D): the three projections in one matmul
            qkv = query @ W_in + b_in
            q, k, v = qkv[..., :D], qkv[..., D:2 * D], qkv[..., 2 * D:]
        else:
            q = query @ W_in[:, :D] + b_in[:D]
            k = key @ W_in[:, D:2 * D] + b_in[D:2 * D]
            v = value @ W_in[:, 2 * D:] + b_in[2 * D:]
        heads, attention_cache = scaled_dot_product_attention(
            self._split_heads(q),
            self._split_heads(k),
            self._split_heads(v),
            mask,
        )  # (N, h, Tq, d)
        merged = self._merge_heads(heads)  # (N, Tq, D)
        # (N, h, Tq, Tk): each head's own
        self.head_weights = attention_cache[3]
        # (N, Tq, Tk), nn.MultiheadAttention's average
        self.attention_weights = self.head_weights.mean(axis=1)
        self.cache = (
            self_attention,
            query,
            key,
            value,
            merged,
            attention_cache,
        )
        return merged @ W_out + b_out

    def backward(self, dout: np.ndarray):
        W_in, _, W_out, _ = self.params
        D = self.width
        self_attention, query, key, value, merged, attention_cache = self.cache
        self.grads[2][...] = merged.reshape(-1, D).T @ dout.reshape(-1, D)
        self.grads[3][...] = dout.reshape(-1, D).sum(axis=0)
        dheads = self._split_heads(dout @ W_out.T)
        dq, dk, dv = (self._merge_heads(g) for g in scaled_dot_product_attention_backward(dheads, attention_cache))
        if self_attention:
            dqkv = np.concatenate([dq, dk, dv], axis=-1).reshape(-1, 3 * D)  # (N*T, 3D)
            self.grads[0][...] = query.reshape(-1, D).T @ dqkv
            self.grads[1][...] = dqkv.sum(axis=0)
            return (dqkv @ W_in.T).reshape(query.shape)
        dinputs = []
        for block, (x, dproj) in enumerate(((query, dq), (key, dk), (value, dv))):
            columns = slice(block * D, (block + 1) * D)
            dproj2 = dproj.reshape(-1, D)
            self.grads[0][:, columns] = x.reshape(-1, D).T @ dproj2
            self.grads[1][columns] = dproj2.sum(axis=0)
            dinputs.append(dproj @ W_in[:, columns].T)
        return tuple(dinputs)


# ---------------------------------------------------------------------------------------------
# Positional encoding and the Transformer encoder block


def positional_encoding(T: int, D: int, dtype=np.float32) -> np.ndarray:
    """The sinusoidal encoding of Vaswani et al. (2017), ``(T, D)``: PE[t, 2i] = sin(t / 10000^(2i/D)),
    PE[t, 2i+1] = cos(t / 10000^(2i/D)). Each pair of columns is a clock of its own frequency, so
    PE[t + k] is a rotation of PE[t] that depends on k alone: relative positions are linear maps.
    """
    if D % 2:
        raise ValueError(f"the sinusoidal encoding pairs sin and cos columns: D must be even, got {D}")
    positions = np.arange(T)[:, None]  # (T, 1)
    frequencies = 1.0 / 10000 ** (np.arange(0, D, 2) / D)  # (D/2,)
    angles = positions * frequencies  # (T, D/2)
    pe = np.empty((T, D))
    pe[:, 0::2], pe[:, 1::2] = np.sin(angles), np.cos(angles)
    return pe.astype(dtype)


class LayerNorm:
    """Normalize each position's D features to mean 0 and variance 1, then scale and shift: ``nn.LayerNorm(D)``.

    Taught in: book/08_attention.md

    x: (..., D) -> (..., D); gamma, beta: (D,); eps = 1e-5 inside the square root, as torch.
    """

    param_names = ("gamma", "beta")

    def __init__(self, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5):
        if gamma.ndim != 1 or beta.shape != gamma.shape:
            raise ValueError(f"LayerNorm needs gamma, beta: (D,), got {gamma.shape} and {beta.shape}")
        self.params = [gamma, beta]
        self.grads = [np.zeros_like(gamma), np.zeros_like(beta)]
        self.eps = eps
        self.cache = None

    @classmethod
    def init(cls, D: int, dtype=np.float32) -> "LayerNorm":
        return cls(np.ones(D, dtype), np.zeros(D, dtype))

    def forward(self, x: np.ndarray) -> np.ndarray:
        gamma, beta = self.params
        mean = x.mean(axis=-1, keepdims=True)
        centered = x - mean
        inv_std = 1 / np.sqrt((centered**2).mean(axis=-1, keepdims=True) + x.dtype.type(self.eps))
        x_hat = centered * inv_std
        self.cache = (x_hat, inv_std)
        return x_hat * gamma + beta

    def backward(self, dout: np.ndarray) -> np.ndarray:
        gamma, _ = self.params
        x_hat, inv_std = self.cache
        D = x_hat.shape[-1]
        self.grads[0][...] = (dout * x_hat).reshape(-1, D).sum(axis=0)
        self.grads[1][...] = dout.reshape(-1, D).sum(axis=0)
        dx_hat = dout * gamma
        # x_hat depends on x directly and through the mean and the variance: the two projections below.
        return inv_std * (dx_hat - dx_hat.mean(axis=-1, keepdims=True)
                          - x_hat * (dx_hat * x_hat).mean(axis=-1, keepdims=True))


class TransformerEncoderBlock:
    """Self-attention and a position-wise feed-forward network, each with a residual connection and a LayerNorm.

    Taught in: book/08_attention.md

    ``nn.TransformerEncoderLayer(D, num_heads, d_ff, dropout=0, batch_first=True)``: the default,
    **post-norm** (``norm_first=False``), as in Vaswani et al. (2017)::

        x = norm1(x + self_attention(x));  out = norm2(x + linear2(relu(linear1(x))))

    and with ``norm_first=True`` the **pre-norm** block of GPT-2 and most later models::

        x = x + self_attention(norm1(x));  out = x + linear2(relu(linear1(norm2(x))))

    x: (N, T, D) -> (N, T, D); mask as :class:`MultiHeadAttention`'s. Parameters in the order of the
    torch layer's ``state_dict``: attention (W_in, b_in, W_out, b_out), linear1, linear2, norm1, norm2.
    No dropout: the block is what torch computes in evaluation mode.
    """

    def __init__(self, attention: MultiHeadAttention, linear1: Affine, linear2: Affine,
                 norm1: LayerNorm, norm2: LayerNorm, norm_first: bool = False):
        D = attention.width
        if linear1.params[0].shape[0] != D or linear2.params[0].shape != linear1.params[0].shape[::-1]:
            raise ValueError(f"the feed-forward layers must map D = {D} -> d_ff -> D, got linear1 W: "
                             f"{linear1.params[0].shape} and linear2 W: {linear2.params[0].shape}")
        self.attention, self.linear1, self.linear2, self.norm1, self.norm2 = attention, linear1, linear2, norm1, norm2
        self.norm_first = norm_first
        self.sublayers = (attention, linear1, linear2, norm1, norm2)
        self.params = [p for layer in self.sublayers for p in layer.params]
        self.grads = [g for layer in self.sublayers for g in layer.grads]
        self.param_names = tuple(f"{prefix}.{name}" for prefix, layer in
                                 zip(("attention", "linear1", "linear2", "norm1", "norm2"), self.sublayers)
                                 for name in layer.param_names)
        self.relu_mask = None

    @classmethod
    def init(cls, D: int, num_heads: int, d_ff: int, rng: np.random.Generator, norm_first: bool = False,
             dtype=np.float32) -> "TransformerEncoderBlock":
        return cls(MultiHeadAttention.init(D, num_heads, rng, dtype), Affine.init(D, d_ff, rng, dtype),
                   Affine.init(d_ff, D, rng, dtype), LayerNorm.init(D, dtype), LayerNorm.init(D, dtype), norm_first)

    def _feed_forward(self, x: np.ndarray) -> np.ndarray:
        hidden = self.linear1.forward(x)
        self.relu_mask = hidden > 0
        return self.linear2.forward(hidden * self.relu_mask)

    def _feed_forward_backward(self, dout: np.ndarray) -> np.ndarray:
        return self.linear1.backward(self.linear2.backward(dout) * self.relu_mask)

    def forward(self, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        if self.norm_first:
            x = x + self.attention.forward(self.norm1.forward(x), mask=mask)
            return x + self._feed_forward(self.norm2.forward(x))
        x = self.norm1.forward(x + self.attention.forward(x, mask=mask))
        return self.norm2.forward(x + self._feed_forward(x))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self.norm_first:
            # Each residual connection passes its gradient straight through,
            # plus the sublayer's.
            dx = dout + self.norm2.backward(
                self._feed_forward_backward(dout)
            )
            return dx + self.norm1.backward(self.attention.backward(dx))
        dx = self.norm2.backward(dout)
        dx = dx + self._feed_forward_backward(dx)
        dx = self.norm1.backward(dx)
        return dx + self.attention.backward(dx)
