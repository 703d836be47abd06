"""Chapter 4's LSTM layers (one step, TimeLSTM, stacked and bidirectional LSTMs): gradient checks
in float64, agreement with nn.LSTM and nn.LSTMCell on the same weights, state handling, the
gate order of "Deep Learning from Scratch 2", and error messages. Both implementations of the time
layer are checked: the code the chapter shows (``fused=False``) and the fast path of
``seqlab.fused`` that training uses, which must also equal the shown code."""
import numpy as np
import pytest
import torch

from seqlab.convert import (
    lstm_cell_to_torch,
    lstm_weights_from_dlfs2,
    lstm_weights_to_dlfs2,
    time_lstm_to_torch,
    time_rnn_to_torch,
    to_torch,
    torch_lstm_cell_grads_as_numpy,
    torch_lstm_cell_to_numpy,
    torch_lstm_grads_as_numpy,
    torch_lstm_to_numpy,
)
from seqlab import fused
from seqlab.gradcheck import numerical_gradient, relative_error
from seqlab.lstm import (
    LSTM,
    BidirectionalLSTM,
    StackedLSTM,
    TimeLSTM,
    lstm_pointwise_backward,
    lstm_pointwise_forward,
    lstm_step_backward,
    lstm_step_forward,
    sigmoid,
    time_lstm_backward,
    time_lstm_forward,
)
from seqlab.rnn import Bidirectional, BidirectionalRNN, Stacked, StackedRNN, TimeRNN

N, T, D, H = 2, 5, 3, 4
# Central differences balance truncation (~eps^2) and round-off (~1e-16 / eps) errors near the cube
# root of float64's epsilon, 6e-6. With gradcheck's default 1e-6, round-off alone (1e-10) exceeds
# the 1e-7 relative mark on any gradient entry below 1e-3, and an LSTM step has many such entries.
EPS = 1e-5
# (num_layers, bidirectional) of the nn.LSTM each NumPy layer stands for.
CONFIGS = {"time": (1, False), "bidirectional": (1, True), "stacked": (2, False), "stacked-bidirectional": (2, True)}
# The time layers run seqlab.fused's kernels by default; fused=False runs the code the chapter shows.
IMPLEMENTATIONS = {"fused": True, "shown": False}


def build(num_layers: int, bidirectional: bool, rng, dtype=np.float32, fused: bool = True):
    """The NumPy layer of ``nn.LSTM(D, H, num_layers, bidirectional=bidirectional)``."""
    if num_layers > 1:
        layer = StackedLSTM.init(D, H, num_layers, rng, bidirectional=bidirectional, dtype=dtype)
    else:
        layer = (BidirectionalLSTM if bidirectional else TimeLSTM).init(D, H, rng, dtype)
    for time_layer in time_layers(layer):
        time_layer.fused = fused
    return layer


def time_layers(layer) -> list[TimeLSTM]:
    """The TimeLSTMs inside a TimeLSTM, a BidirectionalLSTM or a StackedLSTM of either."""
    if isinstance(layer, TimeLSTM):
        return [layer]
    if isinstance(layer, BidirectionalLSTM):
        return [layer.forward_layer, layer.backward_layer]
    return [t for sub in layer.layers for t in time_layers(sub)]


def own_state(states: np.ndarray) -> np.ndarray:
    """(S, N, H) states in the layer's own layout: a lone TimeLSTM's states are (N, H)."""
    return states[0] if len(states) == 1 else states


def random(rng, *shape, dtype=np.float32) -> np.ndarray:
    return rng.standard_normal(shape).astype(dtype)


def assert_same(ours: np.ndarray, theirs, name: str = "", **tolerances) -> None:
    """``torch.testing.assert_close`` at its float32 default (1e-5 relative), naming the array that differs."""
    theirs = theirs.detach() if isinstance(theirs, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(theirs))
    torch.testing.assert_close(torch.from_numpy(np.ascontiguousarray(ours)), theirs, msg=lambda m: f"{name}: {m}", **tolerances)


def dlfs2_lstm_step(x, h_prev, c_prev, Wx, Wh, b):
    """The forward step of "Deep Learning from Scratch 2" (common/time_layers.py), gates f, g, i, o."""
    H = h_prev.shape[1]
    A = x @ Wx + h_prev @ Wh + b
    f, g, i, o = sigmoid(A[:, :H]), np.tanh(A[:, H : 2 * H]), sigmoid(A[:, 2 * H : 3 * H]), sigmoid(A[:, 3 * H :])
    c_next = f * c_prev + g * i
    return o * np.tanh(c_next), c_next


