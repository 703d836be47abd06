"""The course's SVG diagram kit: boxes, operator circles, arrows and labelled text, in pure Python.

A figure is drawn once, as geometry plus *roles* (what a thing means: ``"hidden"``, ``"cell"``,
``"gate"``, ``"grad"`` ...), and rendered twice: ``Diagram.render("light")`` and
``Diagram.render("dark")`` give the same geometry in the two palettes below. ``build.py`` writes
both files (``<name>.svg`` and ``<name>-dark.svg``); ``README.md`` says how a chapter shows them.

Coordinates are SVG pixels at the figure's natural width (x to the right, y down). Every number
written to the file goes through :func:`fmt`, so the output is deterministic and diffs well.

Text accepts a small TeX-like markup, rendered with ``<tspan>`` (never paths):
``h_t``, ``h_{t-1}``, ``W_h^T``, ``x^{(i)}``: ``_`` is a subscript and ``^`` a superscript, each of
one character or of a ``{...}`` group. ``\\_`` and ``\\^`` write the characters themselves.
Unicode symbols are fine as they are: σ ⊙ ∂ · × − → ∑ ≈.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
FONT_SIZE = 14       # default text size (px at natural width)
SMALL = 12           # shape labels and edge labels: the smallest size the kit writes
MAX_WIDTH = 760      # a figure wider than this is refused (the text column at 1280 px)

# One colour per meaning, across the whole book. ``stroke``: outlines and arrows; ``fill``: the
# box's ground; ``text``: a label drawn in the role's colour on the page ground (edge labels).
# Text inside a box is always ``ink`` (contrast >= 4.5:1 on every fill, checked in the tests).
PALETTES: dict[str, dict[str, dict[str, str]]] = {
    "light": {
        "page":      {"fill": "#ffffff"},
        "ink":       {"stroke": "#1f2328", "fill": "#ffffff", "text": "#1f2328"},
        "muted":     {"stroke": "#57606a", "fill": "#f6f8fa", "text": "#57606a"},
        "input":     {"stroke": "#1a7f37", "fill": "#dafbe1", "text": "#116329"},
        "hidden":    {"stroke": "#0969da", "fill": "#ddf4ff", "text": "#0550ae"},
        "cell":      {"stroke": "#9a6700", "fill": "#fff8c5", "text": "#7d4e00"},
        "gate":      {"stroke": "#8250df", "fill": "#fbefff", "text": "#6639ba"},
        "attention": {"stroke": "#bf3989", "fill": "#ffeff7", "text": "#99286e"},
        "output":    {"stroke": "#bc4c00", "fill": "#fff1e5", "text": "#953800"},
        "grad":      {"stroke": "#cf222e", "fill": "#ffebe9", "text": "#a40e26"},
        "param":     {"stroke": "#6e7781", "fill": "#f6f8fa", "text": "#424a53"},
        "op":        {"stroke": "#424a53", "fill": "#ffffff", "text": "#1f2328"},
        "note":      {"stroke": "#6e7781", "fill": "#f6f8fa", "text": "#424a53"},
    },
    "dark": {
        "page":      {"fill": "#14181e"},
        "ink":       {"stroke": "#e6edf3", "fill": "#14181e", "text": "#e6edf3"},
        "muted":     {"stroke": "#9da7b3", "fill": "#1c2128", "text": "#9da7b3"},
        "input":     {"stroke": "#3fb950", "fill": "#0f2d1a", "text": "#56d364"},
        "hidden":    {"stroke": "#58a6ff", "fill": "#0c2d4f", "text": "#79c0ff"},
        "cell":      {"stroke": "#d29922", "fill": "#35290a", "text": "#e3b341"},
        "gate":      {"stroke": "#bc8cff", "fill": "#2a1b4a", "text": "#d2a8ff"},
        "attention": {"stroke": "#f778ba", "fill": "#3f1230", "text": "#ff9bce"},
        "output":    {"stroke": "#f0883e", "fill": "#3b1f0b", "text": "#ffa657"},
        "grad":      {"stroke": "#ff7b72", "fill": "#3d1416", "text": "#ffa198"},
        "param":     {"stroke": "#8b949e", "fill": "#21262d", "text": "#b1bac4"},
        "op":        {"stroke": "#b1bac4", "fill": "#14181e", "text": "#e6edf3"},
        "note":      {"stroke": "#8b949e", "fill": "#1c2128", "text": "#b1bac4"},
    },
}
ROLES = tuple(k for k in PALETTES["light"] if k != "page")
DASH = "6 4"         # the dash of dashed strokes (the gradient path, frames, callouts)


def fmt(v: float) -> str:
    """A coordinate as the file writes it: at most two decimals, no trailing zeros, no ``-0``."""
    s = f"{float(v):.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


# ---------------------------------------------------------------- text markup and its width

def parse_markup(s: str) -> list[tuple[str, str]]:
    """``"h_{t-1}"`` -> ``[("", "h"), ("sub", "t-1")]``; levels are ``""``, ``"sub"``, ``"sup"``."""
    out: list[tuple[str, str]] = []
    buf, i = "", 0
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s) and s[i + 1] in "_^{}\\":
            buf += s[i + 1]
            i += 2
            continue
        if c in "_^" and i + 1 < len(s):
            if buf:
                out.append(("", buf))
                buf = ""
            level = "sub" if c == "_" else "sup"
            if s[i + 1] == "{":
                j = s.index("}", i + 2)
                out.append((level, s[i + 2:j]))
                i = j + 1
            else:
                out.append((level, s[i + 1]))
                i += 2
            continue
        buf += c
        i += 1
    if buf:
        out.append(("", buf))
    return out


# Advance widths of DejaVu Sans in em (the widest font of the stack, so layouts never clip).
_NARROW = set("il.,:;'|!()[]{}tfjrI ")
_WIDE = set("mwMWHNDGOQUC@%⊙∂")


def text_width(s: str, size: float = FONT_SIZE) -> float:
    """The width in px of ``s`` (markup allowed) at ``size``: an estimate, on the generous side."""
    w = 0.0
    for level, part in parse_markup(s):
        k = size * (0.72 if level else 1.0)
        for c in part:
            w += k * (0.34 if c in _NARROW else 0.86 if c in _WIDE else 0.64)
    return w


def _tspans(s: str, size: float) -> str:
    """The markup as ``<tspan>``s: sub/superscripts shift with ``dy`` and shift back after."""
    parts, shift = [], 0.0
    small = size * 0.72
    for level, part in parse_markup(s):
        want = {"": 0.0, "sub": 0.3 * size, "sup": -0.4 * size}[level]
        dy = want - shift
        shift = want
        attrs = ""
        if dy:
            attrs += f' dy="{fmt(dy)}"'
        if level:
            attrs += f' font-size="{fmt(small)}"'
        text = escape(part)
        parts.append(f"<tspan{attrs}>{text}</tspan>" if attrs else text)
    if shift:  # an empty tspan returns to the baseline, so nothing after this text is shifted
        parts.append(f'<tspan dy="{fmt(-shift)}"></tspan>')
    return "".join(parts)


# ---------------------------------------------------------------- geometry helpers

Point = tuple[float, float]


@dataclass(frozen=True)
class Anchors:
    """Where arrows attach: ``n s e w`` (top, bottom, right, left middles), ``c`` the centre."""
    x: float
    y: float
    w: float
    h: float

    @property
    def c(self) -> Point:
        return (self.x + self.w / 2, self.y + self.h / 2)

    @property
    def n(self) -> Point:
        return (self.x + self.w / 2, self.y)

    @property
    def s(self) -> Point:
        return (self.x + self.w / 2, self.y + self.h)

    @property
    def e(self) -> Point:
        return (self.x + self.w, self.y + self.h / 2)

    @property
    def w_(self) -> Point:
        return (self.x, self.y + self.h / 2)

    # ``w`` is the width; ``west`` and ``east`` read better in drawing code
    @property
    def west(self) -> Point:
        return self.w_

    @property
    def east(self) -> Point:
        return self.e

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    def at(self, fx: float, fy: float) -> Point:
        """The point at fractions ``(fx, fy)`` of the box: ``at(0.25, 0)`` is a quarter along the top."""
        return (self.x + fx * self.w, self.y + fy * self.h)


def ortho(p0: Point, p1: Point, first: str = "h", mid: float | None = None) -> list[Point]:
    """An orthogonal path from ``p0`` to ``p1``: ``first="h"`` goes horizontally, turns once at
    x = ``mid`` (default half-way) and goes on; ``"v"`` the same starting vertically;
    ``"hv"``/``"vh"`` make a single turn (an L): horizontal then vertical, or the reverse."""
    (x0, y0), (x1, y1) = p0, p1
    if first == "hv":
        return [p0, (x1, y0), p1]
    if first == "vh":
        return [p0, (x0, y1), p1]
    if first == "h":
        m = (x0 + x1) / 2 if mid is None else mid
        return [p0, (m, y0), (m, y1), p1]
    m = (y0 + y1) / 2 if mid is None else mid
    return [p0, (x0, m), (x1, m), p1]


# ---------------------------------------------------------------- the diagram

@dataclass
class Diagram:
    """A figure of ``width`` x ``height`` px. ``title`` becomes the SVG's ``<title>`` (one line that
    names the figure); ``desc`` an optional ``<desc>``. Draw with the methods below, then
    ``render(mode)``. Elements are drawn in the order they were added (later ones on top)."""
    width: float
    height: float
    title: str
    desc: str = ""
    _items: list = field(default_factory=list)

    def __post_init__(self):
        if self.width > MAX_WIDTH:
            raise ValueError(f"{self.title!r}: {self.width} px is wider than {MAX_WIDTH} px")

    # -- primitives --------------------------------------------------------------------------
    def text(self, x: float, y: float, s: str, *, size: float = FONT_SIZE, role: str = "ink",
             anchor: str = "middle", weight: str = "normal", italic: bool = False,
             colour: str = "text") -> None:
        """Text whose baseline's ``anchor`` point (``start``/``middle``/``end``) is ``(x, y)``,
        vertically centred on ``y`` (``dominant-baseline`` is not used: renderers disagree).
        ``colour``: which of the role's colours (``"text"`` or ``"stroke"``)."""
        if size < SMALL:
            raise ValueError(f"text {s!r}: {size} px is below the kit's smallest size {SMALL}")
        self._items.append(("text", x, y + 0.35 * size, s, size, role, anchor, weight, italic,
                            colour))

    def label(self, x: float, y: float, s: str, *, role: str = "ink", anchor: str = "middle",
              size: float = SMALL + 1, italic: bool = False) -> None:
        """A label beside an arrow, in the role's text colour (e.g. ``Wh`` on an edge)."""
        self.text(x, y, s, size=size, role=role, anchor=anchor, italic=italic)

    def shape(self, x: float, y: float, s: str, *, anchor: str = "middle") -> None:
        """A shape label such as ``(N, H)``: small and muted."""
        self.text(x, y, s, size=SMALL, role="muted", anchor=anchor)

    def rect(self, x: float, y: float, w: float, h: float, *, role: str = "ink", rx: float = 6,
             dashed: bool = False, filled: bool = True, stroke_width: float = 1.6) -> Anchors:
        """A bare rectangle (no text). Returns its anchors."""
        self._items.append(("rect", x, y, w, h, role, rx, dashed, filled, stroke_width))
        return Anchors(x, y, w, h)

    def box(self, x: float, y: float, w: float | None, h: float, lines: str | list[str], *,
            role: str = "hidden", shape: str | None = None, size: float = FONT_SIZE,
            rx: float = 6, dashed: bool = False, bold: bool = False, pad: float = 12) -> Anchors:
        """A rounded box filled in the role's colour with one or more lines of ink text, centred;
        ``shape`` (e.g. ``"(N, H)"``) is written small and muted under the text, inside the box.
        ``w=None`` fits the width to the text. ``(x, y)`` is the top-left corner."""
        lines = [lines] if isinstance(lines, str) else list(lines)
        all_lines = lines + ([shape] if shape else [])
        if w is None:
            w = max(text_width(t, size if t is not shape else SMALL) for t in all_lines) + 2 * pad
        a = self.rect(x, y, w, h, role=role, rx=rx, dashed=dashed)
        heights = [size * 1.25] * len(lines) + ([SMALL * 1.25] if shape else [])
        top = y + (h - sum(heights)) / 2
        for i, t in enumerate(all_lines):
            cy = top + sum(heights[:i]) + heights[i] / 2
            if shape and i == len(all_lines) - 1:
                self.shape(x + w / 2, cy, t)
            else:
                self.text(x + w / 2, cy, t, size=size, weight="bold" if bold else "normal")
        return a

    def op(self, cx: float, cy: float, symbol: str, *, role: str = "op", r: float = 14,
           size: float | None = None) -> Anchors:
        """An operator circle centred at ``(cx, cy)``: ``"σ"``, ``"tanh"``, ``"⊙"``, ``"+"``,
        ``"×"``, ``"1−"``... A word longer than two characters gets a pill (``tanh``, ``softmax``)."""
        size = size or (17 if symbol in ("⊙", "+", "×") else FONT_SIZE if len(symbol) <= 2
                        else SMALL + 1)
        w = max(2 * r, text_width(symbol, size) + 14)
        self._items.append(("op", cx, cy, w, 2 * r, role))
        self.text(cx, cy, symbol, size=size, role="ink",
                  weight="bold" if symbol in ("+", "⊙", "×") else "normal")
        return Anchors(cx - w / 2, cy - r, w, 2 * r)

    def line(self, points: list[Point], *, role: str = "ink", dashed: bool = False,
             width: float = 1.6, bridge: bool = False) -> None:
        """A polyline without arrowhead. ``bridge``: see :meth:`arrow`."""
        if bridge:
            self._items.append(("halo", tuple(points), width))
        self._items.append(("line", tuple(points), role, dashed, width, False, False))

    def arrow(self, points: list[Point], *, role: str = "ink", dashed: bool = False,
              width: float = 1.6, both: bool = False, label: str | None = None,
              label_at: Point | None = None, label_anchor: str = "middle",
              bridge: bool = False) -> None:
        """A polyline with an arrowhead at its last point (and at its first, ``both=True``).
        ``label`` is written at ``label_at`` in the role's text colour. ``bridge=True`` draws a
        wide stroke of the page colour under it first, so that a line drawn *earlier* that it
        crosses shows a gap there: the crossing reads as a bridge, not as a junction."""
        if bridge:
            self._items.append(("halo", tuple(points), width))
        self._items.append(("line", tuple(points), role, dashed, width, True, both))
        if label is not None:
            if label_at is None:
                raise ValueError("an arrow's label needs label_at")
            self.label(*label_at, label, role=role, anchor=label_anchor)

    def dot(self, x: float, y: float, *, role: str = "ink", r: float = 3.5) -> None:
        """A junction dot: where a line branches (drawn in the role's stroke colour)."""
        self._items.append(("dot", x, y, r, role))

    def frame(self, x: float, y: float, w: float, h: float, title: str | None = None, *,
              role: str = "muted", dashed: bool = True, title_anchor: str = "start") -> Anchors:
        """A dashed, unfilled frame around a group, with its title just inside the top edge."""
        self._items.append(("rect", x, y, w, h, role, 8, dashed, False, 1.3))
        if title:
            tx = {"start": x + 8, "middle": x + w / 2, "end": x + w - 8}[title_anchor]
            self.text(tx, y + 13, title, size=SMALL + 1, role=role, anchor=title_anchor)
        return Anchors(x, y, w, h)

    def callout(self, x: float, y: float, w: float, h: float, lines: str | list[str], *,
                role: str = "note", size: float = SMALL + 1,
                pointer: Point | None = None, pointer_from: Point | None = None) -> Anchors:
        """A dashed note box (e.g. "DLFS2 differs here") with an optional dashed pointer line
        from ``pointer_from`` (default: the box's nearest side middle) to ``pointer``."""
        lines = [lines] if isinstance(lines, str) else list(lines)
        a = self.rect(x, y, w, h, role=role, rx=6, dashed=True)
        top = y + (h - 1.3 * size * len(lines)) / 2
        for i, t in enumerate(lines):
            self.text(x + 10, top + 1.3 * size * (i + 0.5), t, size=size, role="ink",
                      anchor="start")
        if pointer is not None:
            if pointer_from is None:
                px, py = pointer
                cands = [a.n, a.s, a.e, a.west]
                pointer_from = min(cands, key=lambda p: (p[0] - px) ** 2 + (p[1] - py) ** 2)
            self.arrow([pointer_from, pointer], role=role, dashed=True, width=1.3)
        return a

    def overflows(self) -> list[str]:
        """Texts whose estimated extent leaves the figure (``build.py`` warns about them)."""
        bad = []
        for it in self._items:
            if it[0] != "text":
                continue
            _, x, y, s, size, *_rest = it
            anchor = it[6]
            w = text_width(s, size) * 0.92  # the estimate is generous; allow for it
            x0 = {"start": x, "middle": x - w / 2, "end": x - w}[anchor]
            if x0 < 0 or x0 + w > self.width or y - size < -2 or y > self.height + 2:
                bad.append(s)
        return bad

    # -- output --------------------------------------------------------------------------------
    def render(self, mode: str = "light") -> str:
        """The SVG document for ``mode`` (``"light"`` or ``"dark"``): deterministic text."""
        pal = PALETTES[mode]

        def col(role: str, which: str) -> str:
            if role not in pal:
                raise KeyError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
            return pal[role][which]

        W, H = fmt(self.width), fmt(self.height)
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" '
            f'height="{H}" role="img" font-family="{FONT}" font-size="{FONT_SIZE}">',
            f"<title>{escape(self.title)}</title>",
        ]
        if self.desc:
            out.append(f"<desc>{escape(self.desc)}</desc>")
        out.append(f'<rect width="{W}" height="{H}" fill="{pal["page"]["fill"]}"/>')
        for it in self._items:
            kind = it[0]
            if kind == "rect":
                _, x, y, w, h, role, rx, dashed, filled, sw = it
                fill = col(role, "fill") if filled else "none"
                dash = f' stroke-dasharray="{DASH}"' if dashed else ""
                out.append(f'<rect x="{fmt(x)}" y="{fmt(y)}" width="{fmt(w)}" height="{fmt(h)}" '
                           f'rx="{fmt(rx)}" fill="{fill}" stroke="{col(role, "stroke")}" '
                           f'stroke-width="{fmt(sw)}"{dash}/>')
            elif kind == "op":
                _, cx, cy, w, h, role = it
                out.append(f'<rect x="{fmt(cx - w / 2)}" y="{fmt(cy - h / 2)}" width="{fmt(w)}" '
                           f'height="{fmt(h)}" rx="{fmt(h / 2)}" fill="{col(role, "fill")}" '
                           f'stroke="{col(role, "stroke")}" stroke-width="1.6"/>')
            elif kind == "dot":
                _, x, y, r, role = it
                out.append(f'<circle cx="{fmt(x)}" cy="{fmt(y)}" r="{fmt(r)}" '
                           f'fill="{col(role, "stroke")}"/>')
            elif kind == "halo":
                _, pts, width = it
                # the ends stay clear of what the line connects to: only the middle is widened
                d = " ".join(f"{fmt(x)},{fmt(y)}" for x, y in _trim(pts, 10))
                out.append(f'<polyline points="{d}" fill="none" stroke="{pal["page"]["fill"]}" '
                           f'stroke-width="{fmt(width + 7)}"/>')
            elif kind == "line":
                _, pts, role, dashed, width, head, both = it
                out.extend(self._line(pts, col(role, "stroke"), dashed, width, head, both))
            elif kind == "text":
                _, x, y, s, size, role, anchor, weight, italic, which = it
                attrs = f'x="{fmt(x)}" y="{fmt(y)}"'
                if anchor != "start":
                    attrs += f' text-anchor="{anchor}"'
                if size != FONT_SIZE:
                    attrs += f' font-size="{fmt(size)}"'
                if weight != "normal":
                    attrs += f' font-weight="{weight}"'
                if italic:
                    attrs += ' font-style="italic"'
                out.append(f'<text {attrs} fill="{col(role, which)}">{_tspans(s, size)}</text>')
        out.append("</svg>")
        return "\n".join(out) + "\n"

    @staticmethod
    def _line(pts, colour, dashed, width, head, both) -> list[str]:
        pts = [tuple(map(float, p)) for p in pts]
        size = 4.5 + 2.2 * width  # arrowhead length
        heads = []
        if head:
            pts, tip = _shorten(pts, size)
            heads.append(tip)
            if both:
                rev, tip0 = _shorten(pts[::-1], size)
                pts = rev[::-1]
                heads.append(tip0)
        dash = f' stroke-dasharray="{DASH}"' if dashed else ""
        d = " ".join(f"{fmt(x)},{fmt(y)}" for x, y in pts)
        out = [f'<polyline points="{d}" fill="none" stroke="{colour}" stroke-width="{fmt(width)}" '
               f'stroke-linejoin="round"{dash}/>']
        for (tx, ty), (ux, uy) in heads:
            # a triangle whose tip is the original end point, pointing along (ux, uy)
            bx, by = tx - ux * size, ty - uy * size
            nx, ny = -uy * size * 0.42, ux * size * 0.42
            tri = f"{fmt(tx)},{fmt(ty)} {fmt(bx + nx)},{fmt(by + ny)} {fmt(bx - nx)},{fmt(by - ny)}"
            out.append(f'<polygon points="{tri}" fill="{colour}"/>')
        return out


