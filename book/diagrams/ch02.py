"""Chapter 2's diagrams: CBOW against an RNN, the unrolled RNN with BPTT, truncated BPTT's batches.

Names follow book/02_rnn.md and seqlab/rnn.py (``xs: (N, T, D)``, ``hs: (N, T, H)``, ``Wx``,
``Wh``, ``b``, ``dhs``, ``dh``); the truncated-BPTT figure reads its positions from
``seqlab.lm.bptt_index_layout`` with the chapter's own example (20 tokens, N = 2, T = 3).
"""
from __future__ import annotations

from svgkit import Diagram, ortho

from seqlab.lm import bptt_index_layout


def cbow_vs_rnn() -> Diagram:
    d = Diagram(740, 300, title="CBOW averages the context embeddings; an RNN carries a state h "
                "through time")
    words = ["you", "say", "goodbye"]

    # left: CBOW
    d.frame(10, 10, 300, 280, "CBOW: the mean of the embeddings", title_anchor="start")
    xs = [65, 160, 255]
    boxes = [d.box(x - 42, 210, 84, 46, w, role="input", shape="(D,)") for x, w in zip(xs, words)]
    mean = d.op(160, 140, "mean", role="op")
    for b in boxes:
        d.arrow([b.n, (b.n[0], 170), (mean.c[0], 170), mean.s] if b.n[0] != mean.c[0]
                else [b.n, mean.s], role="input")
    ctx = d.box(110, 50, 100, 46, "context", role="input", shape="(D,)")
    d.arrow([mean.n, ctx.s], role="input")
    d.text(160, 272, "any order of the words: the same mean", size=13, role="muted")

    # right: RNN
    d.frame(325, 10, 405, 280, "RNN: a state h carried through time", title_anchor="start")
    cols = [445, 555, 665]
    h0 = d.box(335, 100, 52, 46, "h_0", role="hidden")
    steps = [d.box(c - 36, 96, 72, 54, ["tanh", "Wx, Wh, b"], role="hidden", size=13)
             for c in cols]
    prev = h0
    for k, (c, s) in enumerate(zip(cols, steps)):
        d.arrow([prev.e, s.west], role="hidden")
        if k:
            d.label((prev.right + s.x) / 2, 113, f"h_{k}", role="hidden")
        x = d.box(c - 42, 210, 84, 46, words[k], role="input", shape="(D,)")
        d.arrow([x.n, s.s], role="input")
        prev = s
    d.arrow([steps[-1].n, (cols[-1], 50)], role="hidden")
    d.label(cols[-1] + 22, 58, "h_3", role="hidden", anchor="start")
    d.text(527, 272, "another order of the words: another h_3", size=13, role="muted")
    return d


def rnn_bptt() -> Diagram:
    d = Diagram(740, 400, title="The unrolled RNN: forward through h, backward (BPTT) through dh "
                "and dhs")
    top = 30
    loss = d.box(150, top, 520, 42, "the layers above, and the loss L", role="output")
    cols = [(200, "1"), (410, "t"), (620, "T")]
    sy, sh, sw = 190, 62, 92  # step boxes: top, height, width
    fy, by = sy + 20, sy + 44  # y of the forward h arrows and of the backward dh arrows
    h0 = d.box(20, sy + 8, 64, 46, "h_0", role="hidden", shape="(N, H)")
    steps = []
    for cx, t in cols:
        s = d.box(cx - sw / 2, sy, sw, sh, ["tanh", "Wx, Wh, b"], role="hidden", size=13)
        steps.append(s)
        # output h_t up to the layers above, gradient dhs[:, t] down
        d.arrow([(cx - 14, sy), (cx - 14, top + 42)], role="hidden")
        d.label(cx - 20, 120, f"h_{t}", role="hidden", anchor="end")
        d.arrow([(cx + 14, top + 42), (cx + 14, sy)], role="grad", dashed=True)
        code_t = {"1": "0", "t": "t−1", "T": "T−1"}[t]  # hs[:, t - 1] is h_t: code counts from 0
        d.label(cx + 20, 140, f"dhs[:, {code_t}]", role="grad", anchor="start")
        # input x_t from below
        x = d.box(cx - 34, 300, 68, 42, f"x_{t}", role="input", shape="(N, D)")
        d.arrow([x.n, (cx, sy + sh)], role="input")

    def fwd(x0, x1, lab, lab_x=None):
        d.arrow([(x0, fy), (x1, fy)], role="hidden")
        d.label(lab_x if lab_x is not None else (x0 + x1) / 2, fy - 12, lab, role="hidden")

    def bwd(x0, x1):
        d.arrow([(x0, by), (x1, by)], role="grad", dashed=True)
        d.label((x0 + x1) / 2, by + 14, "dh", role="grad")

    s1, st, sT = steps
    fwd(h0.right, s1.x, "", None)
    bwd(s1.x, h0.right)
    fwd(s1.right, 290, "h_1")
    bwd(290, s1.right)
    d.text(305, fy + 12, "⋯", size=18)
    fwd(320, st.x, "h_{t-1}")
    bwd(st.x, 320)
    fwd(st.right, 500, "h_t")
    bwd(500, st.right)
    d.text(515, fy + 12, "⋯", size=18)
    fwd(530, sT.x, "h_{T-1}")
    bwd(sT.x, 530)
    d.arrow([(sT.right, fy), (728, fy)], role="hidden")
    d.label(700, fy - 12, "h_T", role="hidden")

    d.text(20, 365, "xs: (N, T, D) in, hs: (N, T, H) out. The same Wx, Wh, b at every step:",
           size=13, anchor="start")
    d.text(20, 385, "their gradients are summed over t. Step t's backward starts from "
           "dhs[:, t−1] + dh (code counts from 0).", size=13, anchor="start")
    d.label(20, sy - 14, "∂L/∂h_0", role="grad", anchor="start")
    return d


