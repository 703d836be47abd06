"""Chapter 2's layers (RNN step, TimeRNN, stacked and bidirectional RNNs, Embedding): gradient
checks in float64, agreement with torch.nn on the same weights, state handling and error messages."""
import numpy as np
import pytest
import torch

from seqlab.convert import (
    embedding_to_torch,
    rnn_cell_to_torch,
    time_rnn_to_torch,
    to_torch,
    torch_embedding_to_numpy,
    torch_rnn_cell_grads_as_numpy,
    torch_rnn_cell_to_numpy,
    torch_rnn_grads_as_numpy,
    torch_rnn_to_numpy,
)
from seqlab.gradcheck import check_layer_gradients, numerical_gradient, relative_error
from seqlab.layers import Embedding
from seqlab.lstm import TimeLSTM
from seqlab.rnn import RNN, Bidirectional, BidirectionalRNN, Stacked, StackedRNN, TimeRNN

N, T, D, H = 2, 5, 3, 4
# (num_layers, bidirectional) of the nn.RNN each NumPy layer stands for.
CONFIGS = {"time": (1, False), "bidirectional": (1, True), "stacked": (2, False), "stacked-bidirectional": (2, True)}


def build(num_layers: int, bidirectional: bool, rng, dtype=np.float32):
    """The NumPy layer of ``nn.RNN(D, H, num_layers, bidirectional=bidirectional)``."""
    if num_layers > 1:
        return StackedRNN.init(D, H, num_layers, rng, bidirectional=bidirectional, dtype=dtype)
    return (BidirectionalRNN if bidirectional else TimeRNN).init(D, H, rng, dtype)


def own_state(states: np.ndarray) -> np.ndarray:
    """(S, N, H) states in the layer's own layout: a lone TimeRNN's state is (N, H)."""
    return states[0] if len(states) == 1 else states


def sequence_gradient_errors(layer, xs, h0, dh_last, seed=0) -> dict[str, float]:
    """Relative errors of dxs, dh0 and every parameter for ``L = sum(hs * dhs) + sum(h_n * dh_last)``."""
    def run():
        layer.set_state(h0)
        return layer.forward(xs)

    dhs = np.random.default_rng(seed).standard_normal(run().shape)

    def loss() -> float:
        hs = run()  # the final states broadcast against a TimeRNN's (N, H) dh_last
        return float(np.sum(hs * dhs) + np.sum(layer.final_hidden_states() * dh_last))

    loss()
    analytic = {"xs": layer.backward(dhs, dh_last), "h0": layer.dh.copy()}
    analytic |= {name: g.copy() for name, g in zip(layer.param_names, layer.grads)}
    inputs = {"xs": xs, "h0": h0, **dict(zip(layer.param_names, layer.params))}
    return {name: relative_error(analytic[name], numerical_gradient(loss, inputs[name])) for name in analytic}


def assert_same(ours: np.ndarray, theirs, name: str = "", **tolerances) -> None:
    theirs = theirs.detach() if isinstance(theirs, torch.Tensor) else torch.from_numpy(np.asarray(theirs))
    torch.testing.assert_close(torch.from_numpy(np.ascontiguousarray(ours)), theirs, msg=lambda m: f"{name}: {m}", **tolerances)


# --- gradient checks, float64 ---------------------------------------------------------------

def test_rnn_step_gradients():
    rng = np.random.default_rng(0)
    layer = RNN.init(D, H, rng, dtype=np.float64)
    errors = check_layer_gradients(layer, [rng.standard_normal((N, D)), rng.standard_normal((N, H))])
    assert set(errors) == {"input0", "input1", "Wx", "Wh", "b"}
    assert max(errors.values()) <= 1e-7, errors


