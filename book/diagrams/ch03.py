"""Chapter 3's diagrams: the gradient through time as a product of Jacobians; clipping by global norm.

Notation of book/03_gradient_flow.md: ``h_t = tanh(a_t)``, ``a_t = h_{t-1} W_h + x_t W_x + b``,
``J_t = ∂h_t/∂h_{t-1} = diag(1 − h_t²) W_h^T``; and seqlab/optim.py's ``global_norm``,
``clip_grads_by_global_norm(grads, max_norm)``.
"""
from __future__ import annotations

from svgkit import Diagram


def jacobian_product() -> Diagram:
    d = Diagram(740, 330, title="The gradient through time is a product of one Jacobian per step")
    fy, gy = 70, 190  # the forward row and the gradient row
    names = ["h_0", "h_1", "⋯", "h_{t-1}", "h_t", "⋯", "h_T"]
    xs = [50, 160, 250, 345, 475, 570, 670]
    boxes = {}
    for name, x in zip(names, xs):
        if name == "⋯":
            d.text(x, fy, "⋯", size=18)
            d.text(x, gy, "⋯", size=18, role="grad", colour="stroke")
            continue
        boxes[name] = d.box(x - 36, fy - 22, 72, 44, name, role="hidden")
    d.label(670, fy - 36, "(N, H) each", role="muted")

    # forward arrows, one tanh step each
    pairs = [(50, 160), (160, 250), (250, 345), (345, 475), (475, 570), (570, 670)]
    for (a, b) in pairs:
        x0 = a + 36 if a not in (250, 570) else a + 14
        x1 = b - 36 if b not in (250, 570) else b - 14
        d.arrow([(x0, fy), (x1, fy)], role="hidden")
    d.label(410, fy - 34, "h_t = tanh(h_{t-1} W_h + x_t W_x + b)", role="hidden")

    # the loss at the end, and the gradient rows going back
    loss = d.box(640, 112, 60, 40, "L", role="output")
    d.arrow([boxes["h_T"].s, loss.n], role="hidden")
    gnames = {"h_0": "∂L/∂h_0", "h_{t-1}": "∂L/∂h_{t-1}", "h_t": "∂L/∂h_t", "h_T": "∂L/∂h_T",
              "h_1": "∂L/∂h_1"}
    g = {}
    for name, x in zip(names, xs):
        if name in gnames:
            g[name] = d.box(x - 44, gy - 20, 88, 40, gnames[name], role="grad", dashed=True,
                            size=13)
    d.arrow([loss.s, (670, gy - 20)], role="grad", dashed=True)

    def back(x0, x1, lab):
        d.arrow([(x0, gy), (x1, gy)], role="grad", dashed=True)
        if lab:
            d.label((x0 + x1) / 2, gy + 22, lab, role="grad")

    back(670 - 44, 570 + 14, "· J_T")
    back(570 - 14, 475 + 44, "")
    back(475 - 44, 345 + 44, "· J_t")
    back(345 - 44, 250 + 14, "")
    back(250 - 14, 160 + 44, "")
    back(160 - 44, 50 + 44, "· J_1")

    # the formula, in the chapter's notation
    d.rect(20, 240, 700, 78, role="grad", rx=6)
    d.text(370, 262, "J_t = ∂h_t / ∂h_{t-1} = diag(1 − h_t^2) W_h^T,  an (H, H) matrix", size=15)
    d.text(370, 292, "∂L/∂h_0 = (∂L/∂h_T) J_T J_{T-1} ⋯ J_1 :  T matrix products, "
           "‖J_t‖ ≤ σ_{max}(W_h)", size=14)
    return d


def clip_global_norm() -> Diagram:
    d = Diagram(740, 270, title="Clipping by global norm: one norm of all gradients concatenated, one "
                "scale for all")
    names = [("g_1", "dWx", "(D, H)"), ("g_2", "dWh", "(H, H)"), ("g_3", "db", "(H,)"),
             ("g_K", "the head's", "")]
    ys = [14, 66, 118, 190]
    gs = []
    for (gname, code, shape), y in zip(names, ys):
        gs.append(d.box(20, y, 130, 44, f"{gname}: {code}", role="grad", shape=shape or None,
                        size=13))
    d.text(85, 174, "⋮", size=16, role="grad", colour="stroke")
    norm = d.box(215, 82, 200, 80, ["‖g‖ = √(Σ_k ‖g_k‖^2)", "global\\_norm(grads)"],
                 role="grad", size=13)
    for b in gs:
        d.arrow([b.e, (180, b.c[1]), (180, norm.c[1]), norm.west], role="grad", dashed=True)
    d.label(315, 180, "all entries, concatenated", role="grad")
    test = d.box(455, 90, 120, 64, ["if ‖g‖ > θ:", "s = θ / ‖g‖"], role="op", size=13)
    d.arrow([norm.e, test.west], role="grad", dashed=True)
    out = d.box(615, 90, 115, 64, ["g_k ← s · g_k", "for every k"], role="grad", size=13)
    d.arrow([test.e, out.west], role="grad", dashed=True)
    d.text(730, 200, "one scale s for all: the update keeps its direction,", size=13,
           anchor="end")
    d.text(730, 220, "its length is capped at θ (max\\_norm of", size=13, anchor="end")
    d.text(730, 240, "clip\\_grads\\_by\\_global\\_norm)", size=13, anchor="end")
    return d


DIAGRAMS = {
    "gradient-jacobian-product": jacobian_product,
    "gradient-clip-global-norm": clip_global_norm,
}
