"""Models assembled from the package's layers, with the interface the training loops rely on.

Taught in: book/02_rnn.md (RNNLM, StackedRNNLM, ClassToSequenceRNN), book/04_lstm.md (LSTMLM,
BetterLSTMLM), book/05_gru.md (GRULM)
"""
from __future__ import annotations

import numpy as np

from seqlab.gru import TimeGRU
from seqlab.layers import Affine, Dropout, Embedding, SoftmaxCrossEntropy, VariationalDropout
from seqlab.lstm import StackedLSTM, TimeLSTM
from seqlab.rnn import StackedRNN, TimeRNN, rnn_step_forward


class RNNLM:
    """A language model: Embedding -> TimeRNN -> Affine -> softmax
    cross-entropy on the next token.

    Taught in: book/02_rnn.md

    xs: (N, T) token ids; ts: (N, T) the ids that follow them;
    logits: (N, T, V). Shapes of the weights: embedding (V, D),
    RNN (D, H), (H, H), (H,), output (H, V), (V,).

    The RNN is stateful, for truncated BPTT: each of the N rows continues
    the row of the previous call (its own stream of text), and gradients
    stop at the block boundary. Call ``reset_state()`` at the start of each
    pass over the data, and before scoring text that does not continue the
    last call (``predict`` carries the state too).

    Interface of the training loops: ``forward(xs, ts) -> loss``, then
    ``backward()`` fills ``grads``; ``params`` and ``grads`` are matching
    lists whose arrays are updated in place, so references to them stay
    valid across steps.
    """

    def __init__(self, V: int, D: int, H: int, rng: np.random.Generator,
                 dtype=np.float32):
        self.embedding = Embedding.init(V, D, rng, dtype)
        self.rnn = TimeRNN.init(D, H, rng, dtype, stateful=True)
        self.output = Affine.init(H, V, rng, dtype)
        self.loss_layer = SoftmaxCrossEntropy()
        named_layers = {"embedding": self.embedding, "rnn": self.rnn,
                        "output": self.output}
        layers = named_layers.values()
        self.params = [p for layer in layers for p in layer.params]
        self.grads = [g for layer in layers for g in layer.grads]
        self.param_names = tuple(f"{prefix}.{name}"
                                 for prefix, layer in named_layers.items()
                                 for name in layer.param_names)

    def predict(self, xs: np.ndarray) -> np.ndarray:
        """Next-token scores: xs (N, T) ids -> logits (N, T, V).

        Advances the RNN's state.
        """
        xs = np.asarray(xs)
        if xs.ndim != 2:
            raise ValueError(f"{type(self).__name__} expects token ids xs "
                             f"of shape (N, T), got {xs.shape}")
        hs = self.rnn.forward(self.embedding.forward(xs))  # (N, T, H)
        return self.output.forward(hs)

    def forward(self, xs: np.ndarray, ts: np.ndarray) -> float:
        """Mean cross-entropy of the next tokens ts (N, T), in nats/token."""
        return self.loss_layer.forward(self.predict(xs), ts)

    def backward(self) -> None:
        """Fills ``grads`` from the last ``forward``."""
        dhs = self.output.backward(self.loss_layer.backward())
        self.embedding.backward(self.rnn.backward(dhs))

    def reset_state(self) -> None:
        """Start the next call from a zero state."""
        self.rnn.reset_state()


class LSTMLM(RNNLM):
    """RNNLM with a TimeLSTM in place of the TimeRNN: Embedding -> TimeLSTM -> Affine -> softmax cross-entropy.

    Taught in: book/04_lstm.md

    The interface, the state carried across calls and the methods are RNNLM's; only the recurrent
    layer differs. Shapes of the weights: embedding (V, D), LSTM (D, 4H), (H, 4H), (4H,), output (H, V), (V,).
    """

    def __init__(self, V: int, D: int, H: int, rng: np.random.Generator, dtype=np.float32):
        self.embedding = Embedding.init(V, D, rng, dtype)
        self.rnn = TimeLSTM.init(D, H, rng, dtype, stateful=True)  # the recurrent layer, under RNNLM's name for it
        self.output = Affine.init(H, V, rng, dtype)
        self.loss_layer = SoftmaxCrossEntropy()
        named_layers = {"embedding": self.embedding, "lstm": self.rnn, "output": self.output}
        self.params = [p for layer in named_layers.values() for p in layer.params]
        self.grads = [g for layer in named_layers.values() for g in layer.grads]
        self.param_names = tuple(f"{prefix}.{name}" for prefix, layer in named_layers.items() for name in layer.param_names)