# --- one step -------------------------------------------------------------------------------

def test_lstm_step_gradients():
    rng = np.random.default_rng(1)  # a seed with no gradient entry so small that round-off decides (see EPS)
    layer = LSTM.init(D, H, rng, dtype=np.float64)
    x, h_prev, c_prev = random(rng, N, D, dtype=np.float64), random(rng, N, H, dtype=np.float64), random(rng, N, H, dtype=np.float64)
    dh_next, dc_next = random(rng, N, H, dtype=np.float64), random(rng, N, H, dtype=np.float64)

    def loss() -> float:  # both outputs are used: the next step reads c_next as well as h_next
        h_next, c_next = layer.forward(x, h_prev, c_prev)
        return float(np.sum(h_next * dh_next) + np.sum(c_next * dc_next))

    loss()
    analytic = dict(zip(("x", "h_prev", "c_prev"), layer.backward(dh_next, dc_next)))
    analytic |= {name: g.copy() for name, g in zip(layer.param_names, layer.grads)}
    inputs = {"x": x, "h_prev": h_prev, "c_prev": c_prev, **dict(zip(layer.param_names, layer.params))}
    errors = {name: relative_error(analytic[name], numerical_gradient(loss, inputs[name], eps=EPS)) for name in analytic}
    assert max(errors.values()) <= 1e-7, errors


def test_lstm_step_by_hand_and_without_dc_next():
    """One step on numbers small enough to follow: with Wh = 0 and b = 0 every gate reads only x."""
    Wx = np.zeros((1, 4), np.float64)
    Wx[0] = [0.0, np.log(3), 1.0, -np.log(3)]  # i, f, g, o pre-activations for x = 1
    layer = LSTM(Wx, np.zeros((1, 4)), np.zeros(4))
    h_next, c_next = layer.forward(np.ones((1, 1)), np.zeros((1, 1)), np.full((1, 1), 2.0))
    i, f, g, o = 0.5, 0.75, np.tanh(1.0), 0.25  # sigmoid(0), sigmoid(log 3), tanh(1), sigmoid(-log 3)
    np.testing.assert_allclose(c_next, [[f * 2.0 + i * g]], rtol=1e-12)
    np.testing.assert_allclose(h_next, [[o * np.tanh(f * 2.0 + i * g)]], rtol=1e-12)
    without = layer.backward(np.ones((1, 1)))
    with_zero = layer.backward(np.ones((1, 1)), np.zeros((1, 1)))
    for a, b in zip(without, with_zero):
        np.testing.assert_array_equal(a, b)


def test_step_functions_are_what_the_layers_compute():
    rng = np.random.default_rng(1)
    layer = TimeLSTM.init(D, H, rng, dtype=np.float64)
    xs, dhs = random(rng, N, 1, D, dtype=np.float64), random(rng, N, 1, H, dtype=np.float64)
    h0, c0 = random(rng, N, H, dtype=np.float64), random(rng, N, H, dtype=np.float64)
    layer.set_state(h0, c0)
    hs = layer.forward(xs)
    dxs = layer.backward(dhs)
    h_next, c_next, cache = lstm_step_forward(xs[:, 0], h0, c0, *layer.params)
    dx, dh_prev, dc_prev, *dparams = lstm_step_backward(dhs[:, 0], np.zeros((N, H)), cache, *layer.params[:2])
    np.testing.assert_allclose(hs[:, 0], h_next, rtol=1e-12)
    np.testing.assert_allclose(layer.c, c_next, rtol=1e-12)
    for ours, expected in zip([dxs[:, 0], layer.dh, layer.dc, *layer.grads], [dx, dh_prev, dc_prev, *dparams]):
        np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-14)


