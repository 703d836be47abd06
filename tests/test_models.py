"""RNNLM, LSTMLM, GRULM and BetterLSTMLM: their gradients, their agreement with the same model in torch,
their state and the interface the training loops rely on."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqlab.convert import (
    affine_to_linear,
    embedding_to_torch,
    linear_grads_as_affine,
    time_gru_to_torch,
    time_lstm_to_torch,
    time_rnn_to_torch,
    to_torch,
    torch_gru_grads_as_numpy,
    torch_lstm_grads_as_numpy,
    torch_rnn_grads_as_numpy,
)
from seqlab.gradcheck import numerical_gradient, relative_error
from seqlab.models import GRULM, RNNLM, BetterLSTMLM, LSTMLM
from seqlab.lm_torch import TorchLM

V, D, H = 6, 3, 4


def tokens(rng, shape=(2, 5)):
    return rng.integers(0, V, size=shape), rng.integers(0, V, size=shape)


def test_rnnlm_gradients_of_every_parameter():
    rng = np.random.default_rng(0)
    model = RNNLM(V, D, H, rng, dtype=np.float64)
    xs, ts = tokens(rng)

    def loss() -> float:
        model.reset_state()  # the model is stateful: every evaluation must start from the same state
        return model.forward(xs, ts)

    loss()
    model.backward()
    analytic = [g.copy() for g in model.grads]
    errors = {name: relative_error(g, numerical_gradient(loss, p))
              for name, p, g in zip(model.param_names, model.params, analytic)}
    assert max(errors.values()) <= 1e-6, errors


def test_rnnlm_matches_the_same_model_in_torch():
    rng = np.random.default_rng(1)
    model = RNNLM(V, D, H, rng)
    xs, ts = tokens(rng)
    loss = model.forward(xs, ts)
    model.backward()

    embedding, rnn, linear = embedding_to_torch(model.embedding), time_rnn_to_torch(model.rnn), affine_to_linear(model.output)
    logits = linear(rnn(embedding(torch.from_numpy(xs)))[0])  # (N, T, V)
    t_loss = F.cross_entropy(logits.reshape(-1, V), torch.from_numpy(ts).reshape(-1))
    t_loss.backward()

    assert loss == pytest.approx(t_loss.item(), rel=1e-6)
    torch_grads = [embedding.weight.grad.numpy(), *torch_rnn_grads_as_numpy(rnn), *linear_grads_as_affine(linear)]
    for name, ours, theirs in zip(model.param_names, model.grads, torch_grads, strict=True):
        torch.testing.assert_close(torch.from_numpy(ours), torch.from_numpy(np.ascontiguousarray(theirs)),
                                   atol=1e-5, rtol=1e-5, msg=lambda m: f"{name}: {m}")


def test_rnnlm_carries_its_state_until_reset():
    rng = np.random.default_rng(2)
    model = RNNLM(V, D, H, rng)
    xs, _ = tokens(rng, (2, 6))
    whole = model.predict(xs)
    model.reset_state()
    halves = np.concatenate([model.predict(xs[:, :3]), model.predict(xs[:, 3:])], axis=1)
    np.testing.assert_allclose(halves, whole, rtol=1e-5, atol=1e-6)
    model.reset_state()
    np.testing.assert_allclose(model.predict(xs[:, :3]), whole[:, :3], rtol=1e-5, atol=1e-6)


def test_a_few_sgd_steps_reduce_the_loss_on_a_repeating_sequence():
    rng = np.random.default_rng(3)
    model = RNNLM(V, D, H, rng)
    stream = np.arange(20) % 4  # 0 1 2 3 0 1 2 3 ...: the next token is always predictable
    xs, ts = np.stack([stream[0:8], stream[1:9]]), np.stack([stream[1:9], stream[2:10]])
    losses = []
    for _ in range(30):
        model.reset_state()
        losses.append(model.forward(xs, ts))
        model.backward()
        for param, grad in zip(model.params, model.grads):
            param -= 0.5 * grad
    assert losses[-1] < 0.5 * losses[0], losses


def test_rnnlm_interface_for_training_loops():
    rng = np.random.default_rng(4)
    model = RNNLM(V, D, H, rng)
    assert model.param_names == ("embedding.W", "rnn.Wx", "rnn.Wh", "rnn.b", "output.W", "output.b")
    assert [p.shape for p in model.params] == [g.shape for g in model.grads] == [(V, D), (D, H), (H, H), (H,), (H, V), (V,)]
    held = list(model.grads)
    xs, ts = tokens(rng)
    for _ in range(2):
        loss = model.forward(xs, ts)
        assert isinstance(loss, float) and loss > 0
        assert model.backward() is None
    assert all(g is h for g, h in zip(model.grads, held)), "an optimizer's references to grads must stay valid"
    assert all(np.any(g != 0) for g in model.grads)
    logits = model.predict(xs)
    assert logits.shape == (2, 5, V) and logits.dtype == np.float32
    assert {p.dtype for p in model.params} == {np.dtype(np.float32)}


def test_rnnlm_explains_wrong_inputs():
    model = RNNLM(V, D, H, np.random.default_rng(5))
    with pytest.raises(ValueError, match=r"token ids xs of shape \(N, T\)"):
        model.predict(np.array([1, 2, 3]))
    with pytest.raises(ValueError, match=r"must lie in \[0, 5\]"):
        model.predict(np.array([[1, V]]))


# --- LSTMLM and BetterLSTMLM ----------------------------------------------------------------

EPS = 1e-5  # central differences are most accurate near the cube root of float64's epsilon
# A model's gradients span five orders of magnitude (entries of dWh near 1e-8), and central
# differences carry about 1e-11 of round-off whatever the entry: entries below 1e-5 cannot be
# checked to 1e-6 relative. ATOL admits that noise and nothing a bug would produce (an error of
# the size of the entry itself).
ATOL = 1e-9


def assert_model_gradients(model, xs, ts, before_each=lambda: None) -> list[str]:
    """Checks every parameter's gradient against central differences, each entry to 1e-6 relative or ATOL."""
    def loss() -> float:
        model.reset_state()  # stateful: every evaluation must start from the same state
        before_each()
        return model.forward(xs, ts)

    loss()
    model.backward()
    analytic = [g.copy() for g in model.grads]
    for name, p, g in zip(model.param_names, model.params, analytic):
        numeric = numerical_gradient(loss, p, eps=EPS)
        np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=ATOL,
                                   err_msg=f"d{name}: relative error {relative_error(g, numeric):.1e}")
    return list(model.param_names)


