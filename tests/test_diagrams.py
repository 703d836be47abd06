"""The book's diagrams, at the source (fast; the browser part is in tests/test_browser.py).

book/diagrams/README.md describes them: one script per chapter draws each figure, build.py writes
a light and a dark SVG of it, and a chapter shows the pair as an ``only-dark`` image followed by
the numbered ``only-light`` figure. This checks that the committed SVGs are what the scripts draw
(byte for byte), that each is a well-formed, titled, scalable SVG within the text column, that the
two palettes keep text readable, and that the chapters show every diagram, both variants, with
alt text, a name and a reference from the prose.
"""
from __future__ import annotations

import importlib.util
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DIAGRAMS = REPO / "book" / "diagrams"
BOOK = REPO / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.md"))
SVG_NS = "{http://www.w3.org/2000/svg}"
MIN_TEXT_PX = 12      # at the figure's natural width
MAX_WIDTH_PX = 760    # the text column at 1280 px
COLOUR = re.compile(r"#[0-9a-fA-F]{6}\b")
DECIMAL = re.compile(r"\d+\.\d+|\d+(?:\.\d+)?[eE][-+]?\d+")
OPEN = re.compile(r"^(?P<fence>:{3,}|`{3,})\{(?P<kind>figure|image)\}\s*(?P<arg>\S*)\s*$")
OPTION = re.compile(r"^:(?P<key>[\w-]+):\s*(?P<value>.*)$")


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


if str(DIAGRAMS) not in sys.path:
    sys.path.insert(0, str(DIAGRAMS))
import svgkit  # noqa: E402  (book/diagrams is not a package: the chapter modules import it so)

build = _load("diagrams_build", DIAGRAMS / "build.py")
COMMITTED = sorted(p.name for p in DIAGRAMS.glob("*.svg"))


def directives(text: str) -> list[dict]:
    """Every ``{figure}`` and ``{image}`` of a MyST page: kind, argument, options, caption, line."""
    lines = text.splitlines()
    found, i = [], 0
    while i < len(lines):
        m = OPEN.match(lines[i])
        if not m:
            i += 1
            continue
        fence, start = m["fence"], i
        options, body = {}, []
        i += 1
        while i < len(lines) and (om := OPTION.match(lines[i])):
            options[om["key"]] = om["value"].strip()
            i += 1
        while i < len(lines) and lines[i].strip() != fence:
            body.append(lines[i])
            i += 1
        found.append({"kind": m["kind"], "arg": m["arg"], "options": options,
                      "caption": "\n".join(body).strip(), "line": start + 1, "end": i + 1})
        i += 1
    return found


def chapter_diagrams(path: Path) -> list[tuple[dict, dict | None]]:
    """``(figure, the directive just before it)`` for each figure of a diagram in the chapter."""
    ds = directives(path.read_text(encoding="utf-8"))
    return [(d, ds[k - 1] if k else None) for k, d in enumerate(ds)
            if d["kind"] == "figure" and d["arg"].startswith("diagrams/")]


# ------------------------------------------------------------------------------ the sources

def test_the_committed_svgs_are_what_the_scripts_draw(tmp_path):
    assert build.main(["--out", str(tmp_path)]) == 0
    drawn = sorted(p.name for p in tmp_path.glob("*.svg"))
    assert drawn, "no diagram at all"
    missing = sorted(set(drawn) - set(COMMITTED))
    orphans = sorted(set(COMMITTED) - set(drawn))
    stale = [f for f in drawn if f in COMMITTED
             and (tmp_path / f).read_bytes() != (DIAGRAMS / f).read_bytes()]
    assert not (missing or orphans or stale), (
        f"run `.venv/bin/python book/diagrams/build.py` and commit the SVGs: not written {missing}, "
        f"without a source {orphans}, stale {stale}")


def test_building_twice_gives_the_same_bytes(tmp_path):
    first, second = build.render_all(), build.render_all()
    assert first == second


def test_every_diagram_has_both_variants_with_the_same_geometry():
    for name in build.diagrams():
        light = (DIAGRAMS / f"{name}.svg").read_text(encoding="utf-8")
        dark = (DIAGRAMS / f"{name}-dark.svg").read_text(encoding="utf-8")
        assert COLOUR.sub("#", light) == COLOUR.sub("#", dark), f"{name}: the variants differ in more than colour"
        assert light != dark, f"{name}: the dark variant has the light palette"


@pytest.mark.parametrize("svg", COMMITTED)
def test_svg_is_well_formed_titled_and_scalable(svg):
    root = ET.parse(DIAGRAMS / svg).getroot()
    assert root.tag == f"{SVG_NS}svg", f"{svg}: not an SVG document"
    view = root.get("viewBox", "").split()
    assert len(view) == 4, f"{svg}: no viewBox, so it cannot scale down on a phone"
    width = float(view[2])
    assert width <= MAX_WIDTH_PX, f"{svg}: {width} px wide; the text column holds {MAX_WIDTH_PX}"
    assert root.get("width") == view[2] and root.get("height") == view[3], (
        f"{svg}: width/height must equal the viewBox's, the figure's natural size")
    title = root.find(f"{SVG_NS}title")
    assert title is not None and title.text and title.text.strip(), f"{svg}: no <title>"
    assert list(root)[0] is title, f"{svg}: <title> must be the first child"
    for text in root.iter(f"{SVG_NS}text"):
        size = float(text.get("font-size", root.get("font-size")))
        assert size >= MIN_TEXT_PX, f"{svg}: text {''.join(text.itertext())!r} at {size} px"
    assert "DejaVu Sans" in root.get("font-family", ""), f"{svg}: not the kit's font stack"