class GRULM(RNNLM):
    """RNNLM with a TimeGRU in place of the TimeRNN: Embedding -> TimeGRU ->
    Affine -> softmax cross-entropy.

    Taught in: book/05_gru.md

    The interface, the state carried across calls and the methods are
    RNNLM's; only the recurrent layer differs. Shapes of the weights:
    embedding (V, D), GRU (D, 3H), (H, 3H), (3H,), (H,) (``b_hn``, the
    candidate's bias inside the reset gate, PyTorch's convention), output (H,
    V), (V,).
    """

    def __init__(
        self,
        V: int,
        D: int,
        H: int,
        rng: np.random.Generator,
        dtype=np.float32,
    ):
        self.embedding = Embedding.init(V, D, rng, dtype)
        # the recurrent layer, under RNNLM's name for it
        self.rnn = TimeGRU.init(D, H, rng, dtype, stateful=True)
        self.output = Affine.init(H, V, rng, dtype)
        self.loss_layer = SoftmaxCrossEntropy()
        named_layers = {
            "embedding": self.embedding,
            "gru": self.rnn,
            "output": self.output,
        }
        self.params = [
            p for layer in named_layers.values() for p in layer.params
        ]
        self.grads = [
            g for layer in named_layers.values() for g in layer.grads
        ]
        self.param_names = tuple(
            f"{prefix}.{name}"
            for prefix, layer in named_layers.items()
            for name in layer.param_names
        )


class StackedRNNLM(RNNLM):
    """RNNLM with ``num_layers`` TimeRNNs on top of each other: Embedding -> StackedRNN -> Affine -> loss.

    Taught in: book/02_rnn.md

    The interface, the state carried across calls and the methods are RNNLM's; layer k reads layer
    k - 1's states, ``nn.RNN(num_layers=L)``. With ``num_layers=1`` it draws the same weights from
    the same ``rng`` as ``RNNLM`` and computes the same function. Shapes of the weights: embedding
    (V, D), layer 0 (D, H), (H, H), (H,), each later layer (H, H), (H, H), (H,), output (H, V), (V,).
    """

    def __init__(self, V: int, D: int, H: int, rng: np.random.Generator, num_layers: int = 2, dtype=np.float32):
        if not isinstance(num_layers, (int, np.integer)) or num_layers < 1:
            raise ValueError(f"StackedRNNLM needs num_layers, an integer >= 1; got {num_layers!r}")
        self.embedding = Embedding.init(V, D, rng, dtype)
        self.rnn = StackedRNN.init(D, H, num_layers, rng, dtype=dtype, stateful=True)
        self.output = Affine.init(H, V, rng, dtype)
        self.loss_layer = SoftmaxCrossEntropy()
        named_layers = {"embedding": self.embedding, "rnn": self.rnn, "output": self.output}
        self.params = [p for layer in named_layers.values() for p in layer.params]
        self.grads = [g for layer in named_layers.values() for g in layer.grads]
        self.param_names = tuple(f"{prefix}.{name}" for prefix, layer in named_layers.items() for name in layer.param_names)