def test_lstmlm_gradients_of_every_parameter():
    rng = np.random.default_rng(10)
    model = LSTMLM(V, D, H, rng, dtype=np.float64)
    checked = assert_model_gradients(model, *tokens(rng))
    assert checked == ["embedding.W", "lstm.Wx", "lstm.Wh", "lstm.b", "output.W", "output.b"]


def test_lstmlm_matches_the_same_model_in_torch_and_carries_its_state():
    rng = np.random.default_rng(11)
    model = LSTMLM(V, D, H, rng)
    assert [p.shape for p in model.params] == [(V, D), (D, 4 * H), (H, 4 * H), (4 * H,), (H, V), (V,)]
    xs, ts = tokens(rng)
    embedding, lstm, linear = embedding_to_torch(model.embedding), time_lstm_to_torch(model.rnn), affine_to_linear(model.output)
    loss = model.forward(xs, ts)
    model.backward()
    t_loss = F.cross_entropy(linear(lstm(embedding(torch.from_numpy(xs)))[0]).reshape(-1, V), torch.from_numpy(ts).reshape(-1))
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item(), rel=1e-6)
    torch_grads = [embedding.weight.grad.numpy(), *torch_lstm_grads_as_numpy(lstm), *linear_grads_as_affine(linear)]
    for name, ours, theirs in zip(model.param_names, model.grads, torch_grads, strict=True):
        torch.testing.assert_close(torch.from_numpy(ours), torch.from_numpy(np.ascontiguousarray(theirs)),
                                   atol=1e-5, rtol=1e-5, msg=lambda m: f"{name}: {m}")

    model.reset_state()
    whole = model.predict(xs)
    model.reset_state()
    halves = np.concatenate([model.predict(xs[:, :2]), model.predict(xs[:, 2:])], axis=1)
    np.testing.assert_allclose(halves, whole, rtol=1e-5, atol=1e-6)


