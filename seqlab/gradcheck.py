"""Numerical gradient checking, reused by every chapter.

Taught in: book/01_softmax_ce_kl.md

The check compares a layer's analytic gradients with central differences in float64. To test a
layer whose output is an array, it is turned into a scalar with a fixed random projection,
``L = sum(out * dout)``, so that ``dL/dout = dout`` exercises every output element at once.
The pass marks are those of CS231n: a relative error of at most 1e-7 for one step and 1e-6 for
a whole sequence.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """Largest elementwise ``|a - n| / max(|a|, |n|)``; entries where both are ~0 count as 0."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    if a.shape != n.shape:
        raise ValueError(f"cannot compare gradients of shapes {a.shape} and {n.shape}")
    scale = np.maximum(np.abs(a), np.abs(n))
    # Below 1e-12 both sides are round-off; dividing by them would turn noise into "100% error".
    err = np.where(scale > 1e-12, np.abs(a - n) / np.where(scale > 1e-12, scale, 1), 0.0)
    return float(err.max()) if err.size else 0.0


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the scalar ``f()`` with respect to ``x``, perturbed in place.

    ``x`` must be float64: with float32's 7 digits the difference quotient is mostly round-off.
    """
    if x.dtype != np.float64:
        raise TypeError(f"numerical gradients need float64 arrays, got {x.dtype}: cast with x.astype(np.float64)")
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)  # views: writing flat[i] changes x
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + eps
        plus = f()
        flat[i] = original - eps
        minus = f()
        flat[i] = original
        gflat[i] = (plus - minus) / (2 * eps)
    return grad


def check_layer_gradients(
    layer,
    inputs: Sequence[np.ndarray],
    seed: int = 0,
    forward: Callable | None = None,
) -> dict[str, float]:
    """Relative errors of a layer's ``backward`` against numerical gradients.

    layer:   an object of the layer protocol (``params``, ``grads``, ``forward``, ``backward``),
             holding float64 parameters.
    inputs:  the float64 arrays passed to ``forward``; gradients are checked for each of them
             (``backward`` returns one gradient, or a tuple of them, in the same order).
    forward: call used instead of ``layer.forward(*inputs)``, for layers with extra arguments.

    Returns ``{"input0": err, ..., "W": err, ...}``: parameters are named by the layer's
    ``param_names`` when it has them, else ``param0``, ``param1``, ...
    """
    run = forward or (lambda: layer.forward(*inputs))
    dout = np.random.default_rng(seed).standard_normal(np.shape(run()))

    def loss() -> float:
        return float(np.sum(run() * dout))

    run()
    dinputs = layer.backward(dout)
    if not isinstance(dinputs, tuple):
        dinputs = (dinputs,)
    analytic_params = [g.copy() for g in layer.grads]

    errors = {}
    for i, (x, dx) in enumerate(zip(inputs, dinputs)):
        errors[f"input{i}"] = relative_error(dx, numerical_gradient(loss, x))
    names = getattr(layer, "param_names", [f"param{i}" for i in range(len(layer.params))])
    for name, p, g in zip(names, layer.params, analytic_params):
        errors[name] = relative_error(g, numerical_gradient(loss, p))
    return errors