def truncated_bptt() -> Diagram:
    L, N, T = 20, 2, 3  # the chapter's example
    layout = bptt_index_layout(n_tokens=L, batch_size=N, time_size=T)  # (n_blocks, N, T)
    n_blocks = layout.shape[0]
    jump = (L - 1) // N
    d = Diagram(740, 330, title="Truncated BPTT: each row of the batch reads its own stretch of the "
                "corpus, block after block")

    # the corpus as a strip of L tokens
    cw, x0, y0 = 31, 60, 58
    read = {int(p): (n, k) for k in range(n_blocks) for n in range(N) for p in layout[k, n]}
    d.text(x0 - 10, y0 + 14, "corpus", size=13, anchor="end")
    for p in range(L):
        role = "input" if p in read else "muted"
        d.box(x0 + p * cw, y0, cw, 28, str(p), role=role, rx=2, size=12)
    # the rows' stretches above the strip, and the block boundaries inside them
    for n in range(N):
        start = n * jump
        first, last = start, start + n_blocks * T - 1
        xa, xb = x0 + first * cw + 2, x0 + (last + 1) * cw - 2
        d.line([(xa, y0 - 6), (xa, y0 - 14), (xb, y0 - 14), (xb, y0 - 6)], role="ink")
        d.text((xa + xb) / 2, y0 - 28, f"row {n}: from offset {n} · jump = {start}", size=13)
        for k in range(1, n_blocks):
            xk = x0 + (start + k * T) * cw
            d.line([(xk, y0 - 3), (xk, y0 + 31)], role="ink", width=2.6)
    d.text(x0 + (N * jump + (L - N * jump) / 2) * cw, y0 - 28, "no input", size=13, role="muted")
    d.text(x0, y0 + 48, f"jump = (len(ids) − 1) // N = ({L} − 1) // {N} = {jump};  "
           f"thick bars: block boundaries (T = {T})", size=13, anchor="start")

    # the batches: block k is xs of shape (N, T)
    gw, gh = 40, 28
    px = [70, 320, 570][:n_blocks]
    gy = 160
    for k, X in enumerate(px):
        d.text(X + T * gw / 2, gy - 16, f"block {k}: xs (N, T)", size=13)
        for n in range(N):
            for j in range(T):
                d.box(X + j * gw, gy + n * gh, gw, gh, str(int(layout[k, n, j])), role="input",
                      rx=2, size=12)
        if k + 1 < n_blocks:  # the state carried to the next block, row by row
            for n in range(N):
                y = gy + n * gh + gh / 2
                d.arrow([(X + T * gw + 4, y), (px[k + 1] - 4, y)], role="hidden")
            d.label((X + T * gw + px[k + 1]) / 2, gy - 8, "h carried", role="hidden")
        # the backward pass of the block: from its last step back to its first, then stopped
        yb = gy + N * gh + 18
        d.arrow([(X + T * gw, yb), (X + 6, yb)], role="grad", dashed=True)
        d.line([(X, yb - 9), (X, yb + 9)], role="grad", width=3)
    for n in range(N):
        d.text(px[0] - 8, gy + n * gh + gh / 2, f"row {n}", size=13, anchor="end")
    d.label(px[0], gy + N * gh + 40, "backward: inside the block only, stopped at its first state",
            role="grad", anchor="start")
    d.text(px[0], gy + N * gh + 72, "Block k + 1 of row n continues block k of row n: the carried "
           "h is the state of the same text.", size=13, anchor="start")
    d.text(px[0], gy + N * gh + 92, "The targets ts are the positions one further.", size=13,
           anchor="start")
    return d


DIAGRAMS = {
    "rnn-cbow-vs-rnn": cbow_vs_rnn,
    "rnn-bptt": rnn_bptt,
    "rnn-truncated-bptt": truncated_bptt,
}
