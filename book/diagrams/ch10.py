"""Chapter 10's diagrams: the highway layer, and InfoNCE's similarity matrix.

Names as in book/10_toolbox.md and ``seqlab/highway.py``: one fused affine map ``x W + b`` with
``W: (D, 2D)``, split into the candidate ``h = relu(x W_h + b_h)`` (``a[..., :D]``, ``pre`` in the code) and the
transform gate ``t = σ(x W_t + b_t)`` (``a[..., D:]``); the carry gate ``1 − t``;
``y = t ⊙ h + (1 − t) ⊙ x``. InfoNCE as in ``seqlab/contrastive.py``: the cosine scores
``S = q̂ k̂^T / τ`` ``(N, N)``, each row an N-way classification whose target is the diagonal.
"""
from svgkit import Diagram


def highway_layer() -> Diagram:
    d = Diagram(744, 312, title="A highway layer: a transform h and a transform gate t from one "
                "affine map of x, the carry gate 1 − t, and y = t ⊙ h + (1 − t) ⊙ x")
    yh, yt, yc = 58, 138, 254  # the rows of the candidate, the gate and the carry path

    x = d.box(14, yc - 26, 70, 52, "x", role="input", shape="(…, D)")
    aff = d.box(128, yh - 28, 112, yt - yh + 56, ["a = x W + b"], role="ink", shape="W: (D, 2D)")
    d.arrow([x.e, (aff.c[0], yc), aff.s], role="input")
    # the candidate: h = relu(x W_h + b_h)
    relu = d.op(370, yh, "relu", role="hidden")
    d.arrow([(aff.right, yh), relu.west], role="hidden")
    d.label(294, yh - 13, "x W_h + b_h", role="hidden")
    d.shape(294, yh + 13, "a[…, :D]")
    mul_h = d.op(560, yh, "⊙")
    d.arrow([relu.e, mul_h.west], role="hidden")
    d.label(470, yh - 13, "h", role="hidden")
    d.shape(470, yh + 13, "(…, D)")
    # the transform gate: t = σ(x W_t + b_t), and the carry gate 1 − t
    sig = d.op(370, yt, "σ", role="gate")
    d.arrow([(aff.right, yt), sig.west], role="gate")
    d.label(294, yt - 13, "x W_t + b_t", role="gate")
    d.shape(294, yt + 13, "a[…, D:]")
    d.line([sig.e, (mul_h.c[0], yt)], role="gate")
    d.rect(mul_h.c[0] - 3.5, yt - 3.5, 7, 7, role="gate", rx=3.5)
    d.label(470, yt - 13, "t", role="gate")
    d.label(470, yt + 15, "transform gate", role="gate")
    d.arrow([(mul_h.c[0], yt), mul_h.s], role="gate")
    one_minus = d.op(mul_h.c[0], 194, "1−", role="gate")
    d.arrow([(mul_h.c[0], yt), one_minus.n], role="gate")
    mul_c = d.op(mul_h.c[0], yc, "⊙")
    d.arrow([one_minus.s, mul_c.n], role="gate")
    d.label(mul_h.c[0] + 12, 216, "1 − t", role="gate", anchor="start")
    d.label(mul_h.c[0] + 12, 232, "carry gate", role="gate", anchor="start")
    # the carry path: x itself
    d.arrow([(aff.c[0], yc), mul_c.west], role="input")
    d.label(400, yc - 13, "x, carried", role="input")
    # y = t ⊙ h + (1 − t) ⊙ x
    add = d.op(660, (yh + yc) / 2, "+")
    d.arrow([mul_h.e, (add.c[0], yh), add.n], role="hidden")
    d.label(612, yh - 13, "t ⊙ h", role="hidden")
    d.arrow([mul_c.e, (add.c[0], yc), add.s], role="input")
    d.label(612, yc + 16, "(1 − t) ⊙ x", role="input")
    y = d.box(690, add.c[1] - 26, 46, 52, "y", role="hidden", shape="(…, D)")
    d.arrow([add.e, y.west], role="hidden")
    d.text(372, 296, "y = t ⊙ h + (1 − t) ⊙ x", size=14)
    return d


def info_nce_matrix() -> Diagram:
    d = Diagram(720, 436, title="InfoNCE with in-batch negatives: the N × N matrix of scaled "
                "cosine similarities, queries against keys, with the positive pairs on the "
                "diagonal as the targets")
    cell, gx, gy = 58, 270, 122  # the grid's cell size and top-left corner
    names = ["1", "2", "⋯", "N"]

    q = d.box(14, gy + 2 * cell - 26, 96, 52, "queries", role="input", shape="(N, D)")
    k = d.box(gx + 2 * cell - 48, 8, 96, 52, "keys", role="input", shape="(N, D)")
    d.arrow([q.e, (gx - 52, q.c[1])], role="input")
    d.label((q.right + gx - 52) / 2, q.c[1] - 13, "x / ‖x‖", role="input")
    d.arrow([k.s, (k.s[0], gy - 34)], role="input")
    d.label(k.s[0] + 10, 76, "x / ‖x‖", role="input", anchor="start")

    for i, ri in enumerate(names):
        q_name, k_name = ("⋮", "⋯") if ri == "⋯" else (f"q̂_{ri}", f"k̂_{ri}")
        d.label(gx - 12, gy + (i + 0.5) * cell, q_name, role="input", anchor="end", size=14)
        d.label(gx + (i + 0.5) * cell, gy - 14, k_name, role="input", size=14)
        for j, cj in enumerate(names):
            x0, y0 = gx + j * cell, gy + i * cell
            if "⋯" in (ri, cj):
                text = "⋱" if i == j else ("⋮" if ri == "⋯" else "⋯")
                d.rect(x0, y0, cell, cell, role="muted", rx=0, stroke_width=1)
                d.text(x0 + cell / 2, y0 + cell / 2, text, size=14, role="muted")
                continue
            positive = i == j
            d.rect(x0, y0, cell, cell, role="output" if positive else "muted", rx=0,
                   stroke_width=1.6 if positive else 1)
            d.text(x0 + cell / 2, y0 + cell / 2, f"S_{{{ri}{cj}}}", size=14,
                   weight="bold" if positive else "normal")
    d.text(gx - 150, 36, "S = q̂ k̂^T / τ", size=15, anchor="start")
    d.shape(gx - 150, 56, "(N, N): queries × keys", anchor="start")

    # each row: a softmax over the N keys, scored against its diagonal entry
    right = gx + 4 * cell
    ce = d.box(right + 36, gy + 2 * cell - 60, 150, 120,
               ["p_i = softmax(S_i),", "over the N keys;", "target: key i", "(the diagonal)"],
               role="output", size=13)
    d.arrow([(right, ce.c[1]), ce.west], role="output")
    L = d.box(ce.x - 20, ce.bottom + 36, 190, 52, "L = −(1/N) ∑_i log p_{ii}", role="output", size=13)
    d.arrow([ce.s, L.n], role="output")

    # the legend
    ly = gy + 4 * cell + 28
    d.rect(gx, ly - 9, 18, 18, role="output", rx=0)
    d.text(gx + 26, ly, "positive pair (q_i, k_i)", size=13, anchor="start")
    d.rect(gx, ly + 19, 18, 18, role="muted", rx=0, stroke_width=1)
    d.text(gx + 26, ly + 28, "in-batch negative (q_i, k_j), j ≠ i", size=13, anchor="start")
    return d


DIAGRAMS = {"highway-layer": highway_layer, "info-nce-matrix": info_nce_matrix}
