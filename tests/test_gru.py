"""Chapter 5's GRU layers (PyTorch's variant): gradient checks in float64, agreement with nn.GRU and
nn.GRUCell on the same weights, the separate bias b_hn, state handling and error messages. Both
implementations of the time layer are checked: the code the chapter shows (``fused=False``) and
the fast path of ``seqlab.fused`` that training uses, which must also equal the shown code."""
import numpy as np
import pytest
import torch

from seqlab.convert import (
    gru_cell_to_torch,
    time_gru_to_torch,
    time_lstm_to_torch,
    to_torch,
    torch_gru_cell_grads_as_numpy,
    torch_gru_cell_to_numpy,
    torch_gru_grads_as_numpy,
    torch_gru_to_numpy,
)
from seqlab import fused
from seqlab.gradcheck import numerical_gradient, relative_error
from seqlab.gru import (
    GRU,
    BidirectionalGRU,
    StackedGRU,
    TimeGRU,
    gru_pointwise_backward,
    gru_pointwise_forward,
    time_gru_backward,
    time_gru_forward,
)
from seqlab.lstm import sigmoid

N, T, D, H = 2, 5, 3, 4
EPS = 1e-5  # central differences are most accurate near the cube root of float64's epsilon (see test_lstm.py)
CONFIGS = {"time": (1, False), "bidirectional": (1, True), "stacked": (2, False), "stacked-bidirectional": (2, True)}
# The time layers run seqlab.fused's kernels by default; fused=False runs the code the chapter shows.
IMPLEMENTATIONS = {"fused": True, "shown": False}
DTYPES = {"float32": np.float32, "float64": np.float64}


def build(num_layers: int, bidirectional: bool, rng, dtype=np.float32, fused: bool = True):
    """The NumPy layer of ``nn.GRU(D, H, num_layers, bidirectional=bidirectional)``."""
    if num_layers > 1:
        layer = StackedGRU.init(D, H, num_layers, rng, bidirectional=bidirectional, dtype=dtype)
    else:
        layer = (BidirectionalGRU if bidirectional else TimeGRU).init(D, H, rng, dtype)
    for time_layer in time_layers(layer):
        time_layer.fused = fused
    return layer


def time_layers(layer) -> list[TimeGRU]:
    """The TimeGRUs inside a TimeGRU, a BidirectionalGRU or a StackedGRU of either."""
    if isinstance(layer, TimeGRU):
        return [layer]
    if isinstance(layer, BidirectionalGRU):
        return [layer.forward_layer, layer.backward_layer]
    return [t for sub in layer.layers for t in time_layers(sub)]


def own_state(states: np.ndarray) -> np.ndarray:
    return states[0] if len(states) == 1 else states


def random(rng, *shape, dtype=np.float32) -> np.ndarray:
    return rng.standard_normal(shape).astype(dtype)


def assert_same(ours: np.ndarray, theirs, name: str = "", **tolerances) -> None:
    theirs = theirs.detach() if isinstance(theirs, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(theirs))
    torch.testing.assert_close(torch.from_numpy(np.ascontiguousarray(ours)), theirs, msg=lambda m: f"{name}: {m}", **tolerances)


def gradient_errors(layer, run, dout, inputs: dict, analytic: dict) -> dict[str, float]:
    def loss() -> float:
        return float(np.sum(run() * dout))
    return {name: relative_error(analytic[name], numerical_gradient(loss, inputs[name], eps=EPS)) for name in analytic}


def test_gru_step_gradients():
    rng = np.random.default_rng(0)
    layer = GRU.init(D, H, rng, dtype=np.float64)
    x, h_prev, dh_next = random(rng, N, D, dtype=np.float64), random(rng, N, H, dtype=np.float64), random(rng, N, H, dtype=np.float64)
    layer.forward(x, h_prev)
    analytic = dict(zip(("x", "h_prev"), layer.backward(dh_next)))
    analytic |= {name: g.copy() for name, g in zip(layer.param_names, layer.grads)}
    inputs = {"x": x, "h_prev": h_prev, **dict(zip(layer.param_names, layer.params))}
    errors = gradient_errors(layer, lambda: layer.forward(x, h_prev), dh_next, inputs, analytic)
    assert set(errors) == {"x", "h_prev", "Wx", "Wh", "b", "b_hn"}
    assert max(errors.values()) <= 1e-7, errors


