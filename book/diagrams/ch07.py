"""Chapter 7's diagram: the encoder-decoder with a peeky decoder, unrolled on one question.

Names and shapes as in ``seqlab/seq2seq.py``: the ``Encoder`` (Embedding, then an LSTM) reads
``xs (N, T_in)``, the question reversed (embedded ``(N, T_in, D)``, states ``(N, T_in, H)``),
and keeps ``h = hs[:, -1]`` ``(N, H)``; the
``PeekyDecoder`` starts from ``(h, 0)`` and reads ``ts[:, :-1]`` (teacher forcing), with ``h``
concatenated to every LSTM input, ``[E[y_{t-1}], h]`` ``(N, T, D + H)``, and to every input of the
output layer, ``[h^dec_t, h]`` ``(N, T, 2H)``; the scores ``(N, T, V)`` are compared with
``ts[:, 1:]``. The example is the chapter's: ``"57+612"`` padded to ``"57+612 "`` and reversed,
answered ``"669 "``.
"""
from svgkit import Diagram

SPACE = "␣"  # the padding character, made visible


def seq2seq_peeky() -> Diagram:
    d = Diagram(756, 446, title="The seq2seq model with a peeky decoder: the encoder reads the "
                "reversed question, its last state h starts the decoder and joins every input "
                "of the decoder's LSTM and output layer")
    y_tgt, y_loss, y_aff, y_up, y_lstm, y_low, y_emb, y_tok = 22, 54, 114, 168, 228, 290, 344, 384
    cell_h, band_h = 36, 28

    # ---- the encoder: five of its seven steps drawn, the middle three as an ellipsis
    enc_x = [36, 100, 164, 228, 292]
    enc_tokens = [SPACE, "2", "⋯", "7", "5"]
    d.box(12, y_emb - band_h / 2, 304, band_h, "Embedding", role="input", size=13)
    enc_cells = []
    for cx, tok in zip(enc_x, enc_tokens):
        if tok == "⋯":
            d.text(cx, y_lstm, "⋯", size=16, role="hidden")
            d.text(cx, y_tok, "⋯", size=16, role="input")
            enc_cells.append(None)
            continue
        d.text(cx, y_tok, tok, size=15, role="input", weight="bold")
        d.arrow([(cx, y_tok - 12), (cx, y_emb + band_h / 2)], role="input")
        cell = d.box(cx - 23, y_lstm - cell_h / 2, 46, cell_h, "LSTM", role="hidden", size=12)
        d.arrow([(cx, y_emb - band_h / 2), cell.s], role="input")
        enc_cells.append(cell)
    for left, right in zip(enc_x, enc_x[1:]):
        d.arrow([(left + (23 if left != 164 else 12), y_lstm), (right - (23 if right != 164 else 12), y_lstm)],
                role="hidden")
    # The encoder's shapes, in the gap its ellipsis leaves (T_in positions, not T).
    d.shape(164, y_lstm + 30, "(N, T\\_in, H)")
    d.shape(164, y_emb - band_h / 2 - 12, "(N, T\\_in, D)")
    d.shape(164, y_tok + 22, "xs (N, T\\_in): “57+612␣” reversed")
    d.text(164, y_tok + 44, "Encoder", size=14, weight="bold")
    d.label(enc_x[-1] - 6, y_lstm - 46, "h = hs[:, -1]", role="hidden")
    d.shape(enc_x[-1] - 6, y_lstm - 30, "(N, H)")

    # ---- the bridge: h starts the decoder, as the state (h, 0)
    jx = 338  # where h leaves the encoder
    dec_x = [416, 488, 560, 632]
    d.arrow([(enc_x[-1] + 23, y_lstm), (dec_x[0] - 25, y_lstm)], role="hidden")
    d.label(365, y_lstm - 12, "(h, 0)", role="hidden")

    # ---- the decoder
    dec_in, dec_out = ["_", "6", "6", "9"], ["6", "6", "9", SPACE]
    x0, x1 = dec_x[0] - 30, dec_x[-1] + 30
    d.box(x0, y_emb - band_h / 2, x1 - x0, band_h, "Embedding", role="input", size=13)
    d.box(x0, y_aff - band_h / 2, x1 - x0, band_h, "Affine", role="ink", size=13)
    d.box(x0, y_loss - band_h / 2, x1 - x0, band_h, "SoftmaxCrossEntropy → L", role="output", size=13)
    low_nodes, up_nodes = [], []
    for i, cx in enumerate(dec_x):
        d.text(cx, y_tok, dec_in[i], size=15, role="input", weight="bold")
        d.text(cx, y_tgt, dec_out[i], size=15, role="input", weight="bold")
        d.arrow([(cx, y_tok - 12), (cx, y_emb + band_h / 2)], role="input")
        low = d.op(cx, y_low, "[ , ]", role="op", r=11, size=12)
        cell = d.box(cx - 25, y_lstm - cell_h / 2, 50, cell_h, "LSTM", role="hidden", size=12)
        up = d.op(cx, y_up, "[ , ]", role="op", r=11, size=12)
        d.arrow([(cx, y_emb - band_h / 2), low.s], role="input")
        d.arrow([low.n, cell.s], role="input")
        d.arrow([cell.n, up.s], role="hidden")
        d.arrow([up.n, (cx, y_aff + band_h / 2)], role="hidden")
        d.arrow([(cx, y_aff - band_h / 2), (cx, y_loss + band_h / 2)], role="output")
        d.arrow([(cx, y_tgt + 11), (cx, y_loss - band_h / 2)], role="input")
        low_nodes.append(low)
        up_nodes.append(up)
    for left, right in zip(dec_x, dec_x[1:]):
        d.arrow([(left + 25, y_lstm), (right - 25, y_lstm)], role="hidden")
    d.shape(524, y_tok + 22, "ts[:, :-1] (N, T)")
    d.text(524, y_tok + 44, "PeekyDecoder", size=14, weight="bold")

    # ---- the peeky connections: h joins every LSTM input and every Affine input
    for nodes, bus_y in ((up_nodes, y_up - 24), (low_nodes, y_low - 24)):
        taps = [n.west[0] - 12 for n in nodes]
        d.line([(jx, y_lstm), (jx, bus_y), (taps[-1], bus_y)], role="hidden", dashed=True)
        for n, tx in zip(nodes, taps):
            d.arrow([(tx, bus_y), (tx, n.c[1]), n.west], role="hidden", dashed=True)
        d.label(jx + 6, bus_y + 12, "peeky", role="hidden", anchor="start")
    d.rect(jx - 3.5, y_lstm - 3.5, 7, 7, role="hidden", rx=3.5)  # where h branches

    # ---- shapes, in the right margin
    mx = 672
    d.text(mx, y_tgt, "ts[:, 1:]", size=12, role="muted", anchor="start")
    d.shape(mx, (y_aff + y_loss) / 2, "(N, T, V)", anchor="start")
    d.label(mx, y_up - 8, "[h^{dec}_t, h]", role="ink", anchor="start")
    d.shape(mx, y_up + 9, "(N, T, 2H)", anchor="start")
    d.shape(mx, y_lstm, "(N, T, H)", anchor="start")
    d.label(mx, y_low - 8, "[E[y_{t−1}], h]", role="ink", anchor="start")
    d.shape(mx, y_low + 9, "(N, T, D + H)", anchor="start")
    d.shape(mx, y_emb, "(N, T, D)", anchor="start")
    return d


DIAGRAMS = {"seq2seq-peeky": seq2seq_peeky}
