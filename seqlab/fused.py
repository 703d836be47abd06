"""Fused kernels for training: the same math as :mod:`seqlab.lstm` and :mod:`seqlab.gru`, faster.

Mentioned in: book/04_lstm.md and book/05_gru.md, which show the plain code instead.

The chapters show the LSTM and the GRU written as their equations: each gate named, ``sigmoid``
and ``tanh`` called by name, one step at a time. This module computes the same functions with
fewer NumPy operations, because a NumPy call costs about a microsecond however little it computes
and a step of a small layer is a few dozen calls, and with no memory allocated inside the loop:

- all the gates of a step go through **one** ``tanh``, using ``sigmoid(a) = 0.5 + 0.5 tanh(0.5 a)``
  for the sigmoid gates (the plain ``sigmoid`` computes it that way too);
- the gates of step t are kept gate by gate, ``gates[t]: (G, N, H)``, so that each gate is one
  contiguous block: NumPy runs an operation on a contiguous block several times faster than on a
  block of columns of a wider array;
- every result is written into an array allocated once per call (``out=``), and a time layer keeps
  those arrays from call to call (``workspace``): fresh memory costs a page fault per 4 KiB the
  first time it is written, a large part of a step's time when the arrays are megabytes;
- the backward pass multiplies by a contiguous copy of ``Wh.T``: BLAS is faster on it than on the
  transposed view;
- the matmuls that do not depend on the recurrence (the input projection, the weight gradients
  and the input gradients) are one matmul each over all T steps, as in the plain time functions.

Each function takes and returns what its plain twin in :mod:`seqlab.lstm` or :mod:`seqlab.gru`
does, with a cache of the same layout, so either backward pass can follow either forward pass.
``tests/test_lstm.py`` and ``tests/test_gru.py`` prove each equal to its twin (outputs and every
gradient, float32 and float64, ``torch.testing.assert_close``); ``benchmarks/layers.py`` times both
against PyTorch. ``TimeLSTM`` and ``TimeGRU`` run these functions unless built with ``fused=False``.
"""
from __future__ import annotations

import functools

import numpy as np