def test_gru_step_by_hand_and_why_b_hn_stays_apart():
    """H = 1 and D = 1 with Wx = 0: every gate reads only h_prev = 1 through Wh and the biases."""
    Wh = np.array([[0.0, np.log(3), 2.0]])  # r, z, n
    b, b_hn = np.array([0.0, 0.0, 0.5]), np.array([1.0])
    layer = GRU(np.zeros((1, 3)), Wh, b, b_hn)
    r, z = 0.5, 0.75  # sigmoid(0), sigmoid(log 3)
    n = np.tanh(0.5 + r * (2.0 + 1.0))
    np.testing.assert_allclose(layer.forward(np.zeros((1, 1)), np.ones((1, 1))), [[(1 - z) * n + z * 1.0]], rtol=1e-12)
    # Moving b_hn into the n part of b would add it unscaled by r: a different step.
    merged = GRU(np.zeros((1, 3)), Wh, b + np.array([0.0, 0.0, 1.0]), np.zeros(1))
    assert not np.allclose(merged.forward(np.zeros((1, 1)), np.ones((1, 1))), layer.forward(np.zeros((1, 1)), np.ones((1, 1))))


def test_gru_step_matches_nn_gru_cell():
    rng = np.random.default_rng(1)
    layer = GRU.init(D, H, rng)
    cell = gru_cell_to_torch(layer)
    assert cell.weight_ih.shape == (3 * H, D)
    x, h_prev, dh_next = random(rng, N, D), random(rng, N, H), random(rng, N, H)
    h_next = layer.forward(x, h_prev)
    dx, dh_prev = layer.backward(dh_next)
    t_x, t_h = to_torch(x, requires_grad=True), to_torch(h_prev, requires_grad=True)
    t_h_next = cell(t_x, t_h)
    t_h_next.backward(to_torch(dh_next))
    assert_same(h_next, t_h_next, "h_next")
    assert_same(dx, t_x.grad, "dx")
    assert_same(dh_prev, t_h.grad, "dh_prev")
    for name, ours, theirs in zip(layer.param_names, layer.grads, torch_gru_cell_grads_as_numpy(cell), strict=True):
        assert_same(ours, theirs, name)
    assert_same(cell.bias_hh.grad[: 2 * H], cell.bias_ih.grad[: 2 * H], "r and z halves of the two biases")
    for ours, back in zip(layer.params, torch_gru_cell_to_numpy(cell).params):
        np.testing.assert_array_equal(ours, back)


@pytest.mark.parametrize("fused", IMPLEMENTATIONS.values(), ids=IMPLEMENTATIONS.keys())
@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_gradients_with_initial_state_and_final_state_gradient(config, fused):
    num_layers, bidirectional = config
    rng = np.random.default_rng(2)
    layer = build(num_layers, bidirectional, rng, np.float64, fused=fused)
    S = num_layers * (2 if bidirectional else 1)
    xs = random(rng, N, T, D, dtype=np.float64)
    h0, dh_last = (own_state(random(rng, S, N, H, dtype=np.float64)) for _ in range(2))

    def run():
        layer.set_state(h0)
        return layer.forward(xs)

    dhs = random(rng, *run().shape, dtype=np.float64)

    def loss() -> float:
        return float(np.sum(run() * dhs) + np.sum(layer.final_hidden_states() * dh_last))

    loss()
    analytic = {"xs": layer.backward(dhs, dh_last), "h0": layer.dh.copy()}
    analytic |= {name: g.copy() for name, g in zip(layer.param_names, layer.grads)}
    inputs = {"xs": xs, "h0": h0, **dict(zip(layer.param_names, layer.params))}
    errors = {name: relative_error(analytic[name], numerical_gradient(loss, inputs[name], eps=EPS)) for name in analytic}
    assert max(errors.values()) <= 1e-6, errors


