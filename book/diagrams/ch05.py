"""Chapter 5's diagram: the GRU cell in PyTorch's convention, and where DLFS2's GRU differs.

Equations of book/05_gru.md ("Two gates and one state", "Two conventions") and seqlab/gru.py:
``r = σ(x W_xr + h_prev W_hr + b_r)``, ``z = σ(x W_xz + h_prev W_hz + b_z)``,
``n = tanh(x W_xn + b_n + r ⊙ (h_prev W_hn + b_hn))``, ``h_next = (1 − z) ⊙ n + z ⊙ h_prev``;
the fused ``Wx: (D, 3H)``, ``Wh: (H, 3H)``, ``b: (3H,)``, ``b_hn: (H,)`` in the order r, z, n.
"""
from __future__ import annotations

from svgkit import Diagram


def gru_cell() -> Diagram:
    d = Diagram(740, 510, title="The GRU cell in PyTorch's convention, with the two places where "
                "DLFS2's GRU differs")
    ty = 92        # the state path on top
    hb, xb = 372, 432  # the buses of h_prev and x
    gy0, gy1 = 226, 284  # the gate boxes
    gc = (gy0 + gy1) / 2

    h_prev = d.box(20, ty - 24, 100, 48, "h\\_prev", role="hidden", shape="(N, H)")
    plus = d.op(600, ty, "+")
    h_next = d.box(640, ty - 24, 95, 48, "h\\_next", role="hidden", shape="(N, H)")
    x_in = d.box(20, xb - 22, 100, 44, "x", role="input", shape="(N, D)")

    # the buses first, so that the taps crossing them show as bridges
    d.line([(45, h_prev.bottom), (45, hb), (490, hb)], role="hidden")
    d.line([(x_in.right, xb), (600, xb)], role="input")

    # the gates r and z, in the code's order: each reads x and h_prev
    rb = d.box(125, gy0, 140, gy1 - gy0, ["r = σ(x W_{xr}", "+ h\\_prev W_{hr} + b_r)"],
               role="gate", size=12)
    zb = d.box(285, gy0, 140, gy1 - gy0, ["z = σ(x W_{xz}", "+ h\\_prev W_{hz} + b_z)"],
               role="gate", size=12)
    for box in (rb, zb):
        cx = box.c[0]
        d.arrow([(cx - 20, hb), (cx - 20, gy1)], role="hidden")
        d.dot(cx - 20, hb, role="hidden")
        d.arrow([(cx + 20, xb), (cx + 20, gy1)], role="input", bridge=True)
        d.dot(cx + 20, xb, role="input")

    # the mix: h_next = (1 − z) ⊙ n + z ⊙ h_prev
    zx = zb.c[0]
    zmul = d.op(zx, ty, "⊙")
    d.arrow([h_prev.e, zmul.west], role="hidden")
    d.arrow([zmul.e, plus.west], role="hidden", label="z ⊙ h\\_prev", label_at=(478, ty - 12))
    d.arrow([zb.n, zmul.s], role="gate", label="z", label_at=(zx - 10, 176), label_anchor="end")
    d.dot(zx, 142, role="gate")
    one_minus = d.op(470, 142, "1−", role="gate")
    d.arrow([(zx, 142), one_minus.west], role="gate")
    nmul = d.op(600, 142, "⊙")
    d.arrow([one_minus.e, nmul.west], role="gate", label="1 − z", label_at=(535, 130))
    d.arrow([nmul.n, plus.s], role="gate")
    d.arrow([plus.e, h_next.west], role="hidden")
    d.text(735, 134, "h\\_next =", size=13, role="hidden", anchor="end")
    d.text(735, 152, "(1 − z) ⊙ n", size=13, role="hidden", anchor="end")
    d.text(735, 170, "+ z ⊙ h\\_prev", size=13, role="hidden", anchor="end")

    # the candidate n: r acts after the hidden matmul, on hn = h_prev W_hn + b_hn; r's wire
    # crosses z's on its way to the candidate (a bridge, not a junction)
    hn = d.box(400, 300, 180, 36, "hn = h\\_prev W_{hn} + b_{hn}", role="hidden", size=12)
    d.arrow([(490, hb), hn.s], role="hidden")
    rmul = d.op(490, gc, "⊙")
    d.arrow([hn.n, rmul.s], role="hidden")
    ry = 200
    d.arrow([rb.n, (rb.c[0], ry), (490, ry), rmul.n], role="gate", bridge=True, label="r",
            label_at=(480, 224), label_anchor="end")
    nplus = d.op(600, gc, "+")
    d.arrow([rmul.e, nplus.west], role="gate")
    d.arrow([(600, xb), nplus.s], role="input", label="x W_{xn} + b_n",
            label_at=(608, 350), label_anchor="start")
    th = d.op(600, 192, "tanh", role="gate")
    d.arrow([nplus.n, th.s], role="gate")
    d.arrow([th.n, nmul.s], role="gate", label="n", label_at=(610, 167), label_anchor="start")

    # where DLFS2 differs
    d.callout(130, 8, 560, 46, ["DLFS2 mixes h\\_next = (1 − z) ⊙ h\\_prev + z ⊙ h\u0303:",
                                "its z is this figure's 1 − z (a relabeling)"],
              pointer=(zx, ty - 16), pointer_from=(zx, 54))
    d.callout(300, 452, 435, 50, ["DLFS2 applies r before the matmul, (r ⊙ h\\_prev) W_{hn}:",
                                  "another function"],
              pointer=(540, 338), pointer_from=(540, 452))
    d.text(20, 470, "code: Wx (D, 3H), Wh (H, 3H),", size=12, role="muted", anchor="start")
    d.text(20, 488, "blocks in the order r, z, n", size=12, role="muted", anchor="start")
    return d


DIAGRAMS = {"gru-cell": gru_cell}