def test_time_rnn_gradients_over_a_sequence():
    rng = np.random.default_rng(1)
    layer = TimeRNN.init(D, H, rng, dtype=np.float64)
    errors = check_layer_gradients(layer, [rng.standard_normal((N, T, D))])
    assert max(errors.values()) <= 1e-6, errors


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_gradients_with_initial_state_and_final_state_gradient(config):
    num_layers, bidirectional = config
    rng = np.random.default_rng(2)
    layer = build(num_layers, bidirectional, rng, np.float64)
    S = num_layers * (2 if bidirectional else 1)
    h0, dh_last = (own_state(rng.standard_normal((S, N, H))) for _ in range(2))
    errors = sequence_gradient_errors(layer, rng.standard_normal((N, T, D)), h0, dh_last)
    assert {"xs", "h0"} | set(layer.param_names) == set(errors)
    assert max(errors.values()) <= 1e-6, errors


def test_stacked_and_bidirectional_name_their_parameters():
    layer = build(2, True, np.random.default_rng(3))
    assert layer.param_names[:4] == ("l0.fwd.Wx", "l0.fwd.Wh", "l0.fwd.b", "l0.bwd.Wx")
    assert layer.param_names[-1] == "l1.bwd.b"
    assert layer.layers[1].input_size == 2 * H  # layer 1 reads both directions of layer 0
    assert [p.shape for p in layer.params] == [g.shape for g in layer.grads]


# --- agreement with torch.nn, float32 -------------------------------------------------------

def test_rnn_step_matches_nn_rnn_cell():
    rng = np.random.default_rng(4)
    layer = RNN.init(D, H, rng)
    cell = rnn_cell_to_torch(layer)
    assert cell.weight_ih.shape == (H, D)  # torch stores Wx.T
    x, h_prev, dh_next = (rng.standard_normal(shape).astype(np.float32) for shape in [(N, D), (N, H), (N, H)])

    h_next = layer.forward(x, h_prev)
    dx, dh_prev = layer.backward(dh_next)
    t_x, t_h_prev = to_torch(x, requires_grad=True), to_torch(h_prev, requires_grad=True)
    t_h_next = cell(t_x, t_h_prev)
    t_h_next.backward(to_torch(dh_next))

    assert_same(h_next, t_h_next, "h_next")
    assert_same(dx, t_x.grad, "dx")
    assert_same(dh_prev, t_h_prev.grad, "dh_prev")
    for name, ours, theirs in zip(layer.param_names, layer.grads, torch_rnn_cell_grads_as_numpy(cell)):
        assert_same(ours, theirs, name)
    assert_same(layer.grads[2], cell.bias_hh.grad, "db against bias_hh.grad")
    for ours, back in zip(layer.params, torch_rnn_cell_to_numpy(cell).params):
        np.testing.assert_array_equal(ours, back)