@pytest.mark.parametrize("fused", IMPLEMENTATIONS.values(), ids=IMPLEMENTATIONS.keys())
@pytest.mark.parametrize("batch_first", [True, False], ids=["batch_first", "time_first"])
@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_matches_nn_gru_outputs_h_n_and_every_gradient(config, batch_first, fused):
    num_layers, bidirectional = config
    rng = np.random.default_rng(3)
    layer = build(num_layers, bidirectional, rng, fused=fused)
    module = time_gru_to_torch(layer, batch_first=batch_first)
    S = num_layers * (2 if bidirectional else 1)
    xs, h0, dh_n = random(rng, N, T, D), random(rng, S, N, H), random(rng, S, N, H)
    dhs = random(rng, N, T, layer.output_size)

    layer.set_state(own_state(h0))
    hs = layer.forward(xs)
    dxs = layer.backward(dhs, own_state(dh_n))

    swap = (lambda a: a) if batch_first else (lambda a: a.transpose(0, 1) if isinstance(a, torch.Tensor) else a.transpose(1, 0, 2))
    t_xs, t_h0 = to_torch(swap(xs), requires_grad=True), to_torch(h0, requires_grad=True)
    t_hs, t_h_n = module(t_xs, t_h0)
    torch.autograd.backward([t_hs, t_h_n], [to_torch(swap(dhs)), to_torch(dh_n)])

    assert_same(hs, swap(t_hs), "hs")
    assert_same(layer.final_hidden_states(), t_h_n, "h_n")
    assert_same(dxs, swap(t_xs.grad), "dxs")
    assert_same(layer.dh.reshape(S, N, H), t_h0.grad, "dh0")
    torch_grads = torch_gru_grads_as_numpy(module)
    assert len(torch_grads) == len(layer.grads) == 4 * S
    for name, ours, theirs in zip(layer.param_names, layer.grads, torch_grads):
        assert_same(ours, theirs, name, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_torch_to_numpy_to_torch_round_trip(config, bias):
    num_layers, bidirectional = config
    torch.manual_seed(0)
    module = torch.nn.GRU(D, H, num_layers, batch_first=True, bidirectional=bidirectional, bias=bias)
    layer = torch_gru_to_numpy(module)
    assert type(layer) is {(1, False): TimeGRU, (1, True): BidirectionalGRU}.get(config, StackedGRU)
    again = time_gru_to_torch(layer)
    xs = torch.randn(N, T, D)
    with torch.no_grad():
        (hs, h_n), (hs_again, h_n_again) = module(xs), again(xs)
    torch.testing.assert_close(hs_again, hs)
    torch.testing.assert_close(h_n_again, h_n)
    for ours, back in zip(layer.params, torch_gru_to_numpy(again).params):
        np.testing.assert_array_equal(ours, back)


@pytest.mark.parametrize("fused", IMPLEMENTATIONS.values(), ids=IMPLEMENTATIONS.keys())
def test_gates_stateful_carry_and_truncated_bptt(fused):
    rng = np.random.default_rng(4)
    layer = TimeGRU.init(D, H, rng, dtype=np.float64, stateful=True, fused=fused)
    xs = random(rng, N, T, D, dtype=np.float64)
    whole = TimeGRU(*layer.params).forward(xs)
    first = layer.forward(xs[:, :3])
    boundary = layer.h.copy()
    second = layer.forward(xs[:, 3:])
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, rtol=1e-12)
    assert layer.gates.shape == (N, 2, 3 * H) and ((layer.gate("z") > 0) & (layer.gate("z") < 1)).all()
    Wx, _, b, _ = layer.params
    np.testing.assert_allclose(layer.gate("r")[:, 0], sigmoid(xs[:, 3] @ Wx[:, :H] + b[:H] + boundary @ layer.params[1][:, :H]), rtol=1e-12)
    np.testing.assert_array_equal(layer.gates[..., H : 2 * H], layer.gate("z"))
    with pytest.raises(ValueError):  # read-only: a plot cannot change what it shows
        layer.gates[0, 0, 0] = 1.0

    dhs = random(rng, N, 2, H, dtype=np.float64)
    dxs = layer.backward(dhs)
    constant_start = TimeGRU(*layer.params)
    constant_start.set_state(boundary)
    constant_start.forward(xs[:, 3:])
    np.testing.assert_allclose(dxs, constant_start.backward(dhs), rtol=1e-12)
    for ours, expected in zip(layer.grads + [layer.dh], constant_start.grads + [constant_start.dh]):
        np.testing.assert_allclose(ours, expected, rtol=1e-12)
    layer.reset_state()
    np.testing.assert_allclose(layer.forward(xs[:, :3]), whole[:, :3], rtol=1e-12)


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_float32_in_float32_out(config):
    rng = np.random.default_rng(5)
    layer = build(*config, rng)
    hs = layer.forward(random(rng, N, T, D))
    dxs = layer.backward(np.ones_like(hs))
    assert hs.dtype == dxs.dtype == layer.final_hidden_states().dtype == layer.dh.dtype == np.float32
    assert {g.dtype for g in layer.grads} == {np.dtype(np.float32)}


