"""The from-scratch NumPy layers against PyTorch on the CPU: forward plus backward, float32, one thread.

Each case builds a NumPy layer and the ``torch.nn`` module with the *same* weights (through
:mod:`seqlab.convert`), checks once that both compute the same outputs and input gradients (so that
we time the same computation), then times one training step of each, forward and backward with a
fixed upstream gradient, **interleaved**: NumPy, torch, NumPy, torch... so that a change of load on
a shared machine hits both sides alike. We report the median and the best of k runs of each.

The LSTM and the GRU have two rows each, at two sizes: *the code the book shows* (the time layer
with ``fused=False``: ``seqlab.lstm.time_lstm_forward`` and friends, written as the equations) and
*the fast path* (the default, ``seqlab.fused``'s twins of those functions), timed in the same
interleaved runs against the same ``nn.LSTM`` or ``nn.GRU``. Each row has its own target: at most
1.5x torch's time for the shown code, 1.0x for the fast path, 1.3x for the other layers.

GFLOP/s counts the matmuls only (2 m n k each; the pointwise work is a few percent of it at these
sizes) and is compared with the machine's single-thread float32 matmul peak, measured here by one
large ``np.matmul``: the roofline of what a layer made of matmuls could reach.

Run it through ``python -m benchmarks.run`` (which pins every library to one thread before NumPy
is imported); the functions here assume that has been done.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch

from seqlab import convert
from seqlab.gru import TimeGRU
from seqlab.lstm import TimeLSTM
from seqlab.rnn import TimeRNN

try:  # seqlab.attention is newer than the recurrent layers; the bench runs without it
    from seqlab import attention as seqlab_attention
except ImportError:  # pragma: no cover - depends on the checkout
    seqlab_attention = None


@dataclass(frozen=True)
class Sizes:
    """The sizes of the comparison. N batch, T steps, D input features, H hidden units, heads for attention."""

    N: int = 32
    T: int = 35
    D: int = 128
    H: int = 128
    heads: int = 4


LAYER_TARGET = 1.3  # NumPy's time over torch's, at most, for a layer with one implementation
SHOWN_TARGET = 1.5  # the LSTM and GRU code the book shows
FAST_TARGET = 1.0  # their fast path, seqlab.fused
LARGE = {"D": 512, "H": 512}  # the second size of the LSTM and GRU rows (N and T unchanged)


@dataclass
class Timing:
    """Seconds of ``repeats`` interleaved runs of each side, and what they mean against torch and the peak."""

    name: str
    numpy_label: str
    torch_label: str
    gflop: float  # matmul work of one forward plus backward, in 10^9 floating-point operations
    numpy_seconds: list[float]
    torch_seconds: list[float]
    target: float = LAYER_TARGET  # NumPy's median time over torch's, at most

    @property
    def numpy_median(self) -> float:
        return statistics.median(self.numpy_seconds)

    @property
    def torch_median(self) -> float:
        return statistics.median(self.torch_seconds)

    @property
    def ratio(self) -> float:
        """NumPy's median time over torch's: 1.0 is parity; ``target`` is the most it may be."""
        return self.numpy_median / self.torch_median

    @property
    def best_ratio(self) -> float:
        return min(self.numpy_seconds) / min(self.torch_seconds)

    def gflops(self, side: str) -> float:
        """Achieved GFLOP/s of ``side`` ("numpy" or "torch") at its median time."""
        return self.gflop / (self.numpy_median if side == "numpy" else self.torch_median)


@dataclass
class Unavailable:
    """A row that could not be measured, and why (shown in the table instead of figures)."""

    name: str
    reason: str


@dataclass
class Case:
    """One comparison: two callables that each run forward + backward once, and their matmul work."""

    name: str
    numpy_label: str
    torch_label: str
    gflop: float
    numpy_step: Callable[[], object]
    torch_step: Callable[[], object]
    target: float = LAYER_TARGET


# -------------------------------------------------------------------------------------------------
# The peak


def matmul_peak_gflops(n: int = 2048, repeats: int = 5) -> float:
    """Best GFLOP/s of an ``(n, n) @ (n, n)`` float32 matmul (sgemm) over ``repeats`` runs: the roofline."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), np.float32)
    np.matmul(a, b, out=out)  # warm-up: page in the operands and the output
    best = min(_seconds(lambda: np.matmul(a, b, out=out)) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _seconds(step: Callable[[], object]) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


# -------------------------------------------------------------------------------------------------
# The cases


def _recurrent_gflop(sizes: Sizes, num_gates: int) -> float:
    """Forward: x Wx and h Wh for every step, 2 N T (D + H) GH. Backward: twice that (the input
    gradients and the weight gradients), so three forwards in all."""
    N, T, D, H = sizes.N, sizes.T, sizes.D, sizes.H
    return 3 * 2 * N * T * (D + H) * num_gates * H / 1e9


def _recurrent_cases(name: str, layers: dict, module: torch.nn.Module, num_gates: int, sizes: Sizes,
                     rng: np.random.Generator) -> list[Case]:
    """One case per NumPy layer in ``layers`` (``{row name: (layer, label, target)}``), all against the
    same ``module`` on the same inputs: their torch steps are one function, which
    :func:`time_together` runs once per round for all of them."""
    xs = rng.standard_normal((sizes.N, sizes.T, sizes.D), dtype=np.float32)
    dhs = rng.standard_normal((sizes.N, sizes.T, sizes.H), dtype=np.float32)
    xs_torch = torch.from_numpy(xs).requires_grad_(True)
    dhs_torch = torch.from_numpy(dhs)

    def torch_step():
        # set_to_none: torch then writes fresh gradients, as the NumPy layer overwrites its own,
        # instead of adding to the previous step's.
        module.zero_grad(set_to_none=True)
        xs_torch.grad = None
        hs, _ = module(xs_torch)
        hs.backward(dhs_torch)
        return xs_torch.grad

    cases = []
    for row, (layer, label, target) in layers.items():
        def numpy_step(layer=layer):
            layer.forward(xs)
            return layer.backward(dhs)

        _check_agreement(row, numpy_step, torch_step)
        cases.append(Case(row, label, f"nn.{type(module).__name__}", _recurrent_gflop(sizes, num_gates),
                          numpy_step, torch_step, target))
    return cases


def recurrent_cases(sizes: Sizes, seed: int = 0) -> list[Case]:
    """RNN, LSTM and GRU, each ``(N, T, D) -> (N, T, H)``, batch first, PyTorch's initialization;
    the LSTM and the GRU twice, the code the book shows and the fast path, and again at ``LARGE`` sizes."""
    rng = np.random.default_rng(seed)
    rnn = TimeRNN.init(sizes.D, sizes.H, rng)
    cases = _recurrent_cases("RNN", {"RNN": (rnn, "seqlab TimeRNN", LAYER_TARGET)},
                             convert.time_rnn_to_torch(rnn), 1, sizes, rng)
    large = replace(sizes, **LARGE)
    for size, suffix in ((sizes, ""), (large, f" at H={large.H}")):
        for name, time_layer, to_torch_module, num_gates in (
            ("LSTM", TimeLSTM, convert.time_lstm_to_torch, 4),
            ("GRU", TimeGRU, convert.time_gru_to_torch, 3),
        ):
            shown = time_layer.init(size.D, size.H, rng, fused=False)
            fast = time_layer(*shown.params)  # the same weights; fused=True is the default
            label = f"seqlab {time_layer.__name__}"
            layers = {f"{name}{suffix}, shown code": (shown, f"{label}(fused=False)", SHOWN_TARGET),
                      f"{name}{suffix}, fast path": (fast, f"{label}(fused=True)", FAST_TARGET)}
            cases += _recurrent_cases(name, layers, to_torch_module(shown), num_gates, size, rng)
    return cases


def attention_cases(sizes: Sizes, seed: int = 0) -> list[Case | Unavailable]:
    """Scaled dot-product attention on (N, heads, T, H / heads) and multi-head self-attention on (N, T, H)."""
    if seqlab_attention is None:
        reason = "not available yet: seqlab.attention is not in this checkout"
        return [Unavailable("attention (SDPA)", reason), Unavailable("multi-head attention", reason)]
    N, T, D, h = sizes.N, sizes.T, sizes.H, sizes.heads
    rng = np.random.default_rng(seed)

    # Scaled dot-product attention alone: q k^T, then weights v; backward twice that.
    q, k, v, dout = (rng.standard_normal((N, h, T, D // h), dtype=np.float32) for _ in range(4))
    q_t, k_t, v_t = (torch.from_numpy(a).requires_grad_(True) for a in (q, k, v))
    dout_t = torch.from_numpy(dout)

    def numpy_sdpa():
        out, cache = seqlab_attention.scaled_dot_product_attention(q, k, v)
        return seqlab_attention.scaled_dot_product_attention_backward(dout, cache)

    def torch_sdpa():
        for tensor in (q_t, k_t, v_t):
            tensor.grad = None
        torch.nn.functional.scaled_dot_product_attention(q_t, k_t, v_t).backward(dout_t)
        return q_t.grad, k_t.grad, v_t.grad

    _check_agreement("attention (SDPA)", numpy_sdpa, torch_sdpa)
    sdpa_gflop = 3 * 2 * (2 * N * T * T * D) / 1e9
    cases = [Case("attention (SDPA)", "seqlab scaled_dot_product_attention",
                  "F.scaled_dot_product_attention", sdpa_gflop, numpy_sdpa, torch_sdpa)]

    # Multi-head self-attention: the projections in (3D) and out (D), and SDPA on h heads.
    mha = seqlab_attention.MultiHeadAttention.init(D, h, rng)
    module = convert.mha_to_torch(mha)
    x = rng.standard_normal((N, T, D), dtype=np.float32)
    dy = rng.standard_normal((N, T, D), dtype=np.float32)
    x_t, dy_t = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(dy)

    def numpy_mha():
        mha.forward(x)
        return mha.backward(dy)

    def torch_mha():
        module.zero_grad(set_to_none=True)
        x_t.grad = None
        # need_weights=False lets torch take its fused path; ours keeps the weights for plots,
        # a cost we choose to count.
        out, _ = module(x_t, x_t, x_t, need_weights=False)
        out.backward(dy_t)
        return x_t.grad

    _check_agreement("multi-head attention", numpy_mha, torch_mha)
    mha_gflop = 3 * (2 * N * T * D * 4 * D + 2 * (2 * N * T * T * D)) / 1e9
    cases.append(Case("multi-head attention", "seqlab MultiHeadAttention", "nn.MultiheadAttention",
                      mha_gflop, numpy_mha, torch_mha))
    return cases


def recurrent_matmul_cases(sizes: Sizes, seed: int = 0) -> list[Case]:
    """:func:`matmul_cases` at ``sizes`` for the RNN, the LSTM and the GRU, and at ``LARGE`` sizes
    for the LSTM and the GRU: the profile of every recurrent row."""
    large = replace(sizes, **LARGE)
    return matmul_cases(sizes, ("RNN", "LSTM", "GRU"), seed) + matmul_cases(large, ("LSTM", "GRU"), seed,
                                                                            suffix=f" at H={large.H}")


def matmul_cases(sizes: Sizes, names: tuple[str, ...], seed: int = 0, suffix: str = "") -> list[Case]:
    """The profile of a recurrent row: its matrix products alone, in NumPy and in torch.

    One forward plus backward of a recurrent layer with G gate blocks (RNN 1, LSTM 4, GRU 3) is,
    in products: ``(T N, D) @ (D, G H)`` for every step's input at once, T products
    ``(N, H) @ (H, G H)`` for the recurrence, T products ``(N, G H) @ (G H, H)`` back through it,
    and after the loop the weight and input gradients, ``(D, T N) @ (T N, G H)``,
    ``(H, T N) @ (T N, G H)`` and ``(T N, G H) @ (G H, D)``. Timing these alone, with the same
    shapes on both sides, splits a layer's time into what its BLAS costs (NumPy's OpenBLAS
    against torch's MKL) and everything else (the pointwise gate arithmetic and the Python or
    autograd around it): the first thing to know about a row that misses its target.
    """
    N, T, D, H = sizes.N, sizes.T, sizes.D, sizes.H
    rng = np.random.default_rng(seed)
    cases = []
    for name in names:
        gates = {"RNN": 1, "LSTM": 4, "GRU": 3}[name]
        G = gates * H
        xs, hs = rng.standard_normal((T * N, D), dtype=np.float32), rng.standard_normal((T * N, H), dtype=np.float32)
        das = rng.standard_normal((T * N, G), dtype=np.float32)
        Wx, Wh = rng.standard_normal((D, G), dtype=np.float32), rng.standard_normal((H, G), dtype=np.float32)
        h, da = hs[:N].copy(), das[:N].copy()
        arrays = tuple(torch.from_numpy(a) for a in (xs, hs, das, Wx, Wh, h, da))

        def products(xs, hs, das, Wx, Wh, h, da, T=T):
            xs @ Wx
            for _ in range(T):
                h @ Wh
            for _ in range(T):
                da @ Wh.T
            xs.T @ das, hs.T @ das, das @ Wx.T

        cases.append(Case(f"{name}{suffix} matmuls", "NumPy @ (OpenBLAS)", "torch @ (MKL)", _recurrent_gflop(sizes, gates),
                          lambda a=(xs, hs, das, Wx, Wh, h, da): products(*a),
                          lambda a=arrays: products(*a)))
    return cases


def _check_agreement(name: str, numpy_step, torch_step) -> None:
    """Both sides must compute the same input gradients, or the timings compare different work."""
    numpy_grads, torch_grads = numpy_step(), torch_step()
    if not isinstance(numpy_grads, tuple):
        numpy_grads, torch_grads = (numpy_grads,), (torch_grads,)
    for ours, theirs in zip(numpy_grads, torch_grads):
        torch.testing.assert_close(torch.from_numpy(np.ascontiguousarray(ours)), theirs.detach(),
                                   rtol=1e-4, atol=1e-4, msg=lambda m: f"{name}: NumPy and torch disagree, so "
                                   f"their timings would compare different work: {m}")


# -------------------------------------------------------------------------------------------------
# Timing


def time_case(case: Case, repeats: int, warmup: int = 2) -> Timing:
    """``repeats`` interleaved runs of each side after ``warmup`` untimed ones; which side goes
    first alternates, so that neither always runs with warm caches left by the other."""
    for _ in range(warmup):
        case.numpy_step()
        case.torch_step()
    numpy_seconds, torch_seconds = [], []
    for i in range(repeats):
        if i % 2 == 0:
            numpy_seconds.append(_seconds(case.numpy_step))
            torch_seconds.append(_seconds(case.torch_step))
        else:
            torch_seconds.append(_seconds(case.torch_step))
            numpy_seconds.append(_seconds(case.numpy_step))
    return Timing(case.name, case.numpy_label, case.torch_label, case.gflop, numpy_seconds, torch_seconds,
                  case.target)


def time_together(cases: list[Case], repeats: int, warmup: int = 2) -> list[Timing]:
    """Cases that share their torch side (one function: the same module on the same inputs), timed
    in the same rounds: each round runs every NumPy side and the torch side once, in an order that
    rotates from round to round, so that every row meets the same load. The rows share the torch times."""
    steps = [case.numpy_step for case in cases] + [cases[0].torch_step]
    for _ in range(warmup):
        for step in steps:
            step()
    seconds: list[list[float]] = [[] for _ in steps]
    for i in range(repeats):
        for k in range(len(steps)):
            j = (i + k) % len(steps)
            seconds[j].append(_seconds(steps[j]))
    return [Timing(case.name, case.numpy_label, case.torch_label, case.gflop, seconds[j], seconds[-1], case.target)
            for j, case in enumerate(cases)]


def run(sizes: Sizes = Sizes(), repeats: int = 30, seed: int = 0) -> list[Timing | Unavailable]:
    """Every layer's timing, in the table's order: RNN, LSTM, GRU (each shown and fast, at two
    sizes), attention."""
    timings: list[Timing | Unavailable] = []
    groups: dict[int, list[Case]] = {}  # the cases that share a torch step, in order
    for case in recurrent_cases(sizes, seed):
        groups.setdefault(id(case.torch_step), []).append(case)
    for group in groups.values():
        timings += time_together(group, repeats)
    for case in attention_cases(sizes, seed):
        timings.append(case if isinstance(case, Unavailable) else time_case(case, repeats))
    return timings