@pytest.mark.parametrize("batch_first", [True, False], ids=["batch_first", "time_first"])
@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_matches_nn_rnn_outputs_h_n_and_every_gradient(config, batch_first):
    num_layers, bidirectional = config
    rng = np.random.default_rng(5)
    layer = build(num_layers, bidirectional, rng)
    module = time_rnn_to_torch(layer, batch_first=batch_first)
    S = num_layers * (2 if bidirectional else 1)
    xs = rng.standard_normal((N, T, D)).astype(np.float32)
    h0, dh_n = (rng.standard_normal((S, N, H)).astype(np.float32) for _ in range(2))
    dhs = rng.standard_normal((N, T, layer.output_size)).astype(np.float32)

    layer.set_state(own_state(h0))
    hs = layer.forward(xs)
    dxs = layer.backward(dhs, own_state(dh_n))

    # nn.RNN without batch_first takes and returns (T, N, .); h0 and h_n are (S, N, H) either way.
    swap = (lambda a: a) if batch_first else (lambda a: a.transpose(0, 1) if isinstance(a, torch.Tensor) else a.transpose(1, 0, 2))
    t_xs, t_h0 = to_torch(swap(xs), requires_grad=True), to_torch(h0, requires_grad=True)
    t_hs, t_h_n = module(t_xs, t_h0)
    torch.autograd.backward([t_hs, t_h_n], [to_torch(swap(dhs)), to_torch(dh_n)])

    assert_same(hs, swap(t_hs), "hs")
    assert_same(layer.final_hidden_states(), t_h_n, "h_n")
    assert_same(dxs, swap(t_xs.grad), "dxs")
    assert_same(layer.dh.reshape(S, N, H), t_h0.grad, "dh0")
    torch_grads = torch_rnn_grads_as_numpy(module)
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
    module = torch.nn.RNN(D, H, num_layers, batch_first=True, bidirectional=bidirectional)
    layer = torch_rnn_to_numpy(module)
    assert type(layer) is {(1, False): TimeRNN, (1, True): BidirectionalRNN}.get(config, StackedRNN)
    again = time_rnn_to_torch(layer)

    xs = torch.randn(N, T, D)
    with torch.no_grad():
        (hs, h_n), (hs_again, h_n_again) = module(xs), again(xs)
    torch.testing.assert_close(hs_again, hs)
    torch.testing.assert_close(h_n_again, h_n)
    for name, param in module.named_parameters():
        if name.startswith("weight"):
            torch.testing.assert_close(getattr(again, name), param, rtol=0, atol=0)
        elif name.startswith("bias_ih"):  # the two biases are merged into bias_ih on the way back
            merged = param + getattr(module, name.replace("bias_ih", "bias_hh"))
            torch.testing.assert_close(getattr(again, name), merged, rtol=0, atol=0)
            assert not getattr(again, name.replace("bias_ih", "bias_hh")).any()
    for ours, back in zip(layer.params, torch_rnn_to_numpy(again).params):
        np.testing.assert_array_equal(ours, back)


# --- state: stateful carry and truncated BPTT -----------------------------------------------

def test_stateful_layer_reads_consecutive_calls_as_one_sequence():
    rng = np.random.default_rng(6)
    layer = TimeRNN.init(D, H, rng, stateful=True)
    xs = rng.standard_normal((N, T, D)).astype(np.float32)
    whole = TimeRNN(*layer.params).forward(xs)

    halves = np.concatenate([layer.forward(xs[:, :2]), layer.forward(xs[:, 2:])], axis=1)
    np.testing.assert_allclose(halves, whole, rtol=1e-6, atol=1e-7)
    layer.reset_state()
    np.testing.assert_allclose(layer.forward(xs[:, :2]), whole[:, :2], rtol=1e-6, atol=1e-7)


def test_stateful_stack_reads_consecutive_calls_as_one_sequence():
    rng = np.random.default_rng(7)
    layer = StackedRNN([TimeRNN.init(D, H, rng, stateful=True), TimeRNN.init(H, H, rng, stateful=True)])
    xs = rng.standard_normal((N, T, D)).astype(np.float32)
    whole = StackedRNN([TimeRNN(*sub.params) for sub in layer.layers]).forward(xs)
    halves = np.concatenate([layer.forward(xs[:, :3]), layer.forward(xs[:, 3:])], axis=1)
    np.testing.assert_allclose(halves, whole, rtol=1e-6, atol=1e-7)


def test_a_layer_that_is_not_stateful_starts_every_call_from_the_same_state():
    rng = np.random.default_rng(8)
    layer = TimeRNN.init(D, H, rng)
    xs = rng.standard_normal((N, T, D)).astype(np.float32)
    np.testing.assert_array_equal(layer.forward(xs), layer.forward(xs))  # from zeros both times
    layer.set_state(rng.standard_normal((N, H)).astype(np.float32))
    from_h = layer.forward(xs)
    np.testing.assert_array_equal(layer.forward(xs), from_h)
    layer.reset_state()
    assert not np.allclose(layer.forward(xs), from_h)


