"""``TinyBert``: the PyTorch twin of the NumPy :class:`seqlab.bert.Bert`, and its ``[CLS]`` classifier.

Taught in: book/09_bert.md

The encoder is a stack of ``nn.TransformerEncoderLayer(D, h, d_ff, batch_first=True)`` in BERT's
post-norm placement, the layer chapter 8 proves equal to its NumPy ``TransformerEncoderBlock``;
the masked-LM head is tied to the token embedding. :mod:`seqlab.convert` moves weights
between the twins.
"""
from __future__ import annotations

import torch
from torch import nn

from seqlab.bert import PAD_ID, BertConfig


class TinyBert(nn.Module):
    """Token + segment + position embeddings, LayerNorm, ``num_layers``
    post-norm encoder layers, a tied MLM head.

    Taught in: book/09_bert.md

    ``forward(input_ids, segment_ids)``, both (N, T), returns the final
    states (N, T, D); padding is masked out of attention. ``mlm_logits`` maps
    states to (N, T, V) scores over the vocabulary with the token embedding's
    table (``states @ E.T + mlm_bias``). ReLU in the feed-forward sublayer
    (chapter 8's block) where BERT uses GELU.
    """

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        D = config.D
        self.token_embedding = nn.Embedding(
            config.vocab_size, D, padding_idx=PAD_ID
        )
        self.segment_embedding = nn.Embedding(2, D)
        self.position_embedding = nn.Embedding(config.max_len, D)
        self.embedding_norm = nn.LayerNorm(D)
        self.embedding_dropout = nn.Dropout(config.dropout)
        self.layers = nn.ModuleList(
            nn.TransformerEncoderLayer(
                D,
                config.num_heads,
                config.d_ff,
                config.dropout,
                batch_first=True,
                norm_first=False,
            )
            for _ in range(config.num_layers)
        )
        self.mlm_bias = nn.Parameter(torch.zeros(config.vocab_size))

    def embed(
        self, input_ids: torch.Tensor, segment_ids: torch.Tensor
    ) -> torch.Tensor:
        """The sum of the three embeddings, normalized: (N, T) ids -> (N, T,
        D)."""
        T = input_ids.shape[1]
        if T > self.config.max_len:
            raise ValueError(
                f"inputs of {T} positions exceed "
                f"max_len={self.config.max_len}: truncate them "
                "or build the model with a larger max_len"
            )
        positions = torch.arange(T, device=input_ids.device)
        summed = (
            self.token_embedding(input_ids)
            + self.segment_embedding(segment_ids)
            + self.position_embedding(positions)
        )
        return self.embedding_dropout(self.embedding_norm(summed))

    def forward(
        self, input_ids: torch.Tensor, segment_ids: torch.Tensor
    ) -> torch.Tensor:
        x = self.embed(input_ids, segment_ids)
        # torch's key_padding_mask: True = ignore
        ignore = input_ids == PAD_ID
        for layer in self.layers:
            x = layer(x, src_key_padding_mask=ignore)
        return x

    def mlm_logits(self, states: torch.Tensor) -> torch.Tensor:
        return states @ self.token_embedding.weight.T + self.mlm_bias


class TinyBertClassifier(nn.Module):
    """A sentence classifier on the final state of ``[CLS]``: BERT's pooler (Linear + tanh), then Linear.

    Taught in: book/09_bert.md
    """

    def __init__(self, bert: TinyBert, num_classes: int):
        super().__init__()
        self.bert = bert
        D = bert.config.D
        self.pooler = nn.Linear(D, D)
        self.dropout = nn.Dropout(bert.config.dropout)
        self.classifier = nn.Linear(D, num_classes)

    def forward(self, input_ids: torch.Tensor, segment_ids: torch.Tensor) -> torch.Tensor:
        cls_state = self.bert(input_ids, segment_ids)[:, 0]          # (N, D): position 0 is [CLS]
        return self.classifier(self.dropout(torch.tanh(self.pooler(cls_state))))
