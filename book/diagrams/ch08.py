"""Chapter 8's diagrams: attention reading the encoder states, multi-head attention, and the
Transformer encoder block with its LayerNorms before (pre-norm) or after (post-norm) the residual add.

Names as in book/08_attention.md and seqlab/attention.py: ``hs: (N, T, H)`` the encoder states,
``h: (N, H)`` the decoder state (the query), the scores ``s``, the weights ``a: (N, T)``
(``AttentionWeight``) and the context ``c: (N, H)`` (``WeightSum``); the additive score with the
names of exercise 08's ``additive_attention`` (``W, U: (H, A)``, ``v: (A,)``), whose output is
``score_j`` there (the exercise calls the decoder state ``s``, noted under ``h_t``). Multi-head attention
as ``MultiHeadAttention.forward`` computes it (``W_in: (D, 3D)``, ``_split_heads`` to
``(N, h, T, d)``, ``_merge_heads``, ``W_out``), and the block as ``TransformerEncoderBlock.forward``
(``attention``, ``norm1``, ``linear1``, ``linear2``, ``norm2``, ``norm_first``).
"""
from svgkit import Diagram, text_width


def _strip(d: Diagram, x: float, y: float, cell_w: float, h: float, labels: list[str], role: str,
           size: float = 14):
    """A row of cells, one per position (an array's T axis); returns the cells' anchors."""
    return [d.box(x + i * cell_w, y, cell_w, h, s, role=role, rx=2, size=size)
            for i, s in enumerate(labels)]


def attention_read() -> Diagram:
    d = Diagram(760, 532, title="Attention reads the encoder states: every encoder state is scored "
                "against the decoder state h_t (a dot product, or Bahdanau's additive score), a "
                "softmax over the T positions gives the weights a, and their weighted sum of the "
                "encoder states is the context c_t")
    cell = 72
    x0 = 64

    # Row 1: what attention reads (hs) and who asks (h).
    d.text(x0, 18, "encoder states", anchor="start", role="hidden", size=13)
    d.shape(x0 + text_width("encoder states", 13) + 4, 18, "hs: (N, T, H)", anchor="start")
    hs = _strip(d, x0, 32, cell, 44, ["h^{enc}_1", "h^{enc}_2", "⋯", "h^{enc}_T"], "hidden")
    q = d.box(470, 32, 210, 44, "decoder state h_t", role="hidden", shape="h: (N, H)")
    d.label(q.right + 6, q.c[1], "query", role="hidden", anchor="start")

    # Row 2: the score of each position, one of two.
    fr = d.frame(44, 108, 696, 190, "score s_j of every position j against h_t: one of")
    hs_mid = (hs[0].x + hs[-1].right) / 2
    d.arrow([(hs_mid, hs[0].bottom), (hs_mid, fr.y)], role="hidden")
    d.arrow([q.s, (q.s[0], fr.y)], role="hidden")

    left = d.frame(58, 132, 300, 152, "dot product (this chapter)", role="attention")
    he = d.box(72, 162, 74, 36, "h^{enc}_j", role="hidden")
    ht = d.box(72, 216, 74, 36, "h_t", role="hidden")
    dot = d.op(222, 207, "·", role="attention", size=22)
    d.arrow([he.e, (190, he.c[1]), (190, dot.c[1] - 6), (dot.west[0], dot.c[1] - 6)],
            role="hidden")
    d.arrow([ht.e, (190, ht.c[1]), (190, dot.c[1] + 6), (dot.west[0], dot.c[1] + 6)],
            role="hidden")
    d.arrow([dot.e, (300, dot.c[1])], role="attention")
    d.text(316, dot.c[1], "s_j", anchor="start", role="attention")
    d.label(left.x + 12, 271, "AttentionWeight: no parameters", role="attention", anchor="start")

    right = d.frame(372, 132, 354, 152, "additive (Bahdanau; exercise 08)", role="attention")
    he2 = d.box(386, 162, 74, 36, "h^{enc}_j", role="hidden")
    # exercise 08 calls the decoder state s and the score score_j
    ht2 = d.box(386, 212, 74, 44, "h_t", role="hidden", shape="s in ex. 08")
    plus = d.op(530, 207, "+", role="op")
    d.arrow([he2.e, (500, he2.c[1]), (500, plus.c[1] - 6), (plus.west[0] + 1, plus.c[1] - 6)],
            role="hidden")
    d.arrow([ht2.e, (500, ht2.c[1]), (500, plus.c[1] + 6), (plus.west[0] + 1, plus.c[1] + 6)],
            role="hidden")
    d.label(480, he2.c[1] - 11, "W", role="param")
    d.label(480, ht2.c[1] + 12, "U", role="param")
    th = d.op(592, 207, "tanh", role="attention")
    d.arrow([plus.e, th.west], role="attention")
    dv = d.op(662, 207, "· v", role="attention", size=16)
    d.arrow([th.e, dv.west], role="attention")
    d.arrow([dv.s, (dv.s[0], 254)], role="attention")
    d.text(dv.s[0], 264, "score_j", role="attention")
    d.shape(right.x + 12, 271, "W, U: (H, A); v: (A,)", anchor="start")

    # Row 3: scores -> softmax over T -> weights.
    sy = 326
    s = _strip(d, x0, sy, cell * 0.75, 40, ["s_1", "s_2", "⋯", "s_T"], "attention")
    s_mid = (s[0].x + s[-1].right) / 2
    d.arrow([(s_mid, fr.bottom), (s_mid, sy)], role="attention")
    d.shape(s_mid, sy + 54, "s: (N, T)")
    sm = d.op(346, sy + 20, "softmax over T", role="attention")
    d.arrow([s[-1].e, sm.west], role="attention")
    a_x = 470
    a_cells = [d.rect(a_x + i * cell, sy - 6, cell, 52, role="attention", rx=2, filled=False)
               for i in range(4)]
    d.arrow([sm.e, a_cells[0].west], role="attention")
    for c, name, share in zip(a_cells, ["a_1", "a_2", "⋯", "a_T"], [0.15, 0.7, 0, 0.1]):
        d.text(c.c[0], c.y + 12, name, size=13)
        if share:  # a bar: a thick line in the attention colour
            d.line([(c.c[0], c.bottom - 4), (c.c[0], c.bottom - 4 - 30 * share)],
                   role="attention", width=24)
    d.shape(a_cells[1].right - 10, sy + 62, "a: (N, T), each row sums to 1", anchor="end")

    # Row 4: the weighted sum reads hs a second time.
    ws = d.box(a_x, 408, 4 * cell, 48, "c_t = ∑_j a_j h^{enc}_j", role="attention",
               shape="WeightSum")
    d.arrow([(ws.c[0], sy + 46), (ws.c[0], ws.y)], role="attention")
    d.arrow([hs[0].west, (24, hs[0].c[1]), (24, ws.c[1]), ws.west], role="hidden")
    d.label(30, ws.c[1] - 12, "hs, read a second time", role="hidden", anchor="start")
    c = d.box(ws.c[0] - 80, 480, 160, 44, "context c_t", role="attention", shape="c: (N, H)")
    d.arrow([ws.s, c.n], role="attention")
    return d