def test_truncated_bptt_stops_the_gradient_at_the_block_boundary():
    rng = np.random.default_rng(9)
    layer = TimeRNN.init(D, H, rng, dtype=np.float64, stateful=True)
    xs = rng.standard_normal((N, T, D))
    layer.forward(xs[:, :3])
    boundary = layer.h.copy()
    dhs = rng.standard_normal((N, 2, H))
    layer.forward(xs[:, 3:])
    dxs = layer.backward(dhs)

    # The second block's gradients are those of a layer whose first state is a constant: nothing
    # flows into the first block's inputs, and dh reports what reached the boundary.
    constant_start = TimeRNN(*layer.params)
    constant_start.set_state(boundary)
    constant_start.forward(xs[:, 3:])
    assert dxs.shape == (N, 2, D)
    np.testing.assert_allclose(dxs, constant_start.backward(dhs), rtol=1e-12)
    for ours, expected in zip(layer.grads + [layer.dh], constant_start.grads + [constant_start.dh]):
        np.testing.assert_allclose(ours, expected, rtol=1e-12)
    assert np.abs(layer.dh).max() > 0


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_float32_in_float32_out(config):
    rng = np.random.default_rng(10)
    layer = build(*config, rng)
    hs = layer.forward(rng.standard_normal((N, T, D)).astype(np.float32))
    dxs = layer.backward(np.ones_like(hs))
    assert hs.dtype == dxs.dtype == layer.final_hidden_states().dtype == layer.dh.dtype == np.float32
    assert {g.dtype for g in layer.grads} == {np.dtype(np.float32)}


def test_backward_writes_gradients_in_place_and_does_not_accumulate_across_calls():
    rng = np.random.default_rng(11)
    layer = TimeRNN.init(D, H, rng)
    held = list(layer.grads)
    xs = rng.standard_normal((N, T, D)).astype(np.float32)
    dhs = np.ones((N, T, H), np.float32)
    layer.forward(xs)
    layer.backward(dhs)
    first = [g.copy() for g in layer.grads]
    layer.forward(xs)
    layer.backward(dhs)
    assert all(g is h for g, h in zip(layer.grads, held))
    for g, f in zip(layer.grads, first):
        np.testing.assert_array_equal(g, f)


# --- error messages -------------------------------------------------------------------------

def test_wrong_shapes_raise_messages_that_name_the_expected_shape():
    rng = np.random.default_rng(12)
    layer = TimeRNN.init(D, H, rng, stateful=True)
    with pytest.raises(ValueError, match=r"xs of shape \(N, T, D\) = \(N, T, 3\), got \(2, 3\)"):
        layer.forward(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"xs of shape \(N, T, D\) = \(N, T, 3\), got \(2, 5, 4\)"):
        layer.forward(np.zeros((2, 5, 4), np.float32))
    layer.forward(np.zeros((2, 5, 3), np.float32))
    with pytest.raises(ValueError, match="batch size 3: call reset_state"):
        layer.forward(np.zeros((3, 5, 3), np.float32))
    with pytest.raises(ValueError, match=r"h_prev of shape \(N, H\) = \(2, 4\)"):
        RNN.init(D, H, rng).forward(np.zeros((2, D)), np.zeros((2, H + 1)))
    with pytest.raises(ValueError, match=r"Wh of shape \(H, H\) = \(4, 4\)"):
        TimeRNN(np.zeros((D, H)), np.zeros((H, H + 1)), np.zeros(H))
    with pytest.raises(ValueError, match=r"the state h0 of shape \(2, N, H\)"):
        BidirectionalRNN.init(D, H, rng).set_state(np.zeros((N, H)))
    with pytest.raises(ValueError, match=r"the states of shape \(S, N, H\) = \(4, N, 4\)"):
        build(2, True, rng).set_state(np.zeros((2, N, H)))


