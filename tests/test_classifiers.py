"""Many-to-one models: gradients checked numerically, PyTorch agreement, and the training loop."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqlab.classifiers import MeanSquaredError, SequenceClassifier, SequenceRegressor, TrainingLog, recall_experiment, train
from seqlab.convert import affine_to_linear, time_rnn_to_torch, to_torch
from seqlab.gradcheck import check_layer_gradients, numerical_gradient, relative_error
from seqlab.optim import SGD
from seqlab.rnn import StackedRNN, TimeRNN
from seqlab.tasks import adding_problem, long_range_recall


def classifier(dtype=np.float64, seed=0, D=3, H=5, C=4):
    rng = np.random.default_rng(seed)
    return SequenceClassifier.init(TimeRNN.init(D, H, rng, dtype), C, rng)


def test_mean_squared_error_gradient_and_torch():
    rng = np.random.default_rng(0)
    predictions, targets = rng.standard_normal((6, 1)), rng.standard_normal((6, 1))
    loss_layer = MeanSquaredError()
    errors = check_layer_gradients(loss_layer, [predictions], forward=lambda: loss_layer.forward(predictions, targets))
    assert errors["input0"] <= 1e-7
    assert loss_layer.forward(predictions, targets) == pytest.approx(F.mse_loss(torch.from_numpy(predictions), torch.from_numpy(targets)).item())
    with pytest.raises(ValueError, match=r"reshape the targets to \(N, 1\)"):
        loss_layer.forward(predictions, targets[:, 0])


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_every_parameter_gradient_matches_numerical(kind):
    rng = np.random.default_rng(1)
    if kind == "classifier":
        model = classifier()
        xs, ts = rng.standard_normal((4, 6, 3)), rng.integers(0, 4, size=4)
    else:
        model = SequenceRegressor.init(TimeRNN.init(3, 5, rng, np.float64), rng)
        xs, ts = rng.standard_normal((4, 6, 3)), rng.standard_normal((4, 1))
    model.forward(xs, ts)
    dxs = model.backward()
    numeric_dxs = numerical_gradient(lambda: model.forward(xs, ts), xs)
    # Early steps get vanishing gradients, whose entrywise relative error is round-off: scale by the largest.
    assert np.max(np.abs(dxs - numeric_dxs)) <= 1e-7 * np.max(np.abs(numeric_dxs))
    assert model.param_names == ("time_layer.Wx", "time_layer.Wh", "time_layer.b", "head.W", "head.b")
    for name, param, grad in zip(model.param_names, model.params, model.grads):
        numeric = numerical_gradient(lambda: model.forward(xs, ts), param)
        assert relative_error(grad, numeric) <= 1e-6, name


def test_any_time_layer_with_the_interface_works():
    rng = np.random.default_rng(2)
    model = SequenceClassifier.init(StackedRNN.init(3, 4, 2, rng, dtype=np.float64), 3, rng)
    xs, ts = rng.standard_normal((2, 5, 3)), np.array([0, 2])
    model.forward(xs, ts)
    model.backward()
    assert len(model.params) == 8 and model.param_names[0] == "time_layer.l0.Wx"
    numeric = numerical_gradient(lambda: model.forward(xs, ts), model.params[0])
    assert relative_error(model.grads[0], numeric) <= 1e-6


def test_classifier_matches_nn_rnn_and_linear():
    model = classifier(np.float32, seed=3)
    rng = np.random.default_rng(3)
    xs = rng.standard_normal((5, 7, 3)).astype(np.float32)
    ts = rng.integers(0, 4, size=5)
    loss = model.forward(xs, ts)
    model.backward()
    rnn, linear = time_rnn_to_torch(model.time_layer), affine_to_linear(model.head)
    hs, _ = rnn(to_torch(xs))
    t_loss = F.cross_entropy(linear(hs[:, -1]), torch.from_numpy(ts))
    t_loss.backward()
    torch.testing.assert_close(t_loss, torch.tensor(loss))
    torch.testing.assert_close(rnn.weight_hh_l0.grad.T, to_torch(model.grads[1]))
    torch.testing.assert_close(linear.weight.grad.T, to_torch(model.grads[3]))
    assert model.accuracy(xs, ts) == pytest.approx(float((linear(hs[:, -1]).argmax(1).numpy() == ts).mean()))


def test_model_rejects_stateful_layers_and_backward_first():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="stateful=False"):
        SequenceClassifier.init(TimeRNN.init(2, 3, rng, stateful=True), 2, rng)
    with pytest.raises(RuntimeError, match="before backward"):
        classifier().backward()
    with pytest.raises(ValueError, match=r"\(N, T, D\)"):
        classifier().predict(np.zeros((2, 3)))


def test_train_learns_a_short_recall_task():
    xs, ts = long_range_recall(400, lag=2, num_symbols=3, seed=0)
    rng = np.random.default_rng(0)
    model = SequenceClassifier.init(TimeRNN.init(3, 16, rng), 3, rng)
    log = train(model, xs, ts, SGD(0.5), steps=300, batch_size=32, max_norm=5.0, progress=False)
    assert isinstance(log, TrainingLog) and log.diverged_at is None
    assert log.loss.shape == log.grad_norm.shape == (300,)
    assert log.loss[-20:].mean() < 0.5 * log.loss[:20].mean()
    assert model.accuracy(xs, ts) > 0.9


def test_train_stops_at_divergence_and_clipping_prevents_it():
    xs, ts = adding_problem(200, 5, seed=0)

    def run(max_norm):
        rng = np.random.default_rng(0)
        model = SequenceRegressor.init(TimeRNN.init(2, 16, rng), rng)
        return train(model, xs, ts, SGD(5.0), steps=200, batch_size=16, max_norm=max_norm, progress=False)

    diverged = run(None)
    assert diverged.diverged_at is not None and len(diverged.loss) == diverged.diverged_at + 1
    assert not np.isfinite(diverged.loss[-1]) or not np.isfinite(diverged.grad_norm[-1])
    assert np.isfinite(diverged.loss[:-1]).all()
    clipped = run(0.1)
    assert clipped.diverged_at is None and np.isfinite(clipped.loss).all()


def test_train_validates_its_arguments():
    xs, ts = adding_problem(10, 4, seed=0)
    model = SequenceRegressor.init(TimeRNN.init(2, 3, np.random.default_rng(0)), np.random.default_rng(0))
    with pytest.raises(ValueError, match="batch_size must lie in"):
        train(model, xs, ts, SGD(0.1), steps=1, batch_size=11, progress=False)
    with pytest.raises(ValueError, match="10 sequences but ts holds 9"):
        train(model, xs, ts[:9], SGD(0.1), steps=1, batch_size=2, progress=False)


def test_recall_experiment_reports_one_seeded_run():
    first = recall_experiment("GRU", "Adam", lag=3, seed=0, steps=5, batch_size=16)
    again = recall_experiment("GRU", "Adam", lag=3, seed=0, steps=5, batch_size=16)
    assert first["accuracy"] == again["accuracy"] and np.array_equal(first["loss"], again["loss"])
    assert set(first) >= {"accuracy", "final_loss", "signal_before", "signal_after", "diverged"} and "model" not in first
    assert 0 <= first["accuracy"] <= 1 and first["signal_before"] > 0 and len(first["loss"]) == 5
    assert 0 <= first["clipped_fraction"] <= 1 and first["largest_norm"] > 0


def test_recall_experiment_counts_clipped_steps():
    never = recall_experiment("RNN", "SGD", lag=3, seed=0, steps=4, batch_size=8, max_norm=1e6)
    always = recall_experiment("RNN", "SGD", lag=3, seed=0, steps=4, batch_size=8, max_norm=1e-9)
    assert never["clipped_fraction"] == 0 and always["clipped_fraction"] == 1
    assert 0 < always["largest_norm"] < 1e6


def test_recall_signal_ratio_does_not_underflow_in_float32():
    # At lag 80 the RNN's float32 gradients reaching the symbol are near 1e-26: their float32 squares
    # underflow to 0, so a float32 norm would report a ratio of exactly 0.
    run = recall_experiment("RNN", "SGD", lag=80, seed=1, steps=1, batch_size=4, lr=1e-12)
    assert 0 < run["signal_before"] < 1e-15


@pytest.mark.parametrize("cell, gates", [("LSTM", 4), ("GRU", 3)])
def test_recall_experiment_sets_the_keep_gate_bias_of_either_cell(cell, gates):
    run = recall_experiment(cell, "SGD", lag=2, seed=0, steps=1, batch_size=4, lr=1e-12, keep_bias=3.0, keep_model=True)
    b = run["model"].time_layer.params[2]
    H = b.shape[0] // gates
    np.testing.assert_allclose(b[H:2 * H], 3.0, atol=1e-6)  # the f block (i, f, g, o) or the z block (r, z, n)
    default = recall_experiment(cell, "SGD", lag=2, seed=0, steps=1, batch_size=4, lr=1e-12, keep_model=True)
    assert np.abs(default["model"].time_layer.params[2]).max() <= 1 / np.sqrt(H) + 1e-6  # PyTorch's default range


def test_recall_experiment_errors_name_the_choices():
    with pytest.raises(ValueError, match="cell must be one of"):
        recall_experiment("Transformer", "Adam", lag=2, seed=0)
    with pytest.raises(ValueError, match="optimizer"):
        recall_experiment("RNN", "RMSprop", lag=2, seed=0)
