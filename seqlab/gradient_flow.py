"""Measuring how gradients flow back through time in a tanh RNN.

Taught in: book/03_gradient_flow.md

Backpropagating from ``h_T`` to ``h_0`` multiplies T Jacobians. With row-vector states,
``h_t = tanh(h_{t-1} Wh + x_t Wx + b)``, the Jacobian of one step is

    dh_t / dh_{t-1} = diag(1 - h_t**2) Wh.T          (H, H): entry [i, j] = d h_t[i] / d h_{t-1}[j]

so ``dh_T/dh_0 = J_T ... J_1``. Its spectral norm (largest singular value) is the most that any
gradient arriving at ``h_T`` can be stretched on its way to ``h_0``. ``tanh' <= 1`` bounds it by
``sigma_max(Wh)**T``; over many steps it grows or shrinks at a rate set by the spectral radius.
"""
from __future__ import annotations

import numpy as np

from seqlab.rnn import TimeRNN


def singular_values(W: np.ndarray) -> np.ndarray:
    """The singular values of ``W: (H, H)``, largest first: how much W can stretch a vector."""
    return np.linalg.svd(np.asarray(W, dtype=np.float64), compute_uv=False)


def spectral_radius(W: np.ndarray) -> float:
    """``max |eigenvalue|`` of a square ``W``: the rate at which ``||W^T||`` grows per step as T grows.

    It never exceeds the largest singular value; the two are equal for normal matrices
    (symmetric, orthogonal), and can differ a lot for the others.
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"the spectral radius needs a square matrix (H, H), got shape {W.shape}")
    return float(np.max(np.abs(np.linalg.eigvals(W))))


def scaled_orthogonal(H: int, scale: float, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """``scale`` times a random orthogonal (H, H) matrix: every singular value, and the spectral radius, equal ``scale``.

    The clean control for an experiment: one number says how much every direction is stretched.
    """
    # QR of a Gaussian matrix; fixing the signs of R's diagonal makes Q uniform over the orthogonal group.
    Q, R = np.linalg.qr(rng.standard_normal((H, H)))
    Q *= np.sign(np.diag(R))
    return (scale * Q).astype(dtype)


def scaled_to_spectral_radius(W: np.ndarray, radius: float) -> np.ndarray:
    """``W`` rescaled so that its spectral radius is ``radius`` (its singular values scale alike)."""
    current = spectral_radius(W)
    if current == 0:
        raise ValueError("W is nilpotent (spectral radius 0): no scaling can give it another spectral radius")
    return (W * (radius / current)).astype(W.dtype)


def _state_and_inputs(layer: TimeRNN, xs: np.ndarray, h0: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(layer, TimeRNN):
        raise TypeError(f"jacobian_norms uses the tanh RNN's Jacobian formula, so it needs a TimeRNN, got "
                        f"{type(layer).__name__}; state_jacobian works for any layer with TimeRNN's interface")
    xs = np.asarray(xs, dtype=np.float64)
    if xs.ndim != 3 or xs.shape[2] != layer.input_size:
        raise ValueError(f"xs must have shape (N, T, D) = (N, T, {layer.input_size}), got {xs.shape}")
    N, H = xs.shape[0], layer.hidden_size
    h0 = np.zeros((N, H)) if h0 is None else np.asarray(h0, dtype=np.float64)
    if h0.shape != (N, H):
        raise ValueError(f"h0 must have shape (N, H) = ({N}, {H}), got {h0.shape}")
    return xs, h0


def jacobian_norms(
    layer: TimeRNN, xs: np.ndarray, h0: np.ndarray | None = None
) -> np.ndarray:
    """``||dh_t / dh_0||_2`` for t = 1..T and every sequence: ``xs: (N, T, D)
    -> (N, T)``.

    h0: (N, H), zeros by default. Computed in float64 from the product of the
    one-step Jacobians ``diag(1 - h_t**2) Wh.T``, accumulated forward in
    time; column ``t - 1`` holds the spectral norm of the product of the
    first t of them. The layer's state and caches are left as they were.
    """
    xs, h0 = _state_and_inputs(layer, xs, h0)
    Wx, Wh, b = (np.asarray(p, dtype=np.float64) for p in layer.params)
    N, T, _ = xs.shape
    H = layer.hidden_size
    # (N, H, H): dh_t/dh_0, starting at t = 0
    product = np.broadcast_to(np.eye(H), (N, H, H)).copy()
    norms = np.empty((N, T))
    h = h0
    for t in range(T):
        # the step of seqlab.rnn.rnn_step_forward, in float64
        h = np.tanh(h @ Wh + xs[:, t] @ Wx + b)
        # (N, H, H): diag(1 - h_t^2) Wh^T
        step_jacobian = (1 - h**2)[:, :, None] * Wh.T
        product = step_jacobian @ product
        # Dividing by the norm would keep the product inside float64's range
        # for very long T; the norms this course measures (10^-300 to 10^300)
        # fit without it.
        norms[:, t] = np.linalg.norm(product, ord=2, axis=(1, 2))
    return norms


def state_jacobian(layer, xs: np.ndarray, h0: np.ndarray) -> np.ndarray:
    """``dh_T / dh_0`` by backpropagation, for any layer with TimeRNN's
    interface: ``(N, H, H)``.

    xs: (N, T, D), h0: (N, H). Uses only ``set_state``, ``forward``,
    ``backward(dhs, dh_last)`` and ``dh``: each of the H rows of a sequence's
    Jacobian is the ``dh`` that backward returns for ``dh_last = e_i``, so
    the N sequences are repeated H times in one batch and one backward pass
    gives all rows at once. Entry ``[n, i, j]`` is ``d h_T[i] / d h_0[j]``
    for sequence n. The layer must not be stateful; its state is reset
    afterwards.
    """
    if getattr(layer, "stateful", False):
        raise ValueError(
            "state_jacobian needs a layer that is not stateful: its h0 is "
            "set explicitly"
        )
    N, T, D = xs.shape
    H = h0.shape[-1]
    # (N*H, T, D): row n*H + i is sequence n
    repeated_xs = np.repeat(xs, H, axis=0)
    layer.set_state(np.repeat(h0, H, axis=0))  # (N*H, H)
    hs = layer.forward(repeated_xs)
    # (N*H, H): row n*H + i is e_i
    unit_vectors = np.tile(np.eye(H, dtype=hs.dtype), (N, 1))
    layer.backward(np.zeros_like(hs), dh_last=unit_vectors)
    jacobian = layer.dh.reshape(N, H, H)
    layer.reset_state()
    return jacobian