def test_palettes_keep_every_text_readable():
    """Text in a box is ink (shape labels muted) on the role's fill; labels are the role's text
    colour on the page. WCAG AA: 4.5:1, in both palettes."""
    bad = []
    for mode, pal in svgkit.PALETTES.items():
        page = pal["page"]["fill"]
        for role in svgkit.ROLES:
            fill = pal[role]["fill"]
            pairs = [("ink on fill", pal["ink"]["text"], fill),
                     ("muted on fill", pal["muted"]["text"], fill),
                     ("text on page", pal[role]["text"], page)]
            for what, fg, bg in pairs:
                ratio = svgkit.contrast(fg, bg)
                if ratio < 4.5:
                    bad.append(f"{mode} {role}: {what} {fg} on {bg} = {ratio:.2f}")
        # lines and arrowheads: 3:1 against the page (WCAG's non-text contrast)
        for role in svgkit.ROLES:
            ratio = svgkit.contrast(pal[role]["stroke"], page)
            if ratio < 3:
                bad.append(f"{mode} {role}: stroke {pal[role]['stroke']} on {page} = {ratio:.2f}")
    assert not bad, "\n".join(bad)


def test_the_page_ground_is_the_themes():
    """The dark variant sits on pydata-sphinx-theme's dark background; the light one on white."""
    assert svgkit.PALETTES["light"]["page"]["fill"] == "#ffffff"
    assert svgkit.PALETTES["dark"]["page"]["fill"] == "#14181e"


def test_markup_and_number_formatting():
    assert svgkit.parse_markup("h_{t-1}") == [("", "h"), ("sub", "t-1")]
    assert svgkit.parse_markup("W_h^T") == [("", "W"), ("sub", "h"), ("sup", "T")]
    assert svgkit.parse_markup("h\\_prev") == [("", "h_prev")]
    assert [svgkit.fmt(v) for v in (3, 2.5, 1 / 3, -0.001, 10.0)] == ["3", "2.5", "0.33", "0", "10"]


# ------------------------------------------------------------------------------ the chapters

@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_shows_a_diagram_of_its_model(chapter):
    assert chapter_diagrams(chapter), (
        f"{chapter.name} shows no diagram of book/diagrams/ (see book/diagrams/README.md)")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_each_diagram_is_shown_light_and_dark_with_alt_text_and_a_reference(chapter):
    text = chapter.read_text(encoding="utf-8")
    problems = []
    for fig, before in chapter_diagrams(chapter):
        where = f"{chapter.name}:{fig['line']}"
        src = fig["arg"]
        name = Path(src).stem
        opts = fig["options"]
        if not (DIAGRAMS / Path(src).name).exists():
            problems.append(f"{where}: {src} does not exist")
        if name.endswith("-dark"):
            problems.append(f"{where}: the figure must show the light variant, {name}.svg")
            continue
        alt = opts.get("alt", "")
        if not alt:
            problems.append(f"{where}: no :alt:")
        if DECIMAL.search(alt):
            problems.append(f"{where}: a typed number in the alt text: {alt!r}")
        if not fig["caption"]:
            problems.append(f"{where}: no caption")
        if opts.get("name") != f"fig-{name}":
            problems.append(f"{where}: :name: should be fig-{name}, is {opts.get('name')!r}")
        if not {"only-light", "diagram"} <= set(opts.get("class", "").split()):
            problems.append(f"{where}: :class: must hold only-light and diagram")
        if "diagram" not in opts.get("figclass", "").split():
            problems.append(f"{where}: :figclass: must hold diagram")
        if not re.search(r"\{(num)?ref\}`[^`]*?<?fig-" + re.escape(name) + r">?`", text):
            problems.append(f"{where}: the prose never references fig-{name} ({{numref}} or {{ref}})")
        dark = f"diagrams/{name}-dark.svg"
        if before is None or before["kind"] != "image" or before["arg"] != dark:
            problems.append(f"{where}: the figure must follow an {{image}} of {dark}")
            continue
        between = text.splitlines()[before["end"]:fig["line"] - 1]
        if any(line.strip() for line in between):
            problems.append(f"{where}: nothing may stand between the dark image and the figure")
        bopts = before["options"]
        if not {"only-dark", "diagram"} <= set(bopts.get("class", "").split()):
            problems.append(f"{where}: the dark image's :class: must hold only-dark and diagram")
        if bopts.get("alt") != alt:
            problems.append(f"{where}: the dark image's :alt: must be the figure's")
    assert not problems, "\n".join(problems)


def test_every_svg_is_shown_by_a_chapter():
    shown = set()
    for chapter in CHAPTERS:
        for d in directives(chapter.read_text(encoding="utf-8")):
            if d["arg"].startswith("diagrams/"):
                shown.add(Path(d["arg"]).name)
    unshown = sorted(set(COMMITTED) - shown)
    assert not unshown, f"SVGs no chapter shows: {unshown}"


def test_the_directive_reader_reads_the_readme_example():
    """The copy-paste example of the README is what this test accepts."""
    readme = (DIAGRAMS / "README.md").read_text(encoding="utf-8")
    ds = directives(readme)
    kinds = [(d["kind"], d["arg"]) for d in ds]
    assert ("image", "diagrams/rnn-step-dark.svg") in kinds and ("figure", "diagrams/rnn-step.svg") in kinds
    fig = next(d for d in ds if d["kind"] == "figure")
    assert fig["options"]["name"] == "fig-rnn-step" and fig["caption"].startswith("One RNN step")
