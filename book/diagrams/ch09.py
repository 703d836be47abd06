"""Chapter 9's diagram: BERT's input, its encoder and its two heads.

Names as in book/09_bert.md and seqlab/bert.py: ``input_ids`` and ``segment_ids`` (N, T); the three
tables of ``BertEmbeddings``, ``E_token: (V, D)``, ``E_segment: (2, D)``, ``E_position: (max_len, D)``,
summed and normalized (``norm``); the post-norm ``TransformerEncoderBlock``s of ``Bert``; the
``MaskedLMHead`` tied to the token table (``states @ E_token.T + bias``), and ``BertClassifier``'s
pooler ``tanh(h W_p + b_p)`` on the final state of ``[CLS]``. The sentence pair is made of words of
the chapter's synthetic language.
"""
from svgkit import Diagram

TOKENS = ["[CLS]", "the", "dogs", "run", "[SEP]", "many", "birds", "[MASK]", "[SEP]"]
SEGMENTS = "AAAAABBBB"  # segment 0 up to and including the first [SEP], then 1
MASKED = 7              # the position of [MASK]
ORIGINAL = "sleep"      # the word it hides (the label)


def bert_input() -> Diagram:
    d = Diagram(760, 596, title="BERT's input and heads: a sentence pair [CLS] A [SEP] B [SEP] with "
                "one [MASK]; each position sums its token, segment and position embeddings, then "
                "LayerNorm and the encoder blocks; the masked-LM head, tied to the token table, "
                "predicts the hidden word, and the pooler reads the state of [CLS]")
    x0, col, bw = 140, 65, 59  # left edge of the columns, column pitch, box width
    cols = [x0 + i * col + (col - bw) / 2 for i in range(len(TOKENS))]
    centre = [c + bw / 2 for c in cols]
    right = cols[-1] + bw

    def row_label(y: float, line: str, shape: str) -> None:
        d.text(8, y - 8, line, anchor="start", size=14)
        d.shape(8, y + 11, shape, anchor="start")

    # The tokens.
    ty = 30
    d.label(centre[MASKED], ty - 14, f"was: {ORIGINAL}", role="output")
    tokens = [d.box(cx, ty, bw, 32, t, role="output" if i == MASKED else "input", size=13)
              for i, (cx, t) in enumerate(zip(cols, TOKENS))]
    row_label(ty + 16, "input\\_ids x_t", "(N, T)")
    d.text(tokens[1].x, ty - 14, "sentence A", anchor="start", size=13, role="muted")
    d.text(tokens[5].x, ty - 14, "sentence B", anchor="start", size=13, role="muted")

    # The three embeddings of each position, summed.
    rows = [(96, "E_{token}[x_t]", "(V, D)", [f"E_{{{t}}}" for t in TOKENS]),
            (148, "E_{segment}[s_t]", "(2, D); A: 0, B: 1", [f"E_{s}" for s in SEGMENTS]),
            (200, "E_{position}[t]", "(max\\_len, D)", [f"E_{t}" for t in range(len(TOKENS))])]
    cells = []
    for y, name, shape, labels in rows:
        cells.append([d.box(cx, y, bw, 32, s, role="input", size=13) for cx, s in zip(cols, labels)])
        row_label(y + 16, name, shape)
    for cx in centre:
        d.arrow([(cx, ty + 32), (cx, rows[0][0])], role="input")
        for y in (rows[1][0], rows[2][0]):
            d.text(cx, y - 10, "+", size=14, weight="bold")

    # LayerNorm, the encoder, the final states.
    ln = d.box(cols[0], 262, right - cols[0], 34, "LayerNorm (norm) of the sum", role="op")
    row_label(ln.c[1], "BertEmbeddings", "(N, T, D)")
    enc = d.box(cols[0], 326, right - cols[0], 44,
                "num\\_layers × TransformerEncoderBlock (post-norm)", role="attention",
                shape="every position attends to every other; padding is masked out as a key")
    row_label(enc.c[1], "Bert.blocks", "(N, T, D)")
    states = [d.box(cx, 400, bw, 32, f"h_{i}", role="hidden", size=13) for i, cx in enumerate(cols)]
    row_label(416, "states", "(N, T, D)")
    for cx in centre:
        d.arrow([(cx, rows[2][0] + 32), (cx, ln.y)], role="input")
        d.arrow([(cx, ln.bottom), (cx, enc.y)], role="hidden")
        d.arrow([(cx, enc.bottom), (cx, 400)], role="hidden")

    # The heads: BertClassifier on [CLS], the masked-LM head at [MASK].
    pool = d.box(cols[0], 466, 3 * col - (col - bw), 50, "tanh(h_0 W_p + b_p)", role="output",
                 size=13, shape="pooler")
    d.arrow([states[0].s, (centre[0], pool.y)], role="hidden")
    cls_out = d.box(cols[0], 548, 3 * col - (col - bw), 40, "output: logits", role="output",
                    size=13, shape="(N, C) classes")
    d.arrow([(centre[0], pool.bottom), (centre[0], cls_out.y)], role="output")
    row_label(491, "BertClassifier", "on [CLS]")

    mlm = d.box(cols[5], 466, right - cols[5], 58,
                ["logits = h_7 E_{token}^T + bias", "E_{token}: the input's table, tied"],
                role="output", size=13, shape="MaskedLMHead")
    d.arrow([states[MASKED].s, (centre[MASKED], mlm.y)], role="hidden")
    target = d.box(cols[5], 548, right - cols[5], 40, f"cross-entropy, label: {ORIGINAL}",
                   role="output", size=13, shape="at the chosen positions only")
    d.arrow([(centre[MASKED], mlm.bottom), (centre[MASKED], target.y)], role="output")

    # The tie: the head's weight is the token table itself.
    tie_x = right + 16
    d.arrow([mlm.e, (tie_x, mlm.c[1]), (tie_x, rows[0][0] + 16), (right + 2, rows[0][0] + 16)],
            role="param", dashed=True)
    return d


DIAGRAMS = {"bert-input": bert_input}