def test_inconsistent_layers_are_refused():
    rng = np.random.default_rng(13)
    with pytest.raises(ValueError, match="layer 1 reads 3 features, but layer 0 outputs 8"):
        StackedRNN([BidirectionalRNN.init(D, H, rng), TimeRNN.init(D, H, rng)])
    with pytest.raises(ValueError, match="cannot be stateful"):
        BidirectionalRNN(TimeRNN.init(D, H, rng, stateful=True), TimeRNN.init(D, H, rng))
    mixed = StackedRNN([BidirectionalRNN.init(D, H, rng), TimeRNN.init(2 * H, H, rng)])
    with pytest.raises(ValueError, match="every layer to be bidirectional, or none"):
        time_rnn_to_torch(mixed)
    with pytest.raises(ValueError, match="use tanh"):
        torch_rnn_to_numpy(torch.nn.RNN(D, H, nonlinearity="relu"))


def test_generic_wrappers_compute_what_the_rnn_spellings_compute():
    rng = np.random.default_rng(17)
    specific = build(2, True, rng)
    generic = Stacked([Bidirectional(layer.forward_layer, layer.backward_layer) for layer in specific.layers])
    assert generic.param_names == specific.param_names and generic.state_names == ("h",)
    xs = rng.standard_normal((N, T, D)).astype(np.float32)
    np.testing.assert_array_equal(generic.forward(xs), specific.forward(xs))
    np.testing.assert_array_equal(generic.final_hidden_states(), specific.final_hidden_states())
    dhs = np.ones((N, T, 2 * H), np.float32)
    np.testing.assert_array_equal(generic.backward(dhs), specific.backward(dhs))
    np.testing.assert_array_equal(generic.dh, specific.dh)
    assert specific.dc is None  # an RNN has no cell state
    assert isinstance(specific, Stacked) and isinstance(specific.layers[0], Bidirectional)


def test_wrappers_explain_what_they_cannot_do():
    rng = np.random.default_rng(18)
    with pytest.raises(TypeError, match="does not know which time layer to build"):
        Bidirectional.init(D, H, rng)
    with pytest.raises(TypeError, match="does not know which layers to build"):
        Stacked.init(D, H, 2, rng)
    layer = BidirectionalRNN.init(D, H, rng)
    with pytest.raises(TypeError, match=r"takes the states \('h',\), each \(2, N, H\); got 2 arrays"):
        layer.set_state(np.zeros((2, N, H)), np.zeros((2, N, H)))
    layer.forward(np.zeros((N, T, D), np.float32))
    with pytest.raises(ValueError, match="it takes no dc_last"):
        layer.backward(np.zeros((N, T, 2 * H), np.float32), dc_last=np.zeros((2, N, H)))
    with pytest.raises(ValueError, match=r"b of shape \(H,\) = \(4,\), got \(5,\)"):
        TimeRNN(np.zeros((D, H)), np.zeros((H, H)), np.zeros(H + 1))
    with pytest.raises(ValueError, match="BidirectionalRNN wraps TimeRNN layers"):
        BidirectionalRNN(TimeLSTM.init(D, H, rng), TimeLSTM.init(D, H, rng))


# --- Embedding ------------------------------------------------------------------------------

IDS = np.array([[0, 3, 3, 1], [3, 0, 2, 3]])  # repeated ids: their gradients must add up


def test_embedding_gradients_with_repeated_ids():
    layer = Embedding.init(5, D, np.random.default_rng(14), dtype=np.float64)
    errors = check_layer_gradients(layer, [], forward=lambda: layer.forward(IDS))
    assert set(errors) == {"W"} and errors["W"] <= 1e-7, errors


def test_embedding_sums_the_gradient_of_every_occurrence():
    layer = Embedding(np.zeros((5, 2)))
    layer.forward(IDS)
    assert layer.backward(np.ones((2, 4, 2))) is None  # integer ids have no gradient
    np.testing.assert_array_equal(layer.grads[0][:, 0], [2, 1, 1, 4, 0])
    layer.backward(np.ones((2, 4, 2)))  # written, not accumulated
    np.testing.assert_array_equal(layer.grads[0][:, 0], [2, 1, 1, 4, 0])