def test_grulm_gradients_of_every_parameter():
    rng = np.random.default_rng(12)
    model = GRULM(V, D, H, rng, dtype=np.float64)
    checked = assert_model_gradients(model, *tokens(rng))
    assert checked == ["embedding.W", "gru.Wx", "gru.Wh", "gru.b", "gru.b_hn", "output.W", "output.b"]


def test_grulm_matches_nn_gru_and_torch_lm_over_two_blocks():
    rng = np.random.default_rng(13)
    model = GRULM(V, D, H, rng)
    assert [p.shape for p in model.params] == [(V, D), (D, 3 * H), (H, 3 * H), (3 * H,), (H,), (H, V), (V,)]
    embedding, gru, linear = embedding_to_torch(model.embedding), time_gru_to_torch(model.rnn), affine_to_linear(model.output)
    torch_lm = TorchLM.from_numpy(model)
    assert torch_lm.cell == "gru" and torch_lm.num_parameters() == sum(p.size for p in model.params)
    h_n, state = None, None
    for block in range(2):  # the second block starts where the first left off: the state is carried
        xs, ts = tokens(rng)
        loss = model.forward(xs, ts)
        model.backward()
        for module in (embedding, gru, linear, torch_lm):
            module.zero_grad()
        hs, h_n = gru(embedding(torch.from_numpy(xs)), h_n)
        t_loss = F.cross_entropy(linear(hs).reshape(-1, V), torch.from_numpy(ts).reshape(-1))
        t_loss.backward()
        h_n = h_n.detach()
        logits, state = torch_lm(torch.from_numpy(xs), state)
        lm_loss = F.cross_entropy(logits.reshape(-1, V), torch.from_numpy(ts).reshape(-1))
        lm_loss.backward()
        state = [layer.detach() for layer in state]
        assert loss == pytest.approx(t_loss.item(), rel=1e-6) and loss == pytest.approx(lm_loss.item(), rel=1e-6)
        torch_grads = [embedding.weight.grad.numpy(), *torch_gru_grads_as_numpy(gru), *linear_grads_as_affine(linear)]
        for name, ours, theirs, lm_theirs in zip(model.param_names, model.grads, torch_grads, torch_lm.grads_as_numpy(),
                                                 strict=True):
            for what, other in (("nn.GRU", theirs), ("TorchLM", lm_theirs)):
                torch.testing.assert_close(torch.from_numpy(ours), torch.from_numpy(np.ascontiguousarray(other)),
                                           atol=1e-5, rtol=1e-5, msg=lambda m: f"{what}, block {block}, d{name}: {m}")


@pytest.mark.parametrize("tie_weights", [True, False], ids=["tied", "untied"])
def test_better_lstmlm_gradients_with_dropout_off(tie_weights):
    rng = np.random.default_rng(12)
    model = BetterLSTMLM(V, H, H, rng, num_layers=2, dropout=0.5, tie_weights=tie_weights, dtype=np.float64).eval()
    checked = assert_model_gradients(model, *tokens(rng))
    assert ("output.W" in checked) != tie_weights


@pytest.mark.parametrize("variational", [False, True], ids=["dropout", "variational"])
def test_better_lstmlm_gradients_through_fixed_dropout_masks(variational):
    rng = np.random.default_rng(13)
    model = BetterLSTMLM(V, H, H, rng, dropout=0.3, variational=variational, dtype=np.float64)

    def same_masks():
        for k, layer in enumerate(model.dropouts):
            layer.rng = np.random.default_rng(k)

    assert_model_gradients(model, *tokens(rng), before_each=same_masks)
    assert all(layer.mask is not None for layer in model.dropouts)