def test_lstm_step_matches_nn_lstm_cell():
    rng = np.random.default_rng(2)
    layer = LSTM.init(D, H, rng)
    cell = lstm_cell_to_torch(layer)
    assert cell.weight_ih.shape == (4 * H, D) and cell.weight_hh.shape == (4 * H, H)  # torch stores Wx.T, Wh.T
    x, h_prev, c_prev, dh_next, dc_next = random(rng, N, D), *(random(rng, N, H) for _ in range(4))

    h_next, c_next = layer.forward(x, h_prev, c_prev)
    dx, dh_prev, dc_prev = layer.backward(dh_next, dc_next)
    t_x, t_h, t_c = (to_torch(a, requires_grad=True) for a in (x, h_prev, c_prev))
    t_h_next, t_c_next = cell(t_x, (t_h, t_c))
    torch.autograd.backward([t_h_next, t_c_next], [to_torch(dh_next), to_torch(dc_next)])

    assert_same(h_next, t_h_next, "h_next")
    assert_same(c_next, t_c_next, "c_next")
    for name, ours, theirs in [("dx", dx, t_x.grad), ("dh_prev", dh_prev, t_h.grad), ("dc_prev", dc_prev, t_c.grad)]:
        assert_same(ours, theirs, name)
    for name, ours, theirs in zip(layer.param_names, layer.grads, torch_lstm_cell_grads_as_numpy(cell)):
        assert_same(ours, theirs, name)
    assert_same(layer.grads[2], cell.bias_hh.grad, "db against bias_hh.grad")
    for ours, back in zip(layer.params, torch_lstm_cell_to_numpy(cell).params):
        np.testing.assert_array_equal(ours, back)


# --- sequences: gradient checks, float64 ----------------------------------------------------

def sequence_gradient_errors(layer, xs, h0, c0, dh_last, dc_last, seed=0) -> dict[str, float]:
    """Relative errors of dxs, dh0, dc0 and every parameter for
    ``L = sum(hs * dhs) + sum(h_n * dh_last) + sum(c_n * dc_last)``."""
    def run():
        layer.set_state(h0, c0)
        return layer.forward(xs)

    dhs = np.random.default_rng(seed).standard_normal(run().shape)

    def loss() -> float:
        hs = run()
        h_n, c_n = layer.final_hidden_states()  # (S, N, H), broadcast against a TimeLSTM's (N, H) gradients
        return float(np.sum(hs * dhs) + np.sum(h_n * dh_last) + np.sum(c_n * dc_last))

    loss()
    analytic = {"xs": layer.backward(dhs, dh_last, dc_last), "h0": layer.dh.copy(), "c0": layer.dc.copy()}
    analytic |= {name: g.copy() for name, g in zip(layer.param_names, layer.grads)}
    inputs = {"xs": xs, "h0": h0, "c0": c0, **dict(zip(layer.param_names, layer.params))}
    return {name: relative_error(analytic[name], numerical_gradient(loss, inputs[name], eps=EPS)) for name in analytic}


@pytest.mark.parametrize("fused", IMPLEMENTATIONS.values(), ids=IMPLEMENTATIONS.keys())
@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_gradients_with_initial_states_and_final_state_gradients(config, fused):
    num_layers, bidirectional = config
    rng = np.random.default_rng(3)
    layer = build(num_layers, bidirectional, rng, np.float64, fused=fused)
    S = num_layers * (2 if bidirectional else 1)
    h0, c0, dh_last, dc_last = (own_state(random(rng, S, N, H, dtype=np.float64)) for _ in range(4))
    errors = sequence_gradient_errors(layer, random(rng, N, T, D, dtype=np.float64), h0, c0, dh_last, dc_last)
    assert {"xs", "h0", "c0"} | set(layer.param_names) == set(errors)
    assert max(errors.values()) <= 1e-6, errors


@pytest.mark.parametrize("fused", IMPLEMENTATIONS.values(), ids=IMPLEMENTATIONS.keys())
def test_gradients_of_a_single_step_sequence_from_zero_states(fused):
    rng = np.random.default_rng(4)
    layer = TimeLSTM.init(D, H, rng, dtype=np.float64, fused=fused)
    h0, c0, dh_last, dc_last = (np.zeros((N, H)) for _ in range(4))  # four arrays: each is perturbed alone
    errors = sequence_gradient_errors(layer, random(rng, N, 1, D, dtype=np.float64), h0, c0, dh_last, dc_last)
    assert max(errors.values()) <= 1e-7, errors


def test_stacked_and_bidirectional_name_their_parameters_and_states():
    layer = build(2, True, np.random.default_rng(5))
    assert layer.param_names[:4] == ("l0.fwd.Wx", "l0.fwd.Wh", "l0.fwd.b", "l0.bwd.Wx")
    assert layer.param_names[-1] == "l1.bwd.b"
    assert layer.state_names == ("h", "c")
    assert layer.layers[1].input_size == 2 * H  # layer 1 reads both directions of layer 0
    assert [p.shape for p in layer.params] == [g.shape for g in layer.grads]
    assert layer.params[0].shape == (D, 4 * H) and layer.params[3].shape == (D, 4 * H)


