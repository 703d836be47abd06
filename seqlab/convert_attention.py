"""Weight-layout conversions between the attention layers of :mod:`seqlab.attention` (and the BERT of
:mod:`seqlab.bert`, built from them) and ``torch.nn``.

(They belong with the others in :mod:`seqlab.convert`; they live here until that module is merged.)

``nn.MultiheadAttention`` keeps the query, key and value projections in one ``in_proj_weight: (3D, D)``
(rows: q, then k, then v) and ``in_proj_bias: (3D,)``, and the output projection in
``out_proj: nn.Linear(D, D)``. Our ``MultiHeadAttention`` computes ``x @ W_in`` with ``W_in: (D, 3D)``,
so ``in_proj_weight = W_in.T``: a transpose, as for every ``nn.Linear``. Two more differences:

- masks: ours say where to attend (True = attend, as ``F.scaled_dot_product_attention``'s boolean
  ``attn_mask``); ``nn.MultiheadAttention``'s ``attn_mask`` and ``key_padding_mask`` say where *not*
  to attend (True = ignore): :func:`torch_masks` flips the sign;
- the module averages the attention weights over the heads when ``need_weights=True``, which is what
  our ``attention_weights`` holds; ``average_attn_weights=False`` gives them per head.
"""
from __future__ import annotations

import numpy as np
import torch

from seqlab.attention import LayerNorm, MultiHeadAttention, TransformerEncoderBlock
from seqlab.bert import Bert, BertConfig, BertEmbeddings, MaskedLMHead
from seqlab.bert_torch import TinyBert
from seqlab.convert import linear_to_affine, to_torch
from seqlab.layers import Embedding


def mha_to_torch(attention: MultiHeadAttention) -> torch.nn.MultiheadAttention:
    """An ``nn.MultiheadAttention(D, h, batch_first=True)`` with the same weights: ``in_proj_weight = W_in.T``."""
    W_in, b_in, W_out, b_out = attention.params
    D = attention.width
    module = torch.nn.MultiheadAttention(D, attention.num_heads, batch_first=True, dtype=torch.from_numpy(W_in).dtype)
    with torch.no_grad():
        module.in_proj_weight.copy_(to_torch(W_in.T))
        module.in_proj_bias.copy_(to_torch(b_in))
        module.out_proj.weight.copy_(to_torch(W_out.T))
        module.out_proj.bias.copy_(to_torch(b_out))
    return module


def torch_mha_to_numpy(module: torch.nn.MultiheadAttention) -> MultiHeadAttention:
    """The NumPy ``MultiHeadAttention`` of an ``nn.MultiheadAttention`` with one ``in_proj_weight`` (kdim = vdim = D)."""
    if module.in_proj_weight is None:
        raise ValueError("this nn.MultiheadAttention has separate q/k/v projections (kdim or vdim != embed_dim); "
                         "only the packed in_proj_weight layout converts to MultiHeadAttention")
    numpy = lambda t: t.detach().cpu().numpy().copy()
    return MultiHeadAttention(numpy(module.in_proj_weight).T.copy(), numpy(module.in_proj_bias),
                              numpy(module.out_proj.weight).T.copy(), numpy(module.out_proj.bias), module.num_heads)


def torch_mha_grads_as_numpy(module: torch.nn.MultiheadAttention) -> list[np.ndarray]:
    """The module's gradients in ``MultiHeadAttention.grads``' layout: ``[dW_in (D, 3D), db_in, dW_out (D, D), db_out]``."""
    numpy = lambda t: t.grad.detach().cpu().numpy()
    return [numpy(module.in_proj_weight).T, numpy(module.in_proj_bias),
            numpy(module.out_proj.weight).T, numpy(module.out_proj.bias)]


def torch_masks(mask: np.ndarray | None) -> torch.Tensor | None:
    """Our mask (True = attend) as ``nn.MultiheadAttention``'s ``attn_mask`` or ``key_padding_mask`` (True = ignore)."""
    return None if mask is None else torch.from_numpy(~np.asarray(mask, dtype=bool))


def layer_norm_to_torch(norm: LayerNorm) -> torch.nn.LayerNorm:
    """``nn.LayerNorm(D)`` with ``weight = gamma`` and ``bias = beta``, the same eps."""
    gamma, beta = norm.params
    module = torch.nn.LayerNorm(gamma.shape[0], eps=norm.eps, dtype=torch.from_numpy(gamma).dtype)
    with torch.no_grad():
        module.weight.copy_(to_torch(gamma))
        module.bias.copy_(to_torch(beta))
    return module