@functools.cache
def _lstm_tanh_form(dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """``(scale, offset)``, each ``(4, 1, 1)`` and read-only, for the gates i, f, g, o:
    ``offset + scale * tanh(scale * a)`` is ``sigmoid(a)`` for i, f, o and ``tanh(a)`` for g."""
    scale = np.array([0.5, 0.5, 1.0, 0.5], dtype).reshape(4, 1, 1)
    offset = 1 - scale
    scale.flags.writeable = offset.flags.writeable = False
    return scale, offset


def _buffer(workspace: dict | None, name: str, shape: tuple, dtype) -> np.ndarray:
    """An uninitialized array for ``name``: the one ``workspace`` holds from the last call when it
    has this shape and dtype, else a new one (kept there). Fresh memory costs a page fault per 4 KiB
    on its first write, a large share of a step's time when the arrays are megabytes."""
    if workspace is None:
        return np.empty(shape, dtype)
    array = workspace.get(name)
    if array is None or array.shape != shape or array.dtype != dtype:
        array = workspace[name] = np.empty(shape, dtype)
    return array


def _gate_major(a: np.ndarray, G: int) -> np.ndarray:
    """``(N, G H) -> (G, N, H)``, a view: gate k's block of every row."""
    N, GH = a.shape
    return a.reshape(N, G, GH // G).transpose(1, 0, 2)


def _time_major(xs: np.ndarray, workspace: dict | None, dtype) -> np.ndarray:
    """``xs: (N, T, D) -> (T N, D)``, rows of step 0 first: each step's rows one contiguous block."""
    N, T, D = xs.shape
    flat = _buffer(workspace, "xs_flat", (T, N, D), dtype)
    flat[...] = xs.transpose(1, 0, 2)
    return flat.reshape(T * N, D)


def _column_sums(flat: np.ndarray, out: np.ndarray, workspace: dict | None) -> np.ndarray:
    """``flat.sum(axis=0)`` into ``out``, as a matrix-vector product with ones: BLAS adds up the
    rows of a tall matrix several times faster than NumPy's reduction does."""
    ones = _buffer(workspace, "ones", (len(flat),), flat.dtype)
    ones.fill(1)
    return np.matmul(ones, flat, out=out)


def _transpose(W: np.ndarray, workspace: dict | None, block: int = 64) -> np.ndarray:
    """``W.T``, contiguous, copied block by block: a block and its transpose stay in cache, where a
    copy of the whole transposed view reads memory a column at a time (several times slower for
    weights of megabytes)."""
    K, M = W.shape
    out = _buffer(workspace, "W_T", (M, K), W.dtype)
    for i in range(0, K, block):
        for j in range(0, M, block):
            out[j : j + block, i : i + block] = W[i : i + block, j : j + block].T
    return out


def _batch_major(flat: np.ndarray, N: int, T: int) -> np.ndarray:
    """``(T N, K) -> (N, T, K)``, a new contiguous array: the inverse of :func:`_time_major`."""
    out = np.empty((N, T, flat.shape[-1]), flat.dtype)
    out[...] = flat.reshape(T, N, -1).transpose(1, 0, 2)
    return out


# -------------------------------------------------------------------------------------------------
# LSTM: gates i, f, g, o in blocks of H columns, as in seqlab.lstm


def lstm_pointwise_forward(a: np.ndarray, c_prev: np.ndarray):
    """:func:`seqlab.lstm.lstm_pointwise_forward`, fused: one ``tanh`` for the four gates, which
    come back as one ``(4, N, H)`` array (i, f, g, o), each gate contiguous."""
    N, H = c_prev.shape
    scale, offset = _lstm_tanh_form(a.dtype)
    gates = np.multiply(_gate_major(a, 4), scale, out=np.empty((4, N, H), a.dtype))
    np.tanh(gates, out=gates)
    gates *= scale
    gates += offset
    i, f, g, o = gates
    c_next = f * c_prev
    c_next += i * g
    tanh_c = np.tanh(c_next)
    return o * tanh_c, c_next, gates, tanh_c


def lstm_pointwise_backward(dh_next, dc_next, c_prev, gates, tanh_c):
    """:func:`seqlab.lstm.lstm_pointwise_backward`, fused: ``(da: (N, 4H), dc_prev: (N, H))``."""
    N, H = c_prev.shape
    gates = np.asarray(gates)  # (4, N, H)
    i, f, g, o = gates
    dc = tanh_c * tanh_c
    np.subtract(1, dc, out=dc)
    dc *= o
    dc *= dh_next
    dc += dc_next
    upstream = np.empty_like(gates)  # dL/d(gate outputs)
    np.multiply(dc, g, out=upstream[0])
    np.multiply(dc, c_prev, out=upstream[1])
    np.multiply(dc, i, out=upstream[2])
    np.multiply(dh_next, tanh_c, out=upstream[3])
    slope = 1 - gates  # s (1 - s) for i, f, o; 1 - g^2 for g
    slope *= gates
    np.multiply(g, g, out=slope[2])
    np.subtract(1, slope[2], out=slope[2])
    da = np.empty((N, 4 * H), upstream.dtype)
    np.multiply(upstream, slope, out=_gate_major(da, 4))
    dc *= f
    return da, dc


def time_lstm_forward(xs, Wx, Wh, b, h0, c0, workspace=None):
    """:func:`seqlab.lstm.time_lstm_forward`, fused: ``xs: (N, T, D) -> (hs: (N, T, H), cache)``.

    ``workspace``: a dict that keeps the arrays of the cache from one call to the next; the cache
    is then valid until the next call with the same dict. ``hs`` is always a new array."""
    N, T, D = xs.shape
    H = Wh.shape[0]
    dtype = np.result_type(xs, Wx)
    xs_flat = _time_major(xs, workspace, dtype)
    xs_Wx_b = np.matmul(xs_flat, Wx, out=_buffer(workspace, "xs_Wx_b", (T * N, 4 * H), dtype))
    xs_Wx_b += b
    xs_Wx_b = xs_Wx_b.reshape(T, N, 4 * H)
    gates = _buffer(workspace, "gates", (T, 4, N, H), dtype)
    hs = _buffer(workspace, "hs", (T + 1, N, H), dtype)  # hs[t + 1] = h_t, hs[0] = h0
    cs = _buffer(workspace, "cs", (T + 1, N, H), dtype)
    tanh_cs = _buffer(workspace, "tanh_cs", (T, N, H), dtype)
    a = _buffer(workspace, "a", (N, 4 * H), dtype)
    i_times_g = _buffer(workspace, "i_times_g", (N, H), dtype)
    hs[0], cs[0] = h0, c0
    for t in range(T):
        np.matmul(hs[t], Wh, out=a)
        a += xs_Wx_b[t]
        gate = gates[t]
        np.copyto(gate, _gate_major(a, 4))
        # sigmoid(a) = 0.5 + 0.5 tanh(0.5 a) for i, f and o: one tanh for the four gates.
        sigmoid_gates = gate[:2], gate[3]
        for block in sigmoid_gates:
            block *= 0.5
        np.tanh(gate, out=gate)
        for block in sigmoid_gates:
            block *= 0.5
            block += 0.5
        i, f, g, o = gate
        np.multiply(f, cs[t], out=cs[t + 1])
        np.multiply(i, g, out=i_times_g)
        cs[t + 1] += i_times_g
        np.tanh(cs[t + 1], out=tanh_cs[t])
        np.multiply(o, tanh_cs[t], out=hs[t + 1])
    return _batch_major(hs[1:].reshape(T * N, H), N, T), (xs_flat, hs, cs, gates, tanh_cs)


def time_lstm_backward(dhs, dh_last, dc_last, cache, Wx, Wh, grads=None, workspace=None):
    """:func:`seqlab.lstm.time_lstm_backward`, fused: ``(dxs, dh0, dc0, dWx, dWh, db)``.

    ``grads``: three arrays ``[dWx, dWh, db]`` to write the weight gradients into (a layer's
    ``grads``) instead of new ones; ``workspace``: a dict that keeps the scratch arrays from one
    call to the next. ``dxs``, ``dh0`` and ``dc0`` are always new arrays."""
    xs_flat, hs, cs, gates, tanh_cs = cache
    T, N, H = tanh_cs.shape
    D = xs_flat.shape[-1]
    dtype = np.result_type(dhs, Wx)
    das = _buffer(workspace, "das", (T, N, 4 * H), dtype)
    dh = np.zeros((N, H), dtype) if dh_last is None else np.array(dh_last, dtype)  # from step t + 1
    dc = np.zeros((N, H), dtype) if dc_last is None else np.array(dc_last, dtype)
    dh_t = _buffer(workspace, "dh_t", (N, H), dtype)
    dc_from_h = _buffer(workspace, "dc_from_h", (N, H), dtype)
    # dL/d(gate outputs): [dc g, dc c_prev, dc i, dh tanh(c)]
    upstream = _buffer(workspace, "upstream", (4, N, H), dtype)
    slope = _buffer(workspace, "slope", (4, N, H), dtype)
    Wh_T = _transpose(Wh, workspace)  # BLAS is faster on a contiguous transpose than on a view
    dhs_t = _buffer(workspace, "dhs_t", (T, N, H), dtype)
    dhs_t[...] = dhs.transpose(1, 0, 2)  # time-major: step t's rows contiguous
    for t in reversed(range(T)):
        i, f, g, o = gate = gates[t]
        tanh_c = tanh_cs[t]
        np.add(dhs_t[t], dh, out=dh_t)
        # dc += dh o (1 - tanh(c)^2): c_next also reaches the loss through h_next = o tanh(c_next).
        np.multiply(tanh_c, tanh_c, out=dc_from_h)
        np.subtract(1, dc_from_h, out=dc_from_h)
        dc_from_h *= o
        dc_from_h *= dh_t
        dc += dc_from_h
        np.multiply(dc, g, out=upstream[0])
        np.multiply(dc, cs[t], out=upstream[1])
        np.multiply(dc, i, out=upstream[2])
        np.multiply(dh_t, tanh_c, out=upstream[3])
        # da = upstream * slope: s (1 - s) for i, f, o, 1 - g^2 for g, written gate by gate
        # into das[t], whose columns are the blocks i, f, g, o as the matmuls need them.
        np.subtract(1, gate, out=slope)
        slope *= gate
        np.multiply(g, g, out=slope[2])
        np.subtract(1, slope[2], out=slope[2])
        np.multiply(upstream, slope, out=_gate_major(das[t], 4))
        dc *= f
        np.matmul(das[t], Wh_T, out=dh)
    das_flat = das.reshape(T * N, 4 * H)
    if grads is None:
        grads = [np.empty(shape, dtype) for shape in (Wx.shape, Wh.shape, (4 * H,))]
    dWx, dWh, db = grads
    np.matmul(xs_flat.T, das_flat, out=dWx)
    np.matmul(hs[:-1].reshape(T * N, H).T, das_flat, out=dWh)  # step t read h_{t-1} = hs[t]
    _column_sums(das_flat, db, workspace)
    dxs_flat = np.matmul(das_flat, Wx.T, out=_buffer(workspace, "dxs_flat", (T * N, D), dtype))
    return _batch_major(dxs_flat, N, T), dh, dc, dWx, dWh, db


# -------------------------------------------------------------------------------------------------
# GRU: gates r, z, n in blocks of H columns, as in seqlab.gru (PyTorch's variant, b_hn apart)


def gru_pointwise_forward(xa, ha, h_prev, b_hn):
    """:func:`seqlab.gru.gru_pointwise_forward`, fused: one ``tanh`` for r and z, and the gates
    come back as one ``(3, N, H)`` array (r, z, n), each gate contiguous."""
    N, H = h_prev.shape
    gates = np.empty((3, N, H), np.result_type(xa, ha))
    rz = gates[:2]
    np.add(_gate_major(xa[:, : 2 * H], 2), _gate_major(ha[:, : 2 * H], 2), out=rz)
    rz *= 0.5  # sigmoid(a) = 0.5 + 0.5 tanh(0.5 a): one tanh, never an overflowing exp
    np.tanh(rz, out=rz)
    rz *= 0.5
    rz += 0.5
    r, z, n = gates
    hn = ha[:, 2 * H :] + b_hn
    np.multiply(r, hn, out=n)
    n += xa[:, 2 * H :]
    np.tanh(n, out=n)
    h_next = h_prev - n  # (1 - z) n + z h_prev = n + z (h_prev - n)
    h_next *= z
    h_next += n
    return h_next, gates, hn


def gru_pointwise_backward(dh_next, h_prev, gates, hn):
    """:func:`seqlab.gru.gru_pointwise_backward`, fused: ``(dxa, dha: (N, 3H), dh_prev_direct: (N, H))``."""
    N, H = h_prev.shape
    r, z, n = gates
    one_minus_z = 1 - z
    da_n = n * n  # dh (1 - z) (1 - n^2)
    np.subtract(1, da_n, out=da_n)
    da_n *= one_minus_z
    da_n *= dh_next
    da_z = h_prev - n  # dh (h_prev - n) z (1 - z)
    da_z *= dh_next
    da_z *= z
    da_z *= one_minus_z
    da_r = 1 - r  # da_n hn r (1 - r)
    da_r *= r
    da_r *= hn
    da_r *= da_n
    dxa = np.empty((N, 3 * H), da_n.dtype)
    dxa_gates = _gate_major(dxa, 3)
    dxa_gates[0], dxa_gates[1], dxa_gates[2] = da_r, da_z, da_n
    dha = dxa.copy()
    dha[:, 2 * H :] *= r
    return dxa, dha, dh_next * z


def time_gru_forward(xs, Wx, Wh, b, b_hn, h0, workspace=None):
    """:func:`seqlab.gru.time_gru_forward`, fused: ``xs: (N, T, D) -> (hs: (N, T, H), cache)``;
    ``workspace`` as in :func:`time_lstm_forward`."""
    N, T, D = xs.shape
    H = Wh.shape[0]
    dtype = np.result_type(xs, Wx)
    xs_flat = _time_major(xs, workspace, dtype)
    xas = np.matmul(xs_flat, Wx, out=_buffer(workspace, "xas", (T * N, 3 * H), dtype))
    xas += b
    xas = xas.reshape(T, N, 3 * H)
    gates = _buffer(workspace, "gates", (T, 3, N, H), dtype)
    hs = _buffer(workspace, "hs", (T + 1, N, H), dtype)  # hs[t + 1] = h_t, hs[0] = h0
    hns = _buffer(workspace, "hns", (T, N, H), dtype)
    ha = _buffer(workspace, "ha", (N, 3 * H), dtype)
    hs[0] = h0
    for t in range(T):
        np.matmul(hs[t], Wh, out=ha)
        rz, n = gates[t, :2], gates[t, 2]
        ha_rz = ha[:, : 2 * H]
        ha_rz += xas[t, :, : 2 * H]
        np.copyto(rz, _gate_major(ha_rz, 2))
        rz *= 0.5  # sigmoid(a) = 0.5 + 0.5 tanh(0.5 a): one tanh for r and z
        np.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5
        r, z = rz
        np.add(ha[:, 2 * H :], b_hn, out=hns[t])  # h_prev W_hn + b_hn
        np.multiply(r, hns[t], out=n)
        n += xas[t, :, 2 * H :]
        np.tanh(n, out=n)
        h = hs[t + 1]
        np.subtract(hs[t], n, out=h)  # (1 - z) n + z h_prev = n + z (h_prev - n)
        h *= z
        h += n
    return _batch_major(hs[1:].reshape(T * N, H), N, T), (xs_flat, hs, gates, hns)


def time_gru_backward(dhs, dh_last, cache, Wx, Wh, grads=None, workspace=None):
    """:func:`seqlab.gru.time_gru_backward`, fused: ``(dxs, dh0, dWx, dWh, db, db_hn)``.

    ``grads``: four arrays ``[dWx, dWh, db, db_hn]`` to write the parameter gradients into;
    ``workspace`` as in :func:`time_lstm_backward`."""
    xs_flat, hs, gates, hns = cache
    T, N, H = hns.shape
    D = xs_flat.shape[-1]
    dtype = np.result_type(dhs, Wx)
    # dL/d(state-side pre-activations) [da_r, da_z, r da_n] of every step, and da_n apart: the
    # input side of n gets da_n, the state side r da_n (r scales h_prev W_hn + b_hn only).
    dhas = _buffer(workspace, "dhas", (T, N, 3 * H), dtype)
    dans = _buffer(workspace, "dans", (T, N, H), dtype)
    dh = np.zeros((N, H), dtype) if dh_last is None else np.array(dh_last, dtype)  # from step t + 1
    dh_t = _buffer(workspace, "dh_t", (N, H), dtype)
    one_minus_z = _buffer(workspace, "one_minus_z", (N, H), dtype)
    direct = _buffer(workspace, "direct", (N, H), dtype)
    step = _buffer(workspace, "step", (3, N, H), dtype)
    Wh_T = _transpose(Wh, workspace)  # BLAS is faster on a contiguous transpose than on a view
    dhs_t = _buffer(workspace, "dhs_t", (T, N, H), dtype)
    dhs_t[...] = dhs.transpose(1, 0, 2)  # time-major: step t's rows contiguous
    for t in reversed(range(T)):
        r, z, n = gates[t]
        h_prev, hn, da_n = hs[t], hns[t], dans[t]
        da_r, da_z, dha_n = step
        np.add(dhs_t[t], dh, out=dh_t)
        np.subtract(1, z, out=one_minus_z)
        np.multiply(n, n, out=da_n)  # da_n = dh (1 - z) (1 - n^2)
        np.subtract(1, da_n, out=da_n)
        da_n *= one_minus_z
        da_n *= dh_t
        np.subtract(h_prev, n, out=da_z)  # da_z = dh (h_prev - n) z (1 - z)
        da_z *= dh_t
        da_z *= z
        da_z *= one_minus_z
        np.subtract(1, r, out=da_r)  # da_r = da_n hn r (1 - r)
        da_r *= r
        da_r *= hn
        da_r *= da_n
        np.multiply(da_n, r, out=dha_n)
        np.copyto(_gate_major(dhas[t], 3), step)
        np.multiply(dh_t, z, out=direct)  # the z h_prev path of the mix
        np.matmul(dhas[t], Wh_T, out=dh)
        dh += direct
    dhas_flat, dans_flat = dhas.reshape(T * N, 3 * H), dans.reshape(T * N, H)
    if grads is None:
        grads = [np.empty(shape, dtype) for shape in (Wx.shape, Wh.shape, (3 * H,), (H,))]
    dWx, dWh, db, db_hn = grads
    # The input side: [da_r, da_z] shared with the state side, and da_n.
    np.matmul(xs_flat.T, dhas_flat[:, : 2 * H], out=dWx[:, : 2 * H])
    np.matmul(xs_flat.T, dans_flat, out=dWx[:, 2 * H :])
    _column_sums(dhas_flat[:, : 2 * H], db[: 2 * H], workspace)
    _column_sums(dans_flat, db[2 * H :], workspace)
    np.matmul(hs[:-1].reshape(T * N, H).T, dhas_flat, out=dWh)  # step t read h_{t-1} = hs[t]
    _column_sums(dhas_flat[:, 2 * H :], db_hn, workspace)
    dxs_flat = np.matmul(dhas_flat[:, : 2 * H], Wx[:, : 2 * H].T,
                         out=_buffer(workspace, "dxs_flat", (T * N, D), dtype))
    dxs_flat += dans_flat @ Wx[:, 2 * H :].T
    return _batch_major(dxs_flat, N, T), dh, dWx, dWh, db, db_hn