def _shorten(pts: list[Point], by: float):
    """The polyline with its last point pulled back ``by`` px along the last segment (so the
    stroke ends inside the arrowhead), and ((tip), (unit direction))."""
    (x0, y0), (x1, y1) = pts[-2], pts[-1]
    L = math.hypot(x1 - x0, y1 - y0)
    if L == 0:
        raise ValueError(f"an arrow's last segment has length 0: {pts}")
    ux, uy = (x1 - x0) / L, (y1 - y0) / L
    back = min(by * 0.8, L)
    return pts[:-1] + [(x1 - ux * back, y1 - uy * back)], ((x1, y1), (ux, uy))


def _trim(pts, by: float) -> list[Point]:
    """The polyline shortened by ``by`` px at both ends (never past a segment's middle)."""
    pts = [tuple(map(float, p)) for p in pts]
    for idx, nxt in ((0, 1), (-1, -2)):
        (x0, y0), (x1, y1) = pts[idx], pts[nxt]
        L = math.hypot(x1 - x0, y1 - y0)
        k = min(by, L / 2) / L if L else 0
        pts[idx] = (x0 + (x1 - x0) * k, y0 + (y1 - y0) * k)
    return pts


# ---------------------------------------------------------------- contrast (used by the tests)

def luminance(hex_colour: str) -> float:
    """WCAG relative luminance of ``#rrggbb``."""
    rgb = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio between two ``#rrggbb`` colours (1 to 21)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)