def test_better_lstmlm_matches_the_same_model_in_torch_with_tied_weights():
    rng = np.random.default_rng(14)
    model = BetterLSTMLM(V, H, H, rng, num_layers=2).eval()
    xs, ts = tokens(rng)
    loss = model.forward(xs, ts)
    model.backward()

    embedding, lstm = embedding_to_torch(model.embedding), time_lstm_to_torch(model.lstm)
    linear = torch.nn.Linear(H, V)
    linear.weight = embedding.weight  # tied: one Parameter, (V, H) = (V, D)
    linear.bias = torch.nn.Parameter(to_torch(model.output.params[1]))
    t_loss = F.cross_entropy(linear(lstm(embedding(torch.from_numpy(xs)))[0]).reshape(-1, V), torch.from_numpy(ts).reshape(-1))
    t_loss.backward()

    assert loss == pytest.approx(t_loss.item(), rel=1e-6)
    # embedding.weight.grad sums both uses, as our tied gradient does.
    torch_grads = [embedding.weight.grad.numpy(), *torch_lstm_grads_as_numpy(lstm), linear.bias.grad.numpy()]
    for name, ours, theirs in zip(model.param_names, model.grads, torch_grads, strict=True):
        torch.testing.assert_close(torch.from_numpy(ours), torch.from_numpy(np.ascontiguousarray(theirs)),
                                   atol=1e-5, rtol=1e-5, msg=lambda m: f"{name}: {m}")
    torch_count = sum(p.numel() for p in (*embedding.parameters(), *lstm.parameters(), linear.bias))
    assert model.num_parameters() == torch_count - 2 * 4 * H  # torch has two biases per layer where we have one


def test_better_lstmlm_ties_one_array_and_counts_it_once():
    rng = np.random.default_rng(15)
    tied, untied = BetterLSTMLM(V, H, H, rng), BetterLSTMLM(V, H, H, rng, tie_weights=False)
    assert untied.num_parameters() - tied.num_parameters() == H * V
    E = tied.params[0]
    assert np.shares_memory(tied.output.params[0], E)
    E += 1.0  # an optimizer's in-place update reaches both uses
    np.testing.assert_array_equal(tied.output.params[0], E.T)
    held = list(tied.grads)
    xs, ts = tokens(rng)
    tied.forward(xs, ts)
    tied.backward()
    assert all(g is h for g, h in zip(tied.grads, held))
    np.testing.assert_allclose(tied.grads[0], tied.embedding.grads[0] + tied.output.grads[0].T)


def test_better_lstmlm_dropout_is_active_only_in_training():
    rng = np.random.default_rng(16)
    model = BetterLSTMLM(V, H, H, rng, dropout=0.5)
    xs, _ = tokens(rng)
    model.reset_state()
    first = model.predict(xs)
    model.reset_state()
    assert not np.allclose(model.predict(xs), first)  # a new mask each call
    model.eval()
    model.reset_state()
    evaluated = model.predict(xs)
    model.reset_state()
    np.testing.assert_array_equal(model.predict(xs), evaluated)
    assert all(not layer.training for layer in model.dropouts)


def test_better_lstmlm_explains_wrong_arguments():
    rng = np.random.default_rng(17)
    with pytest.raises(ValueError, match="needs D == H; got D = 3, H = 4"):
        BetterLSTMLM(V, 3, 4, rng)
    with pytest.raises(ValueError, match=r"token ids xs of shape \(N, T\)"):
        BetterLSTMLM(V, H, H, rng).predict(np.array([1, 2]))
    with pytest.raises(ValueError, match=r"LSTMLM expects token ids xs of shape \(N, T\)"):
        LSTMLM(V, D, H, rng).predict(np.array([1, 2]))


# --- StackedRNNLM -------------------------------------------------------------------------------