# --- sequences: agreement with nn.LSTM, float32 ---------------------------------------------

@pytest.mark.parametrize("fused", IMPLEMENTATIONS.values(), ids=IMPLEMENTATIONS.keys())
@pytest.mark.parametrize("batch_first", [True, False], ids=["batch_first", "time_first"])
@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_matches_nn_lstm_outputs_final_states_and_every_gradient(config, batch_first, fused):
    num_layers, bidirectional = config
    rng = np.random.default_rng(6)
    layer = build(num_layers, bidirectional, rng, fused=fused)
    module = time_lstm_to_torch(layer, batch_first=batch_first)
    S = num_layers * (2 if bidirectional else 1)
    xs = random(rng, N, T, D)
    h0, c0, dh_n, dc_n = (random(rng, S, N, H) for _ in range(4))
    dhs = random(rng, N, T, layer.output_size)

    layer.set_state(own_state(h0), own_state(c0))
    hs = layer.forward(xs)
    dxs = layer.backward(dhs, own_state(dh_n), own_state(dc_n))

    # nn.LSTM without batch_first takes and returns (T, N, .); h0, c0, h_n, c_n are (S, N, H) either way.
    swap = (lambda a: a) if batch_first else (lambda a: a.transpose(0, 1) if isinstance(a, torch.Tensor) else a.transpose(1, 0, 2))
    t_xs, t_h0, t_c0 = to_torch(swap(xs), requires_grad=True), to_torch(h0, requires_grad=True), to_torch(c0, requires_grad=True)
    t_hs, (t_h_n, t_c_n) = module(t_xs, (t_h0, t_c0))
    torch.autograd.backward([t_hs, t_h_n, t_c_n], [to_torch(swap(dhs)), to_torch(dh_n), to_torch(dc_n)])

    h_n, c_n = layer.final_hidden_states()
    assert_same(hs, swap(t_hs), "hs")
    assert_same(h_n, t_h_n, "h_n")
    assert_same(c_n, t_c_n, "c_n")
    assert_same(dxs, swap(t_xs.grad), "dxs")
    assert_same(layer.dh.reshape(S, N, H), t_h0.grad, "dh0")
    assert_same(layer.dc.reshape(S, N, H), t_c0.grad, "dc0")
    torch_grads = torch_lstm_grads_as_numpy(module)
    assert len(torch_grads) == len(layer.grads) == 3 * S
    for name, ours, theirs in zip(layer.param_names, layer.grads, torch_grads):
        assert_same(ours, theirs, name, atol=1e-5, rtol=1e-5)
    for name, param in module.named_parameters():
        if name.startswith("bias_hh"):  # both of torch's biases get our db
            assert_same(param.grad.numpy(), getattr(module, name.replace("bias_hh", "bias_ih")).grad, name)


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_torch_to_numpy_to_torch_round_trip(config):
    num_layers, bidirectional = config
    torch.manual_seed(0)
    module = torch.nn.LSTM(D, H, num_layers, batch_first=True, bidirectional=bidirectional)
    layer = torch_lstm_to_numpy(module)
    assert type(layer) is {(1, False): TimeLSTM, (1, True): BidirectionalLSTM}.get(config, StackedLSTM)
    again = time_lstm_to_torch(layer)

    xs = torch.randn(N, T, D)
    with torch.no_grad():
        (hs, (h_n, c_n)), (hs_again, (h_n_again, c_n_again)) = module(xs), again(xs)
    torch.testing.assert_close(hs_again, hs)
    torch.testing.assert_close(h_n_again, h_n)
    torch.testing.assert_close(c_n_again, c_n)
    for name, param in module.named_parameters():
        if name.startswith("weight"):
            torch.testing.assert_close(getattr(again, name), param, rtol=0, atol=0)
        elif name.startswith("bias_ih"):  # the two biases are merged into bias_ih on the way back
            merged = param + getattr(module, name.replace("bias_ih", "bias_hh"))
            torch.testing.assert_close(getattr(again, name), merged, rtol=0, atol=0)
            assert not getattr(again, name.replace("bias_ih", "bias_hh")).any()
    for ours, back in zip(layer.params, torch_lstm_to_numpy(again).params):
        np.testing.assert_array_equal(ours, back)


