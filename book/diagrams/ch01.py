"""Chapter 1's diagram: the computational graph of affine -> softmax -> cross-entropy.

Names as in book/01_softmax_ce_kl.md and seqlab/layers.py (``Affine``, ``SoftmaxCrossEntropy``):
the input h (N, D), the weights W (D, C) and b (C,), the logits z, the probabilities p, the
targets y and the loss L; the backward pass starts from (p - y) / N.
"""
from svgkit import Diagram, text_width


def softmax_ce_graph() -> Diagram:
    d = Diagram(744, 336, title="Affine, softmax and cross-entropy as a computational graph: "
                "the forward values and the gradient (p − y)/N flowing back")
    fy = 150  # the forward row's centre line

    # The forward pass, left to right.
    h = d.box(12, fy - 26, 62, 52, "h", role="input", shape="(N, D)")
    aff = d.box(124, fy - 32, 136, 64, ["Affine", "h W + b"], role="ink")
    W = d.box(136, 20, 54, 46, "W", role="param", shape="(D, C)")
    b = d.box(196, 20, 54, 46, "b", role="param", shape="(C,)")
    z = d.box(300, fy - 26, 62, 52, "z", role="output", shape="(N, C)")
    d.label(z.n[0], z.y - 10, "logits", role="output")
    fr = d.frame(392, 84, 236, 124, "SoftmaxCrossEntropy")
    sm = d.op(438, fy, "softmax", role="output")
    p = d.box(492, fy - 26, 56, 52, "p", role="output", shape="(N, C)")
    ce = d.box(570, fy - 30, 50, 60, ["H", "(y, p)"], role="output", size=13)
    L = d.box(638, 20, 96, 46, "L", role="output", shape="mean over N")
    y = d.box(ce.s[0] - 64, 236, 128, 50, "y", role="input", shape="ids (N,) or (N, C)")

    d.arrow([h.e, aff.west], role="input")
    d.arrow([(W.n[0] - 8, W.bottom), (W.n[0] - 8, aff.y)], role="param")
    d.arrow([(b.n[0] - 8, b.bottom), (b.n[0] - 8, aff.y)], role="param")
    d.arrow([aff.e, z.west], role="output")
    d.arrow([z.e, sm.west], role="output")
    d.arrow([sm.e, p.west], role="output")
    d.arrow([p.e, ce.west], role="output")
    d.arrow([ce.e, (686, fy), (686, L.bottom)], role="output")
    d.arrow([y.n, ce.s], role="input")

    # The backward pass, right to left, dashed in the gradient colour.
    gy = 252
    d.arrow([(p.s[0], fr.bottom), (p.s[0], gy), (aff.at(0.7, 1)[0], gy), aff.at(0.7, 1)],
            role="grad", dashed=True)
    d.label(z.s[0] - 30, gy - 13, "∂L/∂z = (p − y)/N", role="grad", anchor="start")
    d.shape(z.s[0] - 30 + text_width("∂L/∂z = (p − y)/N", 13) + 4, gy - 13, "(N, C)", anchor="start")
    d.arrow([aff.at(0.25, 1), (aff.at(0.25, 1)[0], 300), (h.s[0], 300), h.s],
            role="grad", dashed=True)
    d.label(h.s[0] + 10, 314, "∂L/∂h = ∂L/∂z W^T", role="grad", anchor="start")
    d.shape(h.s[0] + 14 + text_width("∂L/∂h = ∂L/∂z W^T", 13), 314, "(N, D)", anchor="start")
    d.arrow([(W.n[0] + 8, aff.y), (W.n[0] + 8, W.bottom)], role="grad", dashed=True)
    d.arrow([(b.n[0] + 8, aff.y), (b.n[0] + 8, b.bottom)], role="grad", dashed=True)
    d.label(W.x - 8, W.c[1], "∂L/∂W = h^T ∂L/∂z", role="grad", anchor="end")
    d.label(b.right + 8, b.c[1], "∂L/∂b = ∑_n ∂L/∂z", role="grad", anchor="start")
    return d


DIAGRAMS = {"softmax-ce-graph": softmax_ce_graph}