def _cards(d: Diagram, x: float, y: float, w: float, h: float, lines, role: str, *,
           shape: str | None = None, n: int = 3, step: float = 6, size: float = 14):
    """A stack of ``n`` cards (one per head), the front one at ``(x, y)`` with the text; the
    others peek out above and to the right. Returns the front card's anchors."""
    for i in range(n - 1, 0, -1):
        d.rect(x + i * step, y - i * step, w, h, role=role, rx=4)
    return d.box(x, y, w, h, lines, role=role, shape=shape, rx=4, size=size)


def multi_head_attention() -> Diagram:
    d = Diagram(760, 500, title="Multi-head self-attention as MultiHeadAttention.forward computes "
                "it: one projection to queries, keys and values, a split into h heads of d = D / h "
                "features, scaled dot-product attention in every head, the heads concatenated, and "
                "the output projection")
    cx = 196      # the graph's centre line
    code_x = 410  # where the code's names start, on the right
    qkv_w = 100

    def note(y: float, first: str, second: str | None = None) -> None:
        d.text(code_x, y - (9 if second else 0), first, anchor="start", size=13)
        if second:
            d.shape(code_x, y + 10, second, anchor="start")

    x = d.box(cx - 60, 16, 120, 44, "x", role="hidden", shape="(N, T, D)")
    note(38, "self-attention: query = key = value = x")

    qy = 100
    qkv = [d.box(cx - 1.5 * qkv_w + i * qkv_w, qy, qkv_w, 44, name, role="attention", rx=2,
                 shape="(N, T, D)") for i, name in enumerate("qkv")]
    d.arrow([x.s, (cx, qy)], role="hidden")
    d.label(cx + 8, 80, "x W_{in} + b_{in}", role="param", anchor="start")
    note(qy + 22, "qkv = query @ W\\_in + b\\_in", "W\\_in: (D, 3D), one matmul for q, k and v")

    hy = 196
    heads_in = []
    for i, name in enumerate("qkv"):
        hx = qkv[i].x + 4
        heads_in.append(_cards(d, hx, hy, qkv_w - 20, 44, name, "attention", shape="(N, h, T, d)",
                               size=14))
        d.arrow([(hx + (qkv_w - 20) / 2, qkv[i].bottom), (hx + (qkv_w - 20) / 2, hy - 12)],
                role="attention")
    note(hy + 14, "\\_split\\_heads: (N, T, D) → (N, h, T, d)",
         "h = num\\_heads heads of d = D / h features each")

    ay = 294
    att = _cards(d, cx - 150, ay, 300, 50, "softmax(q k^T / √d + mask) v", "attention",
                 shape="in each head", n=4)
    for card in heads_in:
        d.arrow([card.s, (card.s[0], ay - 18)], role="attention")
    d.label(att.right + 26, ay - 22, "h heads", role="attention", anchor="start")
    note(ay + 16, "scaled\\_dot\\_product\\_attention(q, k, v, mask)",
         "all heads at once: heads (N, h, T, d)")

    my = 386
    mw = 300 / 4
    merged = [d.box(cx - 150 + i * mw, my, mw, 40, name, role="attention", rx=2, size=13)
              for i, name in enumerate(["head_1", "head_2", "⋯", "head_h"])]
    d.arrow([att.s, (cx, my)], role="attention")
    note(my + 20, "\\_merge\\_heads: concatenate", "merged: (N, T, D)")

    out = d.box(cx - 60, 452, 120, 44, "out", role="hidden", shape="(N, T, D)")
    d.arrow([(cx, merged[0].bottom), out.n], role="attention")
    d.label(cx + 8, 438, "W_{out}, b_{out}", role="param", anchor="start")
    note(474, "merged @ W\\_out + b\\_out", "W\\_out: (D, D)")
    return d