def test_an_lstm_without_biases_converts_with_b_zero():
    module = torch.nn.LSTM(D, H, bias=False)
    layer = torch_lstm_to_numpy(module)
    assert not layer.params[2].any() and layer.params[2].shape == (4 * H,)


# --- gates ----------------------------------------------------------------------------------

@pytest.mark.parametrize("fused", IMPLEMENTATIONS.values(), ids=IMPLEMENTATIONS.keys())
def test_gates_of_the_last_forward_are_kept_for_plots(fused):
    rng = np.random.default_rng(7)
    layer = TimeLSTM.init(D, H, rng, dtype=np.float64, fused=fused)
    xs = random(rng, N, T, D, dtype=np.float64)
    layer.forward(xs)
    assert layer.gates.shape == (N, T, 4 * H)
    Wx, _, b = layer.params
    a0 = xs[:, 0] @ Wx + b  # the first step starts from h0 = 0
    expected = np.concatenate([sigmoid(a0[:, :2 * H]), np.tanh(a0[:, 2 * H : 3 * H]), sigmoid(a0[:, 3 * H :])], axis=1)
    np.testing.assert_allclose(layer.gates[:, 0], expected, rtol=1e-12)
    np.testing.assert_array_equal(layer.gate("f"), layer.gates[..., H : 2 * H])
    assert layer.gate("i").shape == (N, T, H)
    assert ((layer.gate("o") > 0) & (layer.gate("o") < 1)).all() and (layer.gate("g") < 0).any()
    with pytest.raises(ValueError):  # read-only: a plot cannot change what it shows
        layer.gates[0, 0, 0] = 1.0
    f = layer.gate("f")
    layer.forward(random(rng, N, T, D, dtype=np.float64))  # the next forward leaves the copy alone
    assert not np.array_equal(f, layer.gate("f"))
    np.testing.assert_array_equal(f[:, 0], expected[:, H : 2 * H])


@pytest.mark.parametrize("pointwise_forward", [lstm_pointwise_forward, fused.lstm_pointwise_forward],
                         ids=["shown", "fused"])
def test_pointwise_forward_does_not_overflow_on_large_pre_activations(pointwise_forward):
    a = np.array([[-1000.0, 1000.0, -1000.0, 1000.0]], np.float32)  # H = 1: i, f, g, o
    with np.errstate(all="raise"):
        h_next, c_next, gates, _ = pointwise_forward(a, np.ones((1, 1), np.float32))
    np.testing.assert_array_equal(np.reshape(gates, 4), [0.0, 1.0, -1.0, 1.0])
    np.testing.assert_array_equal(c_next, [[1.0]])  # forget nothing, write nothing


# --- the fast path: seqlab.fused computes what the shown code computes ------------------------

DTYPES = {"float32": np.float32, "float64": np.float64}


def assert_all_close(ours, expected, names) -> None:
    """``torch.testing.assert_close`` at its default tolerances for the dtype, array by array."""
    for name, a, b in zip(names, ours, expected, strict=True):
        torch.testing.assert_close(torch.from_numpy(np.array(a)), torch.from_numpy(np.array(b)),
                                   msg=lambda m, name=name: f"{name}: {m}")


@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
def test_fused_pointwise_step_equals_the_shown_step(dtype):
    rng = np.random.default_rng(20)
    a, c_prev = 3 * random(rng, N, 4 * H, dtype=dtype), random(rng, N, H, dtype=dtype)
    dh_next, dc_next = random(rng, N, H, dtype=dtype), random(rng, N, H, dtype=dtype)
    shown, fast = lstm_pointwise_forward(a, c_prev), fused.lstm_pointwise_forward(a, c_prev)
    assert_all_close(fast, shown, ["h_next", "c_next", "gates", "tanh_c"])
    assert fast[0].dtype == dtype
    names = ["da", "dc_prev"]
    assert_all_close(fused.lstm_pointwise_backward(dh_next, dc_next, c_prev, fast[2], fast[3]),
                     lstm_pointwise_backward(dh_next, dc_next, c_prev, shown[2], shown[3]), names)


