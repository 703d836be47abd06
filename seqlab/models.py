"""Models assembled from the package's layers, with the interface the training loops rely on.

Taught in: book/02_rnn.md
"""
from __future__ import annotations

import numpy as np

from seqlab.layers import Affine, Embedding, SoftmaxCrossEntropy
from seqlab.rnn import TimeRNN


class RNNLM:
    """A language model: Embedding -> TimeRNN -> Affine -> softmax cross-entropy on the next token.

    Taught in: book/02_rnn.md

    xs: (N, T) token ids; ts: (N, T) the ids that follow them; logits: (N, T, V).
    Shapes of the weights: embedding (V, D), RNN (D, H), (H, H), (H,), output (H, V), (V,).

    The RNN is stateful, for truncated BPTT: each of the N rows continues the row of the previous
    call (its own stream of text), and gradients stop at the block boundary. Call ``reset_state()``
    at the start of each pass over the data, and before scoring text that does not continue the
    last call (``predict`` carries the state too).

    Interface of the training loops: ``forward(xs, ts) -> loss``, then ``backward()`` fills
    ``grads``; ``params`` and ``grads`` are matching lists whose arrays are updated in place, so
    references to them stay valid across steps.
    """

    def __init__(self, V: int, D: int, H: int, rng: np.random.Generator, dtype=np.float32):
        self.embedding = Embedding.init(V, D, rng, dtype)
        self.rnn = TimeRNN.init(D, H, rng, dtype, stateful=True)
        self.output = Affine.init(H, V, rng, dtype)
        self.loss_layer = SoftmaxCrossEntropy()
        named_layers = {"embedding": self.embedding, "rnn": self.rnn, "output": self.output}
        self.params = [p for layer in named_layers.values() for p in layer.params]
        self.grads = [g for layer in named_layers.values() for g in layer.grads]
        self.param_names = tuple(f"{prefix}.{name}" for prefix, layer in named_layers.items() for name in layer.param_names)

    def predict(self, xs: np.ndarray) -> np.ndarray:
        """Next-token scores: xs (N, T) ids -> logits (N, T, V). Advances the RNN's state."""
        xs = np.asarray(xs)
        if xs.ndim != 2:
            raise ValueError(f"RNNLM expects token ids xs of shape (N, T), got {xs.shape}")
        return self.output.forward(self.rnn.forward(self.embedding.forward(xs)))

    def forward(self, xs: np.ndarray, ts: np.ndarray) -> float:
        """Mean cross-entropy of the next tokens ts (N, T), in nats per token."""
        return self.loss_layer.forward(self.predict(xs), ts)

    def backward(self) -> None:
        """Fills ``grads`` from the last ``forward``."""
        dlogits = self.loss_layer.backward()
        self.embedding.backward(self.rnn.backward(self.output.backward(dlogits)))

    def reset_state(self) -> None:
        """Start the next call from a zero state."""
        self.rnn.reset_state()