def test_stacked_rnnlm_gradients_of_every_parameter():
    from seqlab.models import StackedRNNLM

    rng = np.random.default_rng(30)
    model = StackedRNNLM(V, D, H, rng, num_layers=2, dtype=np.float64)
    names = assert_model_gradients(model, *tokens(rng))
    assert names[1:4] == ["rnn.l0.Wx", "rnn.l0.Wh", "rnn.l0.b"] and names[4:7] == ["rnn.l1.Wx", "rnn.l1.Wh", "rnn.l1.b"]


def test_stacked_rnnlm_with_one_layer_is_rnnlm():
    from seqlab.models import StackedRNNLM

    one, reference = StackedRNNLM(V, D, H, np.random.default_rng(31), num_layers=1), RNNLM(V, D, H, np.random.default_rng(31))
    for ours, theirs in zip(one.params, reference.params, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    xs, _ = tokens(np.random.default_rng(32), (2, 6))
    np.testing.assert_allclose(one.predict(xs), reference.predict(xs), rtol=1e-6, atol=1e-7)


def test_stacked_rnnlm_matches_nn_rnn_with_two_layers_over_two_blocks():
    from seqlab.models import StackedRNNLM

    rng = np.random.default_rng(33)
    model = StackedRNNLM(V, D, H, rng, num_layers=2)
    embedding, rnn, linear = embedding_to_torch(model.embedding), time_rnn_to_torch(model.rnn), affine_to_linear(model.output)
    assert rnn.num_layers == 2
    state = None
    for _ in range(2):  # the state carries across calls, in both
        xs, ts = tokens(rng)
        loss = model.forward(xs, ts)
        model.backward()
        for module in (embedding, rnn, linear):
            module.zero_grad()
        hs, state = rnn(embedding(torch.from_numpy(xs)), state)
        t_loss = F.cross_entropy(linear(hs).reshape(-1, V), torch.from_numpy(ts).reshape(-1))
        t_loss.backward()
        state = state.detach()  # truncated BPTT: the gradient stops at the block boundary
        assert loss == pytest.approx(t_loss.item(), rel=1e-5)
        torch_grads = [embedding.weight.grad.numpy(), *torch_rnn_grads_as_numpy(rnn), *linear_grads_as_affine(linear)]
        for name, ours, theirs in zip(model.param_names, model.grads, torch_grads, strict=True):
            torch.testing.assert_close(torch.from_numpy(ours), torch.from_numpy(np.ascontiguousarray(theirs)),
                                       atol=1e-5, rtol=1e-5, msg=lambda m: f"{name}: {m}")


def test_stacked_rnnlm_refuses_a_bad_number_of_layers():
    from seqlab.models import StackedRNNLM

    for bad in (0, 1.5):
        with pytest.raises(ValueError, match="num_layers, an integer >= 1"):
            StackedRNNLM(V, D, H, np.random.default_rng(0), num_layers=bad)


# --- ClassToSequenceRNN (one-to-many) -----------------------------------------------------------

C = 4  # classes


def toy_patterns():
    """The chapter's toy task on V = 6 tokens (<bos> = 0, <eos> = 1): classes, inputs, targets."""
    targets = np.array([[2, 3, 4, 5, 1], [2, 3, 5, 4, 1], [5, 4, 3, 2, 1], [5, 4, 2, 3, 1]])  # "a b c d <eos>", ...
    inputs = np.concatenate([np.zeros((C, 1), np.int64), targets[:, :-1]], axis=1)  # <bos>, then teacher forcing
    return np.arange(C), inputs, targets


def class_to_sequence_in_torch(model, classes, xs, ts):
    """The same model from torch modules: nn.Embedding(C, H) gives h_0; the loss and every gradient, as NumPy."""
    class_embedding, embedding = embedding_to_torch(model.class_embedding), embedding_to_torch(model.embedding)
    rnn, linear = time_rnn_to_torch(model.rnn), affine_to_linear(model.output)
    h0 = class_embedding(torch.from_numpy(classes))[None]  # (1, N, H)
    logits = linear(rnn(embedding(torch.from_numpy(xs)), h0)[0])  # (N, T, V)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), torch.from_numpy(ts).reshape(-1))
    loss.backward()
    grads = [class_embedding.weight.grad.numpy(), embedding.weight.grad.numpy(), *torch_rnn_grads_as_numpy(rnn),
             *linear_grads_as_affine(linear)]
    return loss.item(), grads, (class_embedding, embedding, rnn, linear)


def test_class_to_sequence_gradients_of_every_parameter():
    from seqlab.models import ClassToSequenceRNN

    rng = np.random.default_rng(40)
    model = ClassToSequenceRNN(C, V, D, H, rng, dtype=np.float64)
    classes = np.array([2, 0, 2])  # a class used twice: its row gets both gradients
    xs, ts = tokens(rng, (3, 5))

    def loss() -> float:
        return model.forward(classes, xs, ts)

    loss()
    model.backward()
    for name, p, g in zip(model.param_names, model.params, [g.copy() for g in model.grads]):
        numeric = numerical_gradient(loss, p, eps=EPS)
        np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=ATOL,
                                   err_msg=f"d{name}: relative error {relative_error(g, numeric):.1e}")
    assert np.all(model.grads[0][[1, 3]] == 0), "classes 1 and 3 are not in the batch: their rows get no gradient"