class ClassToSequenceRNN:
    """One-to-many: a class in, a token sequence out; the class's embedding is the initial state.

    Taught in: book/02_rnn.md

    classes: (N,) ids in [0, C); the class embedding (C, H) gives ``h0 = E_class[classes]: (N, H)``,
    from which a TimeRNN decodes. In training (teacher forcing) the decoder reads the target
    sequence shifted by one, ``xs = [<bos>, y_1, ..., y_{T-1}]``, and predicts
    ``ts = [y_1, ..., y_T]``; xs, ts: (N, T) ids, logits (N, T, V). ``generate`` feeds its own
    greedy choice back instead. Weights: class embedding (C, H), token embedding (V, D), RNN (D, H),
    (H, H), (H,), output (H, V), (V,). In torch: ``nn.Embedding(C, H)`` whose output is ``h_0``,
    ``nn.Embedding(V, D)``, ``nn.RNN``, ``nn.Linear`` (tests/test_models.py builds it).
    """

    def __init__(self, C: int, V: int, D: int, H: int, rng: np.random.Generator, dtype=np.float32):
        self.class_embedding = Embedding.init(C, H, rng, dtype)
        self.embedding = Embedding.init(V, D, rng, dtype)
        self.rnn = TimeRNN.init(D, H, rng, dtype)
        self.output = Affine.init(H, V, rng, dtype)
        self.loss_layer = SoftmaxCrossEntropy()
        named_layers = {"class_embedding": self.class_embedding, "embedding": self.embedding,
                        "rnn": self.rnn, "output": self.output}
        self.params = [p for layer in named_layers.values() for p in layer.params]
        self.grads = [g for layer in named_layers.values() for g in layer.grads]
        self.param_names = tuple(f"{prefix}.{name}" for prefix, layer in named_layers.items()
                                 for name in layer.param_names)

    def predict(self, classes: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """Next-token scores with teacher forcing.

        classes (N,), xs (N, T) ids -> logits (N, T, V).
        """
        classes, xs = np.asarray(classes), np.asarray(xs)
        if classes.ndim != 1 or xs.ndim != 2 or len(classes) != len(xs):
            raise ValueError(
                f"{type(self).__name__} expects classes of shape (N,) and "
                f"token ids xs of shape (N, T) with the same N, got "
                f"{classes.shape} and {xs.shape}")
        h0 = self.class_embedding.forward(classes)  # (N, H): the class
        self.rnn.set_state(h0)
        hs = self.rnn.forward(self.embedding.forward(xs))  # (N, T, H)
        return self.output.forward(hs)

    def forward(self, classes: np.ndarray, xs: np.ndarray, ts: np.ndarray) -> float:
        """Mean cross-entropy of the target tokens ts (N, T), in nats per token."""
        return self.loss_layer.forward(self.predict(classes, xs), ts)

    def backward(self) -> None:
        """Fills ``grads`` from the last ``forward``."""
        dhs = self.output.backward(self.loss_layer.backward())
        self.embedding.backward(self.rnn.backward(dhs))
        # dL/dh0 is the gradient of the class's row of the class embedding
        self.class_embedding.backward(self.rnn.dh)

    def generate(self, classes: np.ndarray, bos: int,
                 length: int) -> np.ndarray:
        """Greedy decoding: classes (N,) -> (N, length) token ids.

        Each step's likeliest token is the next step's input.
        """
        Wx, Wh, b = self.rnn.params
        h = self.class_embedding.forward(np.asarray(classes))  # (N, H)
        token = np.full(len(h), bos)
        generated = []
        for _ in range(length):
            x = self.embedding.forward(token)  # (N, D)
            h, _ = rnn_step_forward(x, h, Wx, Wh, b)
            token = self.output.forward(h).argmax(axis=-1)  # (N,)
            generated.append(token)
        return np.stack(generated, axis=1)


class BetterLSTMLM:
    """A stronger LSTM language model: stacked LSTMs, dropout, and the embedding reused as the output layer.

    Taught in: book/04_lstm.md

    Embedding (V, D) -> dropout -> [TimeLSTM -> dropout] x num_layers -> Affine (H, V) -> softmax
    cross-entropy, the regularized model of Zaremba et al. (2014), dropout on the non-recurrent connections only
    (embeddings, between layers, before the output), with the weight tying of Press and
    Wolf (2017) and Inan et al. (2017). xs, ts: (N, T) token ids.

    Weight tying. The output layer's weight is the embedding's transposed, ``W_out = E.T``: one
    array, two uses, which needs ``D == H`` and saves ``H * V`` parameters. The Affine holds a view
    of ``E``, so an in-place update of ``E`` updates both; the gradient of ``E`` is the sum of
    the gradients of its two uses, ``dE = dE_embedding + dW_out.T``. ``params`` lists ``E`` once.

    Dropout (``dropout`` = p) is active in training mode, the default; ``eval()`` turns it off for
    evaluation and generation, ``train()`` back on. ``variational=True`` keeps one mask per
    sequence across time steps. ``num_parameters()`` counts each parameter once.

    The LSTMs are stateful, as in RNNLM (truncated BPTT): call ``reset_state()`` at the start of
    each pass over the data. In torch, the same model is :class:`seqlab.lm_torch.TorchLM`
    (``TorchLM.from_numpy(model)``): ``nn.Embedding``, one single-layer ``nn.LSTM`` per layer, so that
    the dropout between them can be variational (``nn.LSTM(num_layers=L, dropout=p)`` would draw a
    fresh mask per step), and ``nn.Linear`` with ``linear.weight = embedding.weight``.
    """

    def __init__(self, V: int, D: int, H: int, rng: np.random.Generator, num_layers: int = 2,
                 dropout: float = 0.5, variational: bool = False, tie_weights: bool = True, dtype=np.float32):
        if tie_weights and D != H:
            raise ValueError(f"weight tying reuses the embedding (V, D) as the output weight (H, V) transposed, "
                             f"so it needs D == H; got D = {D}, H = {H}: make them equal or pass tie_weights=False")
        if num_layers < 1:
            raise ValueError(f"BetterLSTMLM needs num_layers >= 1, got {num_layers}")
        self.tie_weights = tie_weights
        self.embedding = Embedding.init(V, D, rng, dtype)
        self.lstm = StackedLSTM.init(D, H, num_layers, rng, dtype=dtype, stateful=True)
        dropout_layer = VariationalDropout if variational else Dropout
        # One dropout on the embeddings and one on each LSTM's outputs, each with its own generator.
        self.dropouts = [dropout_layer(dropout, np.random.default_rng(rng.integers(2**63))) for _ in range(num_layers + 1)]
        if tie_weights:
            bound = 1 / np.sqrt(H)  # nn.Linear's bias initialization
            self.output = Affine(self.embedding.params[0].T, rng.uniform(-bound, bound, V).astype(dtype))
            self.tied_grad = np.zeros_like(self.embedding.params[0])  # dE from both uses, (V, D)
            output_params, output_grads, output_names = self.output.params[1:], self.output.grads[1:], ("b",)
        else:
            self.output = Affine.init(H, V, rng, dtype)
            output_params, output_grads, output_names = self.output.params, self.output.grads, self.output.param_names
        self.loss_layer = SoftmaxCrossEntropy()
        self.params = [*self.embedding.params, *self.lstm.params, *output_params]
        embedding_grads = [self.tied_grad] if tie_weights else self.embedding.grads
        self.grads = [*embedding_grads, *self.lstm.grads, *output_grads]
        self.param_names = ("embedding.W", *(f"lstm.{name}" for name in self.lstm.param_names),
                            *(f"output.{name}" for name in output_names))
        self.training = True

    def train(self, mode: bool = True) -> "BetterLSTMLM":
        """Training mode (dropout on) or, with ``mode=False``, evaluation mode (dropout off)."""
        self.training = mode
        for layer in self.dropouts:
            layer.train(mode)
        return self

    def eval(self) -> "BetterLSTMLM":
        return self.train(False)

    def num_parameters(self) -> int:
        """The number of trainable numbers, the tied weight counted once.

        ``nn.LSTM`` has two bias vectors per layer and direction where we have one, so the same
        model in torch counts ``4H`` more per layer.
        """
        return sum(p.size for p in self.params)

    def predict(self, xs: np.ndarray) -> np.ndarray:
        """Next-token scores: xs (N, T) ids -> logits (N, T, V). Advances the
        LSTMs' states."""
        xs = np.asarray(xs)
        if xs.ndim != 2:
            raise ValueError(
                "BetterLSTMLM expects token ids xs of shape (N, T), got "
                f"{xs.shape}"
            )
        hs = self.dropouts[0].forward(self.embedding.forward(xs))
        for lstm, dropout in zip(self.lstm.layers, self.dropouts[1:]):
            hs = dropout.forward(lstm.forward(hs))
        return self.output.forward(hs)

    def forward(self, xs: np.ndarray, ts: np.ndarray) -> float:
        """Mean cross-entropy of the next tokens ts (N, T), in nats per token."""
        return self.loss_layer.forward(self.predict(xs), ts)

    def backward(self) -> None:
        """Fills ``grads`` from the last ``forward``."""
        dhs = self.output.backward(self.loss_layer.backward())
        for lstm, dropout in zip(reversed(self.lstm.layers), reversed(self.dropouts[1:])):
            dhs = lstm.backward(dropout.backward(dhs))
        self.embedding.backward(self.dropouts[0].backward(dhs))
        if self.tie_weights:
            # E is used twice, as the embedding table and (transposed) as the output weight: the gradients add.
            np.add(self.embedding.grads[0], self.output.grads[0].T, out=self.tied_grad)

    def reset_state(self) -> None:
        """Start the next call from zero states."""
        self.lstm.reset_state()