def transformer_block_to_torch(block: TransformerEncoderBlock) -> torch.nn.TransformerEncoderLayer:
    """``nn.TransformerEncoderLayer(D, h, d_ff, dropout=0, batch_first=True, norm_first=...)`` with the block's weights.

    The torch layer's parameters are ``self_attn`` (in ``nn.MultiheadAttention``'s layout),
    ``linear1``, ``linear2`` (``nn.Linear``: ``weight = W.T``), ``norm1``, ``norm2``; ReLU, no dropout.
    """
    D = block.attention.width
    d_ff = block.linear1.params[0].shape[1]
    dtype = torch.from_numpy(block.params[0]).dtype
    module = torch.nn.TransformerEncoderLayer(D, block.attention.num_heads, d_ff, dropout=0.0, batch_first=True,
                                              norm_first=block.norm_first, dtype=dtype)
    module.self_attn.load_state_dict(mha_to_torch(block.attention).state_dict())
    for name in ("linear1", "linear2"):
        W, b = getattr(block, name).params
        with torch.no_grad():
            getattr(module, name).weight.copy_(to_torch(W.T))
            getattr(module, name).bias.copy_(to_torch(b))
    for name in ("norm1", "norm2"):
        getattr(module, name).load_state_dict(layer_norm_to_torch(getattr(block, name)).state_dict())
    return module


def torch_transformer_block_to_numpy(module: torch.nn.TransformerEncoderLayer) -> TransformerEncoderBlock:
    """The NumPy block of an ``nn.TransformerEncoderLayer`` with ReLU (its dropout is dropped)."""
    if module.activation_relu_or_gelu != 1:
        raise ValueError("TransformerEncoderBlock uses ReLU; this layer uses another activation")
    norms = [LayerNorm(n.weight.detach().cpu().numpy().copy(), n.bias.detach().cpu().numpy().copy(), n.eps)
             for n in (module.norm1, module.norm2)]
    return TransformerEncoderBlock(torch_mha_to_numpy(module.self_attn), linear_to_affine(module.linear1),
                                   linear_to_affine(module.linear2), *norms, norm_first=module.norm_first)


def torch_transformer_block_grads_as_numpy(module: torch.nn.TransformerEncoderLayer) -> list[np.ndarray]:
    """The torch layer's gradients in ``TransformerEncoderBlock.grads``' order and layout."""
    grads = torch_mha_grads_as_numpy(module.self_attn)
    for linear in (module.linear1, module.linear2):
        grads += [linear.weight.grad.detach().cpu().numpy().T, linear.bias.grad.detach().cpu().numpy()]
    for norm in (module.norm1, module.norm2):
        grads += [norm.weight.grad.detach().cpu().numpy(), norm.bias.grad.detach().cpu().numpy()]
    return grads



# ---------------------------------------------------------------------------------------------
# BERT: the NumPy Bert + MaskedLMHead and torch's TinyBert


def bert_to_torch(bert: Bert, head: MaskedLMHead, config: BertConfig) -> TinyBert:
    """A ``TinyBert(config)`` with the weights of the NumPy ``bert`` and ``head`` (its dropout as the config says)."""
    dtype = torch.from_numpy(bert.params[0]).dtype
    model = TinyBert(config).to(dtype)
    token, segment, position, gamma, beta = bert.embeddings.params
    with torch.no_grad():
        for module, table in ((model.token_embedding, token), (model.segment_embedding, segment),
                              (model.position_embedding, position)):
            module.weight.copy_(to_torch(table))
        model.embedding_norm.weight.copy_(to_torch(gamma))
        model.embedding_norm.bias.copy_(to_torch(beta))
        model.mlm_bias.copy_(to_torch(head.params[0]))
    for layer, block in zip(model.layers, bert.blocks):
        layer.load_state_dict(transformer_block_to_torch(block).state_dict())
    return model


def torch_bert_to_numpy(model: TinyBert) -> tuple[Bert, MaskedLMHead]:
    """The NumPy ``Bert`` and tied ``MaskedLMHead`` of a ``TinyBert`` (dropout dropped: evaluation mode)."""
    numpy = lambda t: t.detach().cpu().numpy().copy()
    norm = model.embedding_norm
    embeddings = BertEmbeddings(Embedding(numpy(model.token_embedding.weight)), Embedding(numpy(model.segment_embedding.weight)),
                                Embedding(numpy(model.position_embedding.weight)),
                                LayerNorm(numpy(norm.weight), numpy(norm.bias), norm.eps))
    bert = Bert(embeddings, [torch_transformer_block_to_numpy(layer) for layer in model.layers])
    return bert, MaskedLMHead(embeddings.token, numpy(model.mlm_bias))


def torch_bert_grads_as_numpy(model: TinyBert) -> list[np.ndarray]:
    """The model's gradients in the order and layout of ``bert.grads + head.grads``."""
    numpy = lambda t: t.grad.detach().cpu().numpy()
    grads = [numpy(model.token_embedding.weight), numpy(model.segment_embedding.weight),
             numpy(model.position_embedding.weight), numpy(model.embedding_norm.weight), numpy(model.embedding_norm.bias)]
    for layer in model.layers:
        grads += torch_transformer_block_grads_as_numpy(layer)
    return grads + [numpy(model.mlm_bias)]