@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
def test_fused_time_lstm_equals_the_shown_code_forward_and_every_gradient(dtype):
    rng = np.random.default_rng(21)
    N_, T_, D_, H_ = 5, 7, 6, 8
    Wx, Wh, b = 0.5 * random(rng, D_, 4 * H_, dtype=dtype), 0.5 * random(rng, H_, 4 * H_, dtype=dtype), random(rng, 4 * H_, dtype=dtype)
    xs, h0, c0 = random(rng, N_, T_, D_, dtype=dtype), random(rng, N_, H_, dtype=dtype), random(rng, N_, H_, dtype=dtype)
    dhs, dh_last, dc_last = random(rng, N_, T_, H_, dtype=dtype), random(rng, N_, H_, dtype=dtype), random(rng, N_, H_, dtype=dtype)

    hs, cache = time_lstm_forward(xs, Wx, Wh, b, h0, c0)
    fast_hs, fast_cache = fused.time_lstm_forward(xs, Wx, Wh, b, h0, c0, workspace={})
    assert_all_close([fast_hs, *fast_cache], [hs, *cache], ["hs", "xs_flat", "hs (all)", "cs", "gates", "tanh_cs"])
    assert fast_hs.dtype == dtype and fast_hs.flags.c_contiguous
    names = ["dxs", "dh0", "dc0", "dWx", "dWh", "db"]
    expected = time_lstm_backward(dhs, dh_last, dc_last, cache, Wx, Wh)
    assert_all_close(fused.time_lstm_backward(dhs, dh_last, dc_last, fast_cache, Wx, Wh, workspace={}), expected, names)
    # Each backward also reads the other's cache: the two share its layout.
    assert_all_close(fused.time_lstm_backward(dhs, dh_last, dc_last, cache, Wx, Wh), expected, names)
    assert_all_close(time_lstm_backward(dhs, dh_last, dc_last, fast_cache, Wx, Wh), expected, names)
    # Without dh_last and dc_last, and into given gradient arrays.
    grads = [np.full_like(Wx, np.nan), np.full_like(Wh, np.nan), np.full_like(b, np.nan)]
    fast = fused.time_lstm_backward(dhs, None, None, fast_cache, Wx, Wh, grads=grads)
    assert all(got is given for got, given in zip(fast[3:], grads))
    assert_all_close(fast, time_lstm_backward(dhs, None, None, cache, Wx, Wh), names)


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
    layer = TimeLSTM.init(D, H, rng, stateful=True)
    xs = random(rng, N, T, D)
    first = layer.forward(xs)
    kept, h = first.copy(), layer.h.copy()
    dxs = layer.backward(np.ones_like(first))
    kept_dxs, kept_dh = dxs.copy(), layer.dh.copy()
    layer.forward(xs)  # from the first call's last states: other numbers in the same arrays
    layer.backward(random(rng, N, T, H))
    np.testing.assert_array_equal(first, kept)
    np.testing.assert_array_equal(dxs, kept_dxs)
    np.testing.assert_array_equal(layer.h0, layer.h)
    assert not np.array_equal(layer.h, h) and not np.array_equal(layer.dh, kept_dh)


# --- state: stateful carry and truncated BPTT -----------------------------------------------

def test_stateful_layer_reads_consecutive_calls_as_one_sequence():
    rng = np.random.default_rng(8)
    layer = TimeLSTM.init(D, H, rng, stateful=True)
    xs = random(rng, N, T, D)
    whole_layer = TimeLSTM(*layer.params)
    whole = whole_layer.forward(xs)

    halves = np.concatenate([layer.forward(xs[:, :2]), layer.forward(xs[:, 2:])], axis=1)
    np.testing.assert_allclose(halves, whole, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(layer.c, whole_layer.c, rtol=1e-6, atol=1e-7)
    layer.reset_state()
    np.testing.assert_allclose(layer.forward(xs[:, :2]), whole[:, :2], rtol=1e-6, atol=1e-7)


def test_stateful_stack_reads_consecutive_calls_as_one_sequence():
    rng = np.random.default_rng(9)
    layer = StackedLSTM.init(D, H, 2, rng, stateful=True)
    assert layer.stateful
    xs = random(rng, N, T, D)
    whole_layer = StackedLSTM([TimeLSTM(*sub.params) for sub in layer.layers])
    whole = whole_layer.forward(xs)
    halves = np.concatenate([layer.forward(xs[:, :3]), layer.forward(xs[:, 3:])], axis=1)
    np.testing.assert_allclose(halves, whole, rtol=1e-6, atol=1e-7)
    for ours, expected in zip(layer.final_hidden_states(), whole_layer.final_hidden_states()):
        assert ours.shape == (2, N, H)
        np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-7)


