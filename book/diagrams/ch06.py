"""Chapter 6's diagram: the generation loop of ``seqlab/generate.py``.

``generate`` calls the step function (``lm_step_fn(model)``: one step of the language model, its
states carried from call to call), draws the next token with ``sample_next`` (whose
``sampling_distribution`` applies top-k, then the temperature, then softmax), and feeds the drawn
token back as the next input. Names as in the module; shapes with the chapter's N for the
number of sequences (``generate``'s and ``lm_zero_state``'s letter; the step function's
docstring calls it B): ``last_ids (N,)``, ``log_probs (N, V)``, ``probs (N, V)``,
``next_ids (N,)``, states ``(N, S, H)`` each.
"""
from svgkit import Diagram


def generation_loop() -> Diagram:
    d = Diagram(752, 448, title="The generation loop: the language model's step function gives "
                "log-probabilities, top-k, temperature and softmax shape them, a token is drawn "
                "and fed back as the next input")
    ay, by = 118, 326  # the centre lines of the model's row and of the sampler's row

    # Row A: the step function, left to right.
    start = d.box(14, 20, 104, 40, "start\\_ids", role="input", size=13)
    last = d.box(14, ay - 24, 104, 48, "last\\_ids", role="input", shape="(N,)")
    d.arrow([start.s, last.n], role="input")
    d.label(start.s[0] + 8, 77, "t = 0", role="input", anchor="start")
    fa = d.frame(146, 44, 598, 132, "step\\_fn = lm\\_step\\_fn(model)", title_anchor="end")
    emb = d.box(164, ay - 22, 104, 44, "Embedding", role="input")
    lstm = d.box(318, ay - 22, 84, 44, "LSTM", role="hidden")
    aff = d.box(452, ay - 22, 76, 44, "Affine", role="ink")
    lsm = d.op(628, ay, "log\\_softmax", role="output")
    d.arrow([last.e, emb.west], role="input")
    d.arrow([emb.e, lstm.west], role="input")
    d.shape((emb.right + lstm.x) / 2, ay - 12, "(N, D)")
    d.arrow([lstm.e, aff.west], role="hidden")
    d.shape((lstm.right + aff.x) / 2, ay - 12, "(N, H)")
    d.arrow([aff.e, lsm.west], role="output")
    d.shape((aff.right + lsm.x) / 2, ay - 12, "(N, V)")
    # The states, carried from one call to the next (step_fn returns new_states).
    loop_top = 66
    d.arrow([lstm.at(0.8, 0), (lstm.at(0.8, 0)[0], loop_top), (lstm.at(0.2, 0)[0], loop_top),
             lstm.at(0.2, 0)], role="hidden")
    d.label(lstm.at(0.8, 0)[0] + 8, loop_top, "states (h, c)", role="hidden", anchor="start")
    d.shape(lstm.at(0.8, 0)[0] + 8, loop_top + 16, "(N, S, H) each", anchor="start")
    d.label(lstm.x - 8, loop_top + 2, "initial\\_state", role="hidden", anchor="end")
    d.shape(lstm.x - 8, loop_top + 18, "at t = 0", anchor="end")

    # From row A down to row B.
    turn_x = 722
    d.label(turn_x - 8, 212, "log\\_probs", role="output", anchor="end")
    d.shape(turn_x - 8, 228, "(N, V)", anchor="end")

    # Row B: sample_next, right to left.
    fb = d.frame(146, 250, 560, 146, "sample\\_next(log\\_probs, rng, temperature, top\\_k)")
    fs = d.frame(404, 272, 292, 110, "sampling\\_distribution", title_anchor="end")
    topk = d.box(588, by - 26, 100, 52, "top-k", role="output", shape="others → −∞")
    # One arrow from log_softmax down to top-k: a single head, at top-k.
    d.arrow([lsm.e, (turn_x, ay), (turn_x, by), topk.e], role="output")
    temp = d.op(548, by, "÷τ", role="output", r=16)
    d.label(548, by + 32, "temperature", role="output")
    sm = d.op(468, by, "softmax", role="output")
    d.arrow([topk.west, temp.e], role="output")
    d.arrow([temp.west, sm.e], role="output")
    draw = d.box(156, by - 38, 168, 76, ["u = rng.random(),", "next id: the first", "with cumsum > u"],
                 role="output", size=13)
    d.arrow([sm.west, draw.e], role="output")
    d.label((draw.right + fs.x) / 2, by - 14, "probs", role="output")
    d.shape((draw.right + fs.x) / 2, by + 14, "(N, V)")

    # The drawn token: written to the output, and fed back as the next input.
    nxt = d.box(14, by - 24, 104, 48, "next\\_ids", role="input", shape="(N,)")
    d.arrow([draw.west, nxt.e], role="input")
    d.arrow([(nxt.n[0] + 18, nxt.y), (last.s[0] + 18, last.bottom)], role="input")
    d.label(last.s[0] + 24, 206, "fed back:", role="input", anchor="start")
    d.label(last.s[0] + 24, 222, "last\\_ids", role="input", anchor="start")
    out = d.box(14, 408, 104, 34, "out[:, t]", role="input", size=13)
    d.arrow([nxt.s, out.n], role="input")
    d.callout(146, 408, 560, 34, "temperature = 0: the argmax, no draw (greedy\\_decode)")
    return d


DIAGRAMS = {"generation-loop": generation_loop}
