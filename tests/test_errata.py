"""The source notes' errata: every box in the chapters is listed on the errata page, and back.

The chapters correct the errors of the course's source notes in boxes of one style, a MyST
admonition of class ``erratum`` right after a label ``(erratum-<name>)=``; ``book/errata.md``
lists them, each with a ``{ref}`` link to its box. Read from the sources, without building the
site: a box nobody can find from the errata page, or a listed box that is gone, fails here.
"""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.conftest import REPO

BOOK = REPO / "book"
ERRATA_PAGE = BOOK / "errata.md"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.md"))

# Issue 19's six errata, each with the note it corrects and the chapter that teaches the topic.
REQUIRED = {
    "erratum-ce-symmetric": ("003", "01_softmax_ce_kl"),
    "erratum-clip-sum": ("000", "03_gradient_flow"),
    "erratum-birnn-weights": ("002", "02_rnn"),
    "erratum-time-rnn-backward": ("001", "02_rnn"),
    "erratum-output-gate": ("004", "04_lstm"),
    "erratum-gru-dlfs2": ("000", "05_gru"),
}

LABEL = re.compile(r"^\((erratum-[a-z0-9-]+)\)=\s*$")
ADMONITION = re.compile(r"^(:{3,})\{admonition\}\s*(.*)$")
REF = re.compile(r"\{ref\}`[^`]*<(erratum-[a-z0-9-]+)>`")


def erratum_boxes(path: Path) -> dict[str, str]:
    """{label: title} of the erratum boxes of one page; fails on a box without its label."""
    lines = path.read_text(encoding="utf-8").splitlines()
    boxes: dict[str, str] = {}
    for number, line in enumerate(lines):
        opening = ADMONITION.match(line.strip())
        options = lines[number + 1:number + 4]
        if not opening or not any(o.strip() == ":class: erratum" for o in options):
            continue
        label = LABEL.match(lines[number - 1].strip()) if number else None
        assert label, (f"{path.name}:{number + 1}: an erratum box needs a label `(erratum-<name>)=` on "
                       "the line above it, so that the errata page can link to it")
        assert label.group(1) not in boxes, f"{path.name}: two erratum boxes labelled {label.group(1)}"
        boxes[label.group(1)] = opening.group(2)
    return boxes


def all_boxes() -> dict[str, tuple[str, str]]:
    """{label: (chapter, title)} over every chapter."""
    found: dict[str, tuple[str, str]] = {}
    for chapter in CHAPTERS:
        for label, title in erratum_boxes(chapter).items():
            assert label not in found, f"{label} labels a box in {found[label][0]} and in {chapter.stem}"
            found[label] = (chapter.stem, title)
    return found


def test_every_erratum_label_sits_on_a_box():
    for chapter in CHAPTERS:
        lines = chapter.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            label = LABEL.match(line.strip())
            if label:
                box = ADMONITION.match(lines[number + 1].strip()) if number + 1 < len(lines) else None
                options = lines[number + 2:number + 5]
                assert box and any(o.strip() == ":class: erratum" for o in options), (
                    f"{chapter.name}:{number + 1}: {label.group(1)} is not followed by an "
                    "admonition of class erratum")


def test_the_errata_page_lists_every_box_and_only_those():
    boxes = all_boxes()
    listed = REF.findall(ERRATA_PAGE.read_text(encoding="utf-8"))
    assert len(listed) == len(set(listed)), f"the errata page lists a box twice: {listed}"
    missing = sorted(set(boxes) - set(listed))
    assert not missing, f"erratum boxes the errata page does not list: {missing} (add a row to book/errata.md)"
    gone = sorted(set(listed) - set(boxes))
    assert not gone, f"the errata page links to boxes no chapter has: {gone}"


def test_issue_19s_six_errata_are_where_their_topics_are_taught():
    boxes = all_boxes()
    assert len(boxes) >= len(REQUIRED)
    for label, (note, chapter) in REQUIRED.items():
        assert label in boxes, f"no erratum box {label} (note {note}) in the chapters"
        where, title = boxes[label]
        assert where == chapter, f"{label} is in {where}, not in {chapter}, where its topic is taught"
        assert title.startswith("Source note") and note in title, \
            f"{label}: the title {title!r} should name the source note it corrects ({note})"


def test_every_listed_row_names_its_note():
    """Each row of the errata table names the note of the box it links to."""
    boxes = all_boxes()
    rows = [line for line in ERRATA_PAGE.read_text(encoding="utf-8").splitlines() if REF.search(line)]
    for row in rows:
        note_cell = row.strip("|").split("|")[0]
        (label,) = REF.findall(row)
        notes_in_title = re.findall(r"\b00\d\b", boxes[label][1])
        assert notes_in_title and all(n in note_cell for n in notes_in_title), \
            f"errata row for {label} names note(s) {note_cell.strip()!r}, its box {notes_in_title}"


def test_the_errata_page_is_in_the_table_of_contents():
    toc = yaml.safe_load((REPO / "_toc.yml").read_text())
    files = [entry["file"] for part in toc["parts"] for entry in part["chapters"]]
    assert "book/errata" in files, "book/errata.md is not in _toc.yml: the website would not show it"
    assert files.index("book/errata") == files.index("book/glossary") + 1, "the errata page follows the glossary"


def test_the_errata_table_is_in_the_order_of_the_chapters():
    """Rows follow the chapters, and within a chapter the order of its boxes."""
    position: dict[str, tuple[str, int]] = {}
    for chapter in CHAPTERS:
        for number, line in enumerate(chapter.read_text(encoding="utf-8").splitlines()):
            label = LABEL.match(line.strip())
            if label:
                position[label.group(1)] = (chapter.stem, number)
    listed = REF.findall(ERRATA_PAGE.read_text(encoding="utf-8"))
    order = [position[label] for label in listed if label in position]
    assert order == sorted(order), (
        "the errata table is not in the order of the chapters: "
        f"{[label for label in listed]}")
