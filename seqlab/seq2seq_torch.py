"""The seq2seq models of :mod:`seqlab.seq2seq` in PyTorch, loadable with the same weights.

Taught in: book/07_seq2seq.md

``TorchSeq2seq(V, D, H, peeky)`` is ``nn.Embedding`` + ``nn.LSTM`` for the encoder and
``nn.Embedding`` + ``nn.LSTM`` + ``nn.Linear`` for the decoder, all ``batch_first``;
:func:`seqlab.convert.seq2seq_to_torch` builds one from a NumPy :class:`~seqlab.seq2seq.Seq2seq` or
:class:`~seqlab.seq2seq.PeekySeq2seq`, and :func:`seqlab.convert.torch_seq2seq_grads_as_numpy` reads
its gradients back in the NumPy model's order.
"""
from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from seqlab.convert import seq2seq_to_torch
from seqlab.seq2seq import Seq2seq, Seq2seqHistory, _check_schedule


class TorchSeq2seq(nn.Module):
    """An LSTM encoder-decoder; with ``peeky=True`` the decoder reads the
    encoder's h at every step.

    Taught in: book/07_seq2seq.md

    ``forward(xs, ts) -> loss`` with ``xs: (N, T_in)``, ``ts: (N, 1 +
    T_out)`` int64, as the NumPy model. The decoder starts from ``(h, 0)``:
    ``nn.LSTM`` takes the state as ``(1, N, H)`` tensors.
    """

    def __init__(
        self,
        V: int,
        D: int,
        H: int,
        peeky: bool = False,
        dtype=torch.float32,
    ):
        super().__init__()
        self.peeky = peeky
        self.encoder_embed = nn.Embedding(V, D, dtype=dtype)
        self.encoder_lstm = nn.LSTM(D, H, batch_first=True, dtype=dtype)
        self.decoder_embed = nn.Embedding(V, D, dtype=dtype)
        self.decoder_lstm = nn.LSTM(
            D + H if peeky else D, H, batch_first=True, dtype=dtype
        )
        self.decoder_affine = nn.Linear(
            2 * H if peeky else H, V, dtype=dtype
        )

    def encode(self, xs: torch.Tensor) -> torch.Tensor:
        """``(N, T_in)`` ids -> ``hs: (N, T_in, H)``."""
        hs, _ = self.encoder_lstm(self.encoder_embed(xs))
        return hs

    def decode(self, ts: torch.Tensor, h: torch.Tensor, state=None):
        """``ts: (N, T)`` ids read from the state ``(h, c)`` (default ``(h,
        0)``) -> scores ``(N, T, V)`` and the last state."""
        if state is None:
            state = (h[None], torch.zeros_like(h)[None])  # (1, N, H) each
        x = self.decoder_embed(ts)  # (N, T, D)
        if self.peeky:
            # (N, T, D + H)
            x = torch.cat([x, h[:, None].expand(-1, ts.shape[1], -1)], dim=2)
        out, state = self.decoder_lstm(x, state)  # (N, T, H)
        if self.peeky:
            # (N, T, 2H)
            out = torch.cat(
                [out, h[:, None].expand(-1, ts.shape[1], -1)], dim=2
            )
        return self.decoder_affine(out), state

    def forward(self, xs: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
        h = self.encode(xs)[:, -1]
        scores, _ = self.decode(ts[:, :-1], h)
        return nn.functional.cross_entropy(
            scores.reshape(-1, scores.shape[-1]), ts[:, 1:].reshape(-1)
        )

    @torch.no_grad()
    def generate(
        self, xs: torch.Tensor, start_id: int, length: int
    ) -> torch.Tensor:
        """Greedy decoding: ``(N, T_in)`` -> ``(N, length)`` ids."""
        h = self.encode(xs)[:, -1]
        ids = torch.full((len(xs), 1), start_id, dtype=torch.long)
        state, answer = None, []
        for _ in range(length):
            scores, state = self.decode(ids, h, state)
            ids = scores.argmax(dim=-1)  # (N, 1)
            answer.append(ids)
        return torch.cat(answer, dim=1)


def torch_exact_match_accuracy(module: TorchSeq2seq, xs: np.ndarray, ts: np.ndarray) -> float:
    """The fraction of questions whose whole greedy answer equals ``ts[:, 1:]``."""
    answers = module.generate(torch.from_numpy(xs), int(ts[0, 0]), ts.shape[1] - 1).numpy()
    return float(np.mean(np.all(answers == ts[:, 1:], axis=1)))


def train_torch_seq2seq(module: TorchSeq2seq, xs: np.ndarray, ts: np.ndarray, *, epochs: int, batch_size: int,
                        lr: float, max_grad_norm: float = 5.0, seed: int = 0, xs_test: np.ndarray | None = None,
                        ts_test: np.ndarray | None = None, schedule: str = "linear") -> Seq2seqHistory:
    """:func:`seqlab.seq2seq.train_seq2seq` in PyTorch: the same batches, Adam, clipping and schedule."""
    _check_schedule(schedule)
    rng = np.random.default_rng(seed)
    # The NumPy LSTMs have one bias where nn.LSTM has two whose sum is used. Adam steps each of
    # torch's two separately, which would move their sum twice as fast as our bias, and clipping
    # would count that gradient twice: train bias_ih only and keep bias_hh at the zero of the export.
    for name, param in module.named_parameters():
        if "bias_hh" in name:
            param.requires_grad_(False)
    trained = [param for param in module.parameters() if param.requires_grad]
    # fused: one kernel updates every parameter (a third of the step's time on the CPU at these sizes)
    optimizer = torch.optim.Adam(trained, lr=lr, fused=True)
    num_batches = len(xs) // batch_size
    total_steps = epochs * num_batches
    decay = (lambda step: 1 - step / total_steps) if schedule == "linear" else (lambda step: 1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, decay)
    xs_all, ts_all = torch.from_numpy(xs), torch.from_numpy(ts)
    history = Seq2seqHistory()
    for _ in range(epochs):
        start = time.process_time()
        order = torch.from_numpy(rng.permutation(len(xs)))
        loss_sum = 0.0
        for k in range(num_batches):
            rows = order[k * batch_size:(k + 1) * batch_size]
            loss = module(xs_all[rows], ts_all[rows])
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(trained, max_grad_norm)
            optimizer.step()
            scheduler.step()
            step_loss = loss.item()
            loss_sum += step_loss
            history.step_losses.append(step_loss)
        history.seconds += time.process_time() - start
        history.losses.append(loss_sum / num_batches)
        if xs_test is not None:
            history.accuracies.append(torch_exact_match_accuracy(module, xs_test, ts_test))
    return history


def train_and_score_in_torch(model: Seq2seq, xs: np.ndarray, ts: np.ndarray, xs_test: np.ndarray,
                             ts_test: np.ndarray, **recipe) -> tuple[float, Seq2seqHistory, TorchSeq2seq]:
    """Export ``model``'s current weights to PyTorch, train them with :func:`train_torch_seq2seq`
    on one thread, and return the test accuracy, the training history and the trained module.

    A plain function of picklable arguments, so that a worker process can run it: chapter 7
    trains its variants and its recipe ablation, seed after seed, on two worker processes.
    """
    torch.set_num_threads(1)
    module = seq2seq_to_torch(model)
    history = train_torch_seq2seq(module, xs, ts, **recipe)
    return torch_exact_match_accuracy(module, xs_test, ts_test), history, module
