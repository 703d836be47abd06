"""Chapter 4's diagram: the LSTM cell in PyTorch's convention, as seqlab/lstm.py computes it.

``a = x @ Wx + h_prev @ Wh + b``: (N, 4H), sliced into the gates in PyTorch's order i, f, g, o
(σ, σ, tanh, σ); ``c_next = f * c_prev + i * g``; ``h_next = o * tanh(c_next)``; every state (N, H).
"""
from __future__ import annotations

from svgkit import Diagram


def lstm_cell() -> Diagram:
    d = Diagram(740, 470, title="The LSTM cell: one affine map a of shape (N, 4H), sliced into the "
                "gates i, f, g, o; the cell path c_prev to c_next on top")
    cy = 84  # the conveyor belt
    d.text(370, 22, "the cell path (the conveyor belt):  c\\_next = f ⊙ c\\_prev + i ⊙ g",
           role="cell", colour="text", size=14)
    c_prev = d.box(20, cy - 24, 96, 48, "c\\_prev", role="cell", shape="(N, H)")
    xs = {"i": 200, "f": 290, "g": 380, "o": 470}
    fmul = d.op(xs["f"], cy, "⊙")
    plus = d.op(xs["g"], cy, "+")
    c_next = d.box(630, cy - 24, 100, 48, "c\\_next", role="cell", shape="(N, H)")

    # the affine map and its four slices
    a = d.box(150, 340, 370, 56, "a = x Wx + h\\_prev Wh + b", role="gate", shape="(N, 4H)")
    slices = {"i": "a[:, :H]", "f": "a[:, H:2H]", "g": "a[:, 2H:3H]", "o": "a[:, 3H:]"}
    ops = {}
    for k, x in xs.items():
        s = d.box(x - 44, 296, 88, 34, slices[k], role="gate", size=12, rx=3)
        ops[k] = d.op(x, 250, "tanh" if k == "g" else "σ", role="gate")
        d.arrow([s.n, ops[k].s], role="gate")
    d.shape(494, 250, "i, f, g, o: (N, H)", anchor="start")
    h_prev = d.box(20, 344, 96, 48, "h\\_prev", role="hidden", shape="(N, H)")
    d.arrow([h_prev.e, a.west], role="hidden")
    x_in = d.box(287, 418, 96, 46, "x", role="input", shape="(N, D)")
    d.arrow([x_in.n, a.s], role="input")

    # f scales the old cell; i ⊙ g is added to it
    d.arrow([c_prev.e, fmul.west], role="cell")
    d.arrow([ops["f"].n, fmul.s], role="gate", label="f", label_at=(xs["f"] + 10, 200),
            label_anchor="start")
    ig = d.op(xs["g"], 160, "⊙")
    d.arrow([ops["g"].n, ig.s], role="gate", label="g", label_at=(xs["g"] + 10, 200),
            label_anchor="start")
    d.arrow([ops["i"].n, (xs["i"], 160), ig.west], role="gate", bridge=True,
            label="i", label_at=(xs["i"] - 10, 200), label_anchor="end")
    d.arrow([ig.n, plus.s], role="gate", label="i ⊙ g", label_at=(xs["g"] + 10, 122),
            label_anchor="start")
    d.arrow([fmul.e, plus.west], role="cell")
    d.arrow([plus.e, c_next.west], role="cell")

    # h_next = o ⊙ tanh(c_next)
    bx = 560
    d.dot(bx, cy, role="cell")
    th = d.op(bx, 140, "tanh", role="cell")
    d.arrow([(bx, cy), th.n], role="cell")
    omul = d.op(bx, 200, "⊙")
    d.arrow([th.s, omul.n], role="cell")
    d.arrow([ops["o"].n, (xs["o"], 200), omul.west], role="gate", label="o",
            label_at=(xs["o"] - 10, 215), label_anchor="end")
    h_next = d.box(630, 176, 100, 48, "h\\_next", role="hidden", shape="(N, H)")
    d.arrow([omul.e, h_next.west], role="hidden")
    d.text(730, 300, "h\\_next = o ⊙ tanh(c\\_next)", size=13, role="hidden", anchor="end")
    d.shape(680, 44, "to the next step")
    d.shape(730, 236, "to the next step, and up", anchor="end")
    return d


DIAGRAMS = {"lstm-cell": lstm_cell}