def test_wrong_shapes_and_kinds_are_refused():
    rng = np.random.default_rng(6)
    with pytest.raises(ValueError, match=r"b_hn of shape \(H,\) = \(4,\), got \(12,\)"):
        TimeGRU(np.zeros((D, 3 * H)), np.zeros((H, 3 * H)), np.zeros(3 * H), np.zeros(3 * H))
    with pytest.raises(ValueError, match=r"Wh of shape \(H, 3H\) = \(4, 12\)"):
        GRU(np.zeros((D, 3 * H)), np.zeros((H, 4 * H)), np.zeros(3 * H), np.zeros(H))
    with pytest.raises(ValueError, match=r"xs of shape \(N, T, D\) = \(N, T, 3\)"):
        TimeGRU.init(D, H, rng).forward(np.zeros((N, T, D + 1), np.float32))
    with pytest.raises(ValueError, match="has the states \\('h',\\): it takes no dc_last"):
        layer = BidirectionalGRU.init(D, H, rng)
        layer.forward(np.zeros((N, T, D), np.float32))
        layer.backward(np.zeros((N, T, 2 * H), np.float32), dc_last=np.zeros((2, N, H)))
    with pytest.raises(ValueError, match="an nn.LSTM is made of TimeLSTM layers, this layer holds a TimeGRU"):
        time_lstm_to_torch(TimeGRU.init(D, H, rng))
    with pytest.raises(ValueError, match="a GRU has the gates"):
        TimeGRU.init(D, H, rng).gate("f")


# --- the fast path: seqlab.fused computes what the shown code computes ------------------------

def assert_all_close(ours, expected, names) -> None:
    """``torch.testing.assert_close`` at its default tolerances for the dtype, array by array."""
    for name, a, b in zip(names, ours, expected, strict=True):
        torch.testing.assert_close(torch.from_numpy(np.array(a)), torch.from_numpy(np.array(b)),
                                   msg=lambda m, name=name: f"{name}: {m}")