def test_class_to_sequence_matches_the_same_model_in_torch():
    from seqlab.models import ClassToSequenceRNN

    for dtype, tolerance in ((np.float64, 1e-10), (np.float32, 1e-5)):
        model = ClassToSequenceRNN(C, V, D, H, np.random.default_rng(41), dtype=dtype)
        classes, xs, ts = toy_patterns()
        loss = model.forward(classes, xs, ts)
        model.backward()
        t_loss, t_grads, _ = class_to_sequence_in_torch(model, classes, xs, ts)
        assert loss == pytest.approx(t_loss, rel=tolerance)
        for name, ours, theirs in zip(model.param_names, model.grads, t_grads, strict=True):
            np.testing.assert_allclose(ours, theirs, rtol=tolerance, atol=tolerance, err_msg=name)


def test_class_to_sequence_generates_what_the_torch_model_generates_greedily():
    from seqlab.models import ClassToSequenceRNN

    model = ClassToSequenceRNN(C, V, D, H, np.random.default_rng(42), dtype=np.float64)
    classes = np.array([3, 1, 0, 2, 1])
    generated = model.generate(classes, bos=0, length=7)
    assert generated.shape == (5, 7) and np.issubdtype(generated.dtype, np.integer)
    _, _, (class_embedding, embedding, rnn, linear) = class_to_sequence_in_torch(model, *toy_patterns())
    with torch.no_grad():
        h, token, expected = class_embedding(torch.from_numpy(classes))[None], torch.zeros((5, 1), dtype=torch.long), []
        for _ in range(7):
            out, h = rnn(embedding(token), h)
            token = linear(out).argmax(dim=-1)  # (5, 1)
            expected.append(token[:, 0].numpy())
    np.testing.assert_array_equal(generated, np.stack(expected, axis=1))


def test_class_to_sequence_learns_the_chapters_toy_patterns():
    from seqlab.models import ClassToSequenceRNN
    from seqlab.optim import Adam

    classes, xs, ts = toy_patterns()
    model = ClassToSequenceRNN(C, V, 8, 16, np.random.default_rng(0))
    optimizer = Adam(0.05)
    for _ in range(150):
        model.forward(classes, xs, ts)
        model.backward()
        optimizer.update(model.params, model.grads)
    np.testing.assert_array_equal(model.generate(classes, bos=0, length=ts.shape[1]), ts)


def test_class_to_sequence_explains_wrong_inputs():
    from seqlab.models import ClassToSequenceRNN

    model = ClassToSequenceRNN(C, V, D, H, np.random.default_rng(43))
    with pytest.raises(ValueError, match=r"classes of shape \(N,\) and token ids xs of shape \(N, T\)"):
        model.predict(np.array([0, 1]), np.array([[1, 2, 3]]))
    with pytest.raises(ValueError, match=r"must lie in \[0, 3\]"):
        model.predict(np.array([C]), np.array([[1, 2, 3]]))