def test_a_layer_that_is_not_stateful_starts_every_call_from_the_same_state():
    rng = np.random.default_rng(10)
    layer = TimeLSTM.init(D, H, rng)
    xs = random(rng, N, T, D)
    np.testing.assert_array_equal(layer.forward(xs), layer.forward(xs))  # from zeros both times
    layer.set_state(random(rng, N, H), random(rng, N, H))
    from_state = layer.forward(xs)
    np.testing.assert_array_equal(layer.forward(xs), from_state)
    layer.reset_state()
    assert not np.allclose(layer.forward(xs), from_state)


def test_truncated_bptt_stops_the_gradient_at_the_block_boundary():
    rng = np.random.default_rng(11)
    layer = TimeLSTM.init(D, H, rng, dtype=np.float64, stateful=True)
    xs = random(rng, N, T, D, dtype=np.float64)
    layer.forward(xs[:, :3])
    boundary = layer.h.copy(), layer.c.copy()
    dhs = random(rng, N, 2, H, dtype=np.float64)
    layer.forward(xs[:, 3:])
    dxs = layer.backward(dhs)

    # The second block's gradients are those of a layer whose first states are constants: nothing
    # flows into the first block's inputs, and dh, dc report what reached the boundary.
    constant_start = TimeLSTM(*layer.params)
    constant_start.set_state(*boundary)
    constant_start.forward(xs[:, 3:])
    assert dxs.shape == (N, 2, D)
    np.testing.assert_allclose(dxs, constant_start.backward(dhs), rtol=1e-12)
    ours = layer.grads + [layer.dh, layer.dc]
    for name, a, b in zip(["Wx", "Wh", "b", "dh", "dc"], ours, constant_start.grads + [constant_start.dh, constant_start.dc]):
        np.testing.assert_allclose(a, b, rtol=1e-12, err_msg=name)
    assert np.abs(layer.dh).max() > 0 and np.abs(layer.dc).max() > 0


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_float32_in_float32_out(config):
    rng = np.random.default_rng(12)
    layer = build(*config, rng)
    hs = layer.forward(random(rng, N, T, D))
    dxs = layer.backward(np.ones_like(hs))
    h_n, c_n = layer.final_hidden_states()
    assert hs.dtype == dxs.dtype == h_n.dtype == c_n.dtype == layer.dh.dtype == layer.dc.dtype == np.float32
    assert {g.dtype for g in layer.grads} == {np.dtype(np.float32)}


def test_backward_writes_gradients_in_place_and_does_not_accumulate_across_calls():
    rng = np.random.default_rng(13)
    layer = TimeLSTM.init(D, H, rng)
    held = list(layer.grads)
    xs, dhs = random(rng, N, T, D), np.ones((N, T, H), np.float32)
    layer.forward(xs)
    layer.backward(dhs)
    first = [g.copy() for g in layer.grads]
    layer.forward(xs)
    layer.backward(dhs)
    assert all(g is h for g, h in zip(layer.grads, held))
    for g, f in zip(layer.grads, first):
        np.testing.assert_array_equal(g, f)


# --- the gate order f, g, i, o of "Deep Learning from Scratch 2" ----------------------------

def test_dlfs2_gate_order_round_trip_and_same_outputs():
    rng = np.random.default_rng(14)
    theirs = [random(rng, D, 4 * H, dtype=np.float64), random(rng, H, 4 * H, dtype=np.float64), random(rng, 4 * H, dtype=np.float64)]
    ours = lstm_weights_from_dlfs2(*theirs)
    for back, original in zip(lstm_weights_to_dlfs2(*ours), theirs):
        np.testing.assert_array_equal(back, original)
    # The forget gate is the book's first block and our second.
    np.testing.assert_array_equal(ours[0][:, H : 2 * H], theirs[0][:, :H])
    np.testing.assert_array_equal(ours[2][:H], theirs[2][2 * H : 3 * H])  # input gate: their third block, our first

    x, h_prev, c_prev = random(rng, N, D, dtype=np.float64), random(rng, N, H, dtype=np.float64), random(rng, N, H, dtype=np.float64)
    expected = dlfs2_lstm_step(x, h_prev, c_prev, *theirs)
    for got, want in zip(LSTM(*ours).forward(x, h_prev, c_prev), expected):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    # Without the conversion, the same arrays compute something else: the orders really differ.
    assert not np.allclose(LSTM(*theirs).forward(x, h_prev, c_prev)[0], expected[0])