def test_embedding_matches_nn_embedding():
    rng = np.random.default_rng(15)
    layer = Embedding.init(5, D, rng)
    module = embedding_to_torch(layer)
    dout = rng.standard_normal((2, 4, D)).astype(np.float32)
    out = layer.forward(IDS)
    layer.backward(dout)
    t_out = module(torch.from_numpy(IDS))
    t_out.backward(to_torch(dout))
    assert out.dtype == np.float32 and out.shape == (2, 4, D)
    assert_same(out, t_out, "out")
    assert_same(layer.grads[0], module.weight.grad, "dW")
    np.testing.assert_array_equal(torch_embedding_to_numpy(module).params[0], layer.params[0])
    assert layer.forward(np.array([4, 0])).shape == (2, D)  # ids of any shape


def test_embedding_refuses_ids_outside_the_vocabulary():
    layer = Embedding.init(5, D, np.random.default_rng(16))
    with pytest.raises(ValueError, match=r"must lie in \[0, 4\]"):
        layer.forward(np.array([[0, -1]]))
    with pytest.raises(ValueError, match=r"must lie in \[0, 4\]"):
        layer.forward(np.array([5]))
    with pytest.raises(TypeError, match="integer token ids"):
        layer.forward(np.array([0.0, 1.0]))


# --- the bidirectional RNN's own weights W' ---------------------------------------------------

def test_bidirectional_forward_is_the_two_recurrences_with_their_own_weights():
    """h_t from h_{t-1} with Wx, Wh, b; h'_t from h'_{t+1} with W'x, W'h, b', from t = T-1 down to 0."""
    rng = np.random.default_rng(20)
    layer = BidirectionalRNN.init(D, H, rng, dtype=np.float64)
    xs = rng.standard_normal((N, T, D))
    (Wx, Wh, b), (Wx_r, Wh_r, b_r) = layer.forward_layer.params, layer.backward_layer.params
    for W, W_r in zip(layer.forward_layer.params, layer.backward_layer.params):
        assert not np.shares_memory(W, W_r) and not np.array_equal(W, W_r)
    h, h_r = np.zeros((N, H)), np.zeros((N, H))
    forward_states, backward_states = [None] * T, [None] * T
    for t in range(T):
        h = np.tanh(h @ Wh + xs[:, t] @ Wx + b)
        forward_states[t] = h
    for t in reversed(range(T)):
        h_r = np.tanh(h_r @ Wh_r + xs[:, t] @ Wx_r + b_r)
        backward_states[t] = h_r
    expected = np.concatenate([np.stack(forward_states, 1), np.stack(backward_states, 1)], axis=-1)
    np.testing.assert_allclose(layer.forward(xs), expected, rtol=1e-12, atol=1e-12)


def test_nn_rnn_keeps_the_backward_weights_under_reverse_names_and_reusing_W_differs():
    rng = np.random.default_rng(21)
    layer = BidirectionalRNN.init(D, H, rng)
    module = time_rnn_to_torch(layer)
    Wx_r, Wh_r, b_r = layer.backward_layer.params
    assert_same(Wx_r.T, module.weight_ih_l0_reverse, "weight_ih_l0_reverse", rtol=0, atol=0)
    assert_same(Wh_r.T, module.weight_hh_l0_reverse, "weight_hh_l0_reverse", rtol=0, atol=0)
    assert_same(b_r, module.bias_ih_l0_reverse + module.bias_hh_l0_reverse, "reverse biases", rtol=0, atol=0)
    xs = rng.standard_normal((N, T, D)).astype(np.float32)
    t_out = module(to_torch(xs))[0].detach().numpy()
    reusing_W = BidirectionalRNN(layer.forward_layer, TimeRNN(*layer.forward_layer.params))
    np.testing.assert_allclose(layer.forward(xs), t_out, rtol=1e-5, atol=1e-6)
    tied = reusing_W.forward(xs)
    np.testing.assert_allclose(tied[..., :H], t_out[..., :H], rtol=1e-5, atol=1e-6)
    assert np.abs(tied[..., H:] - t_out[..., H:]).max() > 1e-2
