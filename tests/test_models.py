"""RNNLM: its gradients, its agreement with the same model in torch, its state and the interface
the training loops rely on."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqlab.convert import affine_to_linear, embedding_to_torch, linear_grads_as_affine, time_rnn_to_torch, torch_rnn_grads_as_numpy
from seqlab.gradcheck import numerical_gradient, relative_error
from seqlab.models import RNNLM

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