def test_dlfs2_conversion_refuses_weights_without_four_blocks():
    with pytest.raises(ValueError, match=r"Wh must have 4H on its last axis.*\(4, 6\)"):
        lstm_weights_from_dlfs2(np.zeros((D, 8)), np.zeros((4, 6)), np.zeros(8))


# --- error messages -------------------------------------------------------------------------

def test_wrong_shapes_raise_messages_that_name_the_expected_shape():
    rng = np.random.default_rng(15)
    layer = TimeLSTM.init(D, H, rng, stateful=True)
    with pytest.raises(ValueError, match=r"xs of shape \(N, T, D\) = \(N, T, 3\), got \(2, 5, 4\)"):
        layer.forward(np.zeros((2, 5, 4), np.float32))
    layer.forward(np.zeros((2, 5, 3), np.float32))
    with pytest.raises(ValueError, match="batch size 3: call reset_state"):
        layer.forward(np.zeros((3, 5, 3), np.float32))
    with pytest.raises(ValueError, match=r"dhs of shape \(N, T, H\) = \(2, 5, 4\), got \(2, 5, 16\)"):
        layer.backward(np.zeros((2, 5, 4 * H), np.float32))
    with pytest.raises(ValueError, match=r"dc_last of shape \(N, H\) = \(2, 4\)"):
        layer.backward(np.zeros((2, 5, H), np.float32), None, np.zeros((H, 2), np.float32))
    with pytest.raises(ValueError, match=r"the state c of shape \(N, H\) = \(2, 4\)"):
        layer.set_state(np.zeros((2, H)), np.zeros((3, H)))
    with pytest.raises(ValueError, match=r"Wh of shape \(H, 4H\) = \(4, 16\), got \(4, 4\)"):
        TimeLSTM(np.zeros((D, 4 * H)), np.zeros((H, H)), np.zeros(4 * H))
    with pytest.raises(ValueError, match="not a multiple of 4"):
        LSTM(np.zeros((D, 6)), np.zeros((H, 6)), np.zeros(6))
    with pytest.raises(ValueError, match=r"c_prev of shape \(N, H\) = \(2, 4\)"):
        LSTM.init(D, H, rng).forward(np.zeros((2, D)), np.zeros((2, H)), np.zeros((2, H + 1)))
    with pytest.raises(ValueError, match=r"the state c0 of shape \(S, N, H\) = \(4, N, 4\)"):
        build(2, True, rng).set_state(np.zeros((4, N, H)), np.zeros((2, N, H)))


def test_states_and_layers_of_the_wrong_kind_are_refused():
    rng = np.random.default_rng(16)
    with pytest.raises(TypeError, match=r"takes the states \('h', 'c'\), each \(2, N, H\); got 1 arrays"):
        BidirectionalLSTM.init(D, H, rng).set_state(np.zeros((2, N, H)))
    with pytest.raises(ValueError, match="BidirectionalLSTM wraps TimeLSTM layers, got TimeRNN"):
        BidirectionalLSTM(TimeRNN.init(D, H, rng), TimeRNN.init(D, H, rng))
    with pytest.raises(ValueError, match="two layers of one kind"):
        Bidirectional(TimeLSTM.init(D, H, rng), TimeRNN.init(D, H, rng))
    with pytest.raises(ValueError, match="StackedLSTM needs layers made of TimeLSTM, but layer 1 is made of TimeRNN"):
        StackedLSTM([TimeLSTM.init(D, H, rng), TimeRNN.init(H, H, rng)])
    with pytest.raises(ValueError, match="layer 1 is made of TimeLSTM"):
        Stacked([BidirectionalRNN.init(D, H, rng), BidirectionalLSTM.init(2 * H, H, rng)])
    with pytest.raises(ValueError, match="an nn.LSTM is made of TimeLSTM layers, this layer holds a TimeRNN"):
        time_lstm_to_torch(StackedRNN.init(D, H, 2, rng))
    with pytest.raises(ValueError, match="an nn.RNN is made of TimeRNN layers, this layer holds a TimeLSTM"):
        time_rnn_to_torch(TimeLSTM.init(D, H, rng))
    with pytest.raises(ValueError, match="proj_size=2"):
        torch_lstm_to_numpy(torch.nn.LSTM(D, H, proj_size=2))
    with pytest.raises(RuntimeError, match="call forward first"):
        TimeLSTM.init(D, H, rng).backward(np.zeros((N, T, H)))
    with pytest.raises(ValueError, match="cannot be stateful"):
        StackedLSTM.init(D, H, 2, rng, bidirectional=True, stateful=True)