def transformer_block_norms() -> Diagram:
    d = Diagram(760, 384, title="A Transformer encoder block, post-norm against pre-norm: where "
                "the LayerNorms norm1 and norm2 sit relative to the residual additions")
    # x centres of the slots; both rows use the same ones, so that a slot is the same step.
    X, LN_PRE1, MHA, ADD1, LN_POST1, LN_PRE2, FFN, ADD2, LN_POST2, OUT = (
        29, 112, 196, 266, 328, 418, 519, 600, 664, 734)
    SPLIT1, SPLIT2 = 70, 376

    def row(y0: float, norm_first: bool) -> None:
        title = ("pre-norm, norm\\_first=True (GPT-2 and most later models)" if norm_first else
                 "post-norm, norm\\_first=False (Vaswani et al., BERT; torch's default)")
        d.text(12, y0 + 10, title, anchor="start", size=14, weight="bold")
        yb, yl = y0 + 52, y0 + 112  # the sublayers' centre line, the residual line

        def ln(cx: float, y: float, name: str):
            return d.box(cx - 28, y - 22, 56, 44, "LN", role="op", shape=name, bold=True)

        x = d.box(X - 21, yl - 22, 42, 44, "x", role="hidden")
        out = d.box(OUT - 22, yl - 22, 44, 44, "out", role="hidden", size=13)
        mha = d.box(MHA - 40, yb - 22, 80, 44, "MHA", role="attention", shape="attention")
        ffn = d.box(FFN - 55, yb - 22, 110, 44, "FFN", role="param", shape="linear1, linear2")
        add1, add2 = d.op(ADD1, yl, "+"), d.op(ADD2, yl, "+")
        resid = dict(role="hidden", width=2.6)
        if norm_first:
            n1, n2 = ln(LN_PRE1, yb, "norm1"), ln(LN_PRE2, yb, "norm2")
            d.arrow([(SPLIT1, yl), (SPLIT1, yb), n1.west])
            d.arrow([n1.e, mha.west])
            d.arrow([(SPLIT2, yl), (SPLIT2, yb), n2.west])
            d.arrow([n2.e, ffn.west])
            d.arrow([add1.e, add2.west], **resid)
            d.arrow([add2.e, out.west], **resid)
            d.label(SPLIT1, yl + 34, "the residual path from x to out: additions only, "
                    "an identity", role="hidden", anchor="start")
        else:
            n1, n2 = ln(LN_POST1, yl, "norm1"), ln(LN_POST2, yl, "norm2")
            d.arrow([(SPLIT1, yl), (SPLIT1, yb), mha.west])
            d.arrow([(SPLIT2, yl), (SPLIT2, yb), ffn.west])
            d.arrow([add1.e, n1.west], **resid)
            d.arrow([n1.e, add2.west], **resid)
            d.arrow([add2.e, n2.west], **resid)
            d.arrow([n2.e, out.west], **resid)
            d.label(SPLIT1, yl + 34, "the residual path passes through norm1 and norm2",
                    role="hidden", anchor="start")
        d.arrow([x.e, add1.west], **resid)
        for split in (SPLIT1, SPLIT2):  # where a branch leaves the residual line
            d.dot(split, yl, role="hidden", r=4)
        d.arrow([mha.e, (ADD1, yb), add1.n])
        d.arrow([ffn.e, (ADD2, yb), add2.n])

    row(0, norm_first=False)
    row(170, norm_first=True)
    d.shape(12, 360, "MHA = MultiHeadAttention (self-attention); FFN = linear2(relu(linear1(x))), "
            "applied at each position; LN = LayerNorm", anchor="start")
    return d


DIAGRAMS = {"attention-read": attention_read, "multi-head-attention": multi_head_attention,
            "transformer-block-norms": transformer_block_norms}