@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
def test_fused_pointwise_step_equals_the_shown_step(dtype):
    rng = np.random.default_rng(20)
    xa, ha = 3 * random(rng, N, 3 * H, dtype=dtype), 3 * random(rng, N, 3 * H, dtype=dtype)
    h_prev, b_hn, dh_next = random(rng, N, H, dtype=dtype), random(rng, H, dtype=dtype), random(rng, N, H, dtype=dtype)
    shown, fast = gru_pointwise_forward(xa, ha, h_prev, b_hn), fused.gru_pointwise_forward(xa, ha, h_prev, b_hn)
    assert_all_close(fast, shown, ["h_next", "gates", "hn"])
    assert fast[0].dtype == dtype
    assert_all_close(fused.gru_pointwise_backward(dh_next, h_prev, fast[1], fast[2]),
                     gru_pointwise_backward(dh_next, h_prev, shown[1], shown[2]), ["dxa", "dha", "dh_prev_direct"])


@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
def test_fused_time_gru_equals_the_shown_code_forward_and_every_gradient(dtype):
    rng = np.random.default_rng(21)
    N_, T_, D_, H_ = 5, 7, 6, 8
    Wx, Wh = 0.5 * random(rng, D_, 3 * H_, dtype=dtype), 0.5 * random(rng, H_, 3 * H_, dtype=dtype)
    b, b_hn = random(rng, 3 * H_, dtype=dtype), random(rng, H_, dtype=dtype)
    xs, h0 = random(rng, N_, T_, D_, dtype=dtype), random(rng, N_, H_, dtype=dtype)
    dhs, dh_last = random(rng, N_, T_, H_, dtype=dtype), random(rng, N_, H_, dtype=dtype)

    hs, cache = time_gru_forward(xs, Wx, Wh, b, b_hn, h0)
    fast_hs, fast_cache = fused.time_gru_forward(xs, Wx, Wh, b, b_hn, h0, workspace={})
    assert_all_close([fast_hs, *fast_cache], [hs, *cache], ["hs", "xs_flat", "hs (all)", "gates", "hns"])
    assert fast_hs.dtype == dtype and fast_hs.flags.c_contiguous
    names = ["dxs", "dh0", "dWx", "dWh", "db", "db_hn"]
    expected = time_gru_backward(dhs, dh_last, cache, Wx, Wh)
    assert_all_close(fused.time_gru_backward(dhs, dh_last, fast_cache, Wx, Wh, workspace={}), expected, names)
    # Each backward also reads the other's cache: the two share its layout.
    assert_all_close(fused.time_gru_backward(dhs, dh_last, cache, Wx, Wh), expected, names)
    assert_all_close(time_gru_backward(dhs, dh_last, fast_cache, Wx, Wh), expected, names)
    grads = [np.full_like(p, np.nan) for p in (Wx, Wh, b, b_hn)]
    fast = fused.time_gru_backward(dhs, None, fast_cache, Wx, Wh, grads=grads)
    assert all(got is given for got, given in zip(fast[2:], grads))
    assert_all_close(fast, time_gru_backward(dhs, None, cache, Wx, Wh), names)


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_fused_and_shown_layers_agree_in_every_configuration(config):
    rng = np.random.default_rng(22)
    fast = build(*config, rng)
    shown = build(*config, np.random.default_rng(22), fused=False)
    xs = random(rng, N, T, D)
    dhs = random(rng, N, T, fast.output_size)
    assert_all_close([fast.forward(xs), fast.backward(dhs), *fast.grads],
                     [shown.forward(xs), shown.backward(dhs), *shown.grads], ["hs", "dxs", *fast.param_names])


def test_the_fused_layer_reuses_its_arrays_but_not_those_it_returns():
    rng = np.random.default_rng(23)
    layer = TimeGRU.init(D, H, rng, stateful=True)
    xs = random(rng, N, T, D)
    first = layer.forward(xs)
    kept = first.copy()
    dxs = layer.backward(np.ones_like(first))
    kept_dxs, z = dxs.copy(), layer.gate("z")
    layer.forward(xs)  # from the first call's last state: other numbers in the same arrays
    layer.backward(random(rng, N, T, H))
    np.testing.assert_array_equal(first, kept)
    np.testing.assert_array_equal(dxs, kept_dxs)
    assert not np.array_equal(z, layer.gate("z"))
