"""A submission before it runs: is it a readable notebook, and what did the student change?

``read_submission`` turns every way a file can be broken (missing, misnamed, not UTF-8, not JSON,
the wrong nbformat, enormous) into a reason an instructor can act on, instead of an exception that
stops the run. ``normalize`` rebuilds the notebook on the release's skeleton: the student's answer
cells go where the release has them, the locked and test cells come from the release, and the
student's own extra cells follow the cell they followed. Whatever the student did to the
structure (deleted or edited test cells, duplicated grade ids, changed metadata) is reported as a
flag and has no effect on the grading.
"""
from __future__ import annotations

import copy
import json
import os
import stat
from pathlib import Path

import nbformat

MAX_NOTEBOOK_BYTES = 20 * 2**20
MAX_FILES = 200  # files in one submission folder, the notebook included
MAX_TOTAL_BYTES = 100 * 2**20  # their total size
GRADING_KEYS = ("grade", "solution", "locked", "points", "task")


class Malformed(Exception):
    """A submission that cannot be graded; the message says why and what to do."""


def nbgrader_meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def is_test(cell) -> bool:
    meta = nbgrader_meta(cell)
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


def is_answer(cell) -> bool:
    return bool(nbgrader_meta(cell).get("solution"))


def submitted_files(folder: Path, root: Path | None = None) -> tuple[list[Path], list[str]]:
    """The regular files of a submission folder (relative paths), and a flag for everything else.

    Nothing is followed: a symbolic link (to the instructor's solutions, say), a device, a FIFO or a
    socket is refused and flagged, and the submission is graded without it. The folder itself must
    be a real folder (as is every folder between it and ``root``), and its files are capped in number
    and total size; otherwise Malformed.
    """
    if root is not None:  # every folder between the grader's root and the submission is a real one
        for parent in [p for p in folder.parents if p.is_relative_to(root) and p != root]:
            if parent.is_symlink():
                raise Malformed(f"not a folder: {parent} is a symbolic link, which the grader never follows")
    try:
        top = os.lstat(folder)
    except FileNotFoundError:
        raise Malformed(f"missing submission: {folder} does not exist") from None
    if not stat.S_ISDIR(top.st_mode):
        raise Malformed(f"not a folder: {folder} is a {_kind(top.st_mode)}, not the submission's folder "
                        "(submit the notebook itself, inside a folder)")
    files: list[Path] = []
    flags: list[str] = []
    total = 0
    pending = [Path(".")]
    while pending:
        relative = pending.pop()
        with os.scandir(folder / relative) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                info = entry.stat(follow_symlinks=False)
                mode, path = info.st_mode, relative / entry.name
                if stat.S_ISDIR(mode):
                    pending.append(path)
                elif stat.S_ISREG(mode):
                    files.append(path)
                    total += info.st_size
                else:
                    flags.append(f"refused-file: {path} is a {_kind(mode)}; it was not copied, and the "
                                 "submission was graded without it")
                if len(files) > MAX_FILES:
                    raise Malformed(f"too many files: the submission holds more than {MAX_FILES} files "
                                    "(submit the notebook and the files it needs, and nothing else)")
    if total > MAX_TOTAL_BYTES:
        raise Malformed(f"too large: the submission's files total {total / 2**20:.1f} MiB, over the limit of "
                        f"{MAX_TOTAL_BYTES / 2**20:.0f} MiB (clear the outputs and remove data files)")
    return sorted(files), flags


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISLNK, "symbolic link"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISREG, "file"), (stat.S_ISDIR, "folder")):
        if test(mode):
            return name
    return "special file"


def copy_files(folder: Path, files: list[Path], destination: Path, skip: tuple[str, ...] = (),
               skip_hidden: bool = False) -> None:
    """Copy the regular ``files`` of ``folder`` (from ``submitted_files``) into ``destination``.

    Each file is opened without following links (O_NOFOLLOW), so a file swapped for a link after
    the folder was listed is not copied either.
    """
    destination.mkdir(parents=True, exist_ok=True)
    for relative in files:
        if relative.name in skip or (skip_hidden and any(part.startswith(".") for part in relative.parts)):
            continue
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(folder / relative, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
        with os.fdopen(fd, "rb") as source, open(target, "wb") as out:
            if not stat.S_ISREG(os.fstat(source.fileno()).st_mode):
                continue
            while chunk := source.read(2**20):
                out.write(chunk)


def read_submission(folder: Path, assignment: str, max_bytes: int = MAX_NOTEBOOK_BYTES) -> tuple[nbformat.NotebookNode, bytes]:
    """The notebook ``folder/<assignment>.ipynb`` and its bytes; raises Malformed with the reason."""
    expected = folder / f"{assignment}.ipynb"
    if expected.is_symlink() or (expected.exists() and not expected.is_file()):
        raise Malformed(f"not a notebook: {expected.name} is a symbolic link or a special file, which the grader "
                        "never follows (submit the notebook file itself)")
    if not expected.is_file():
        others = sorted(p.name for p in folder.glob("*.ipynb")) if folder.is_dir() else []
        if others:
            raise Malformed(f"wrong file name: found {', '.join(others)}, expected {expected.name} "
                            f"(rename the notebook to {expected.name} and grade again)")
        raise Malformed(f"missing notebook: no {expected.name} in {folder}")
    size = expected.stat().st_size
    if size > max_bytes:
        raise Malformed(f"enormous file: {expected.name} is {size / 2**20:.1f} MiB, over the limit of "
                        f"{max_bytes / 2**20:.0f} MiB (clear the outputs and submit again)")
    with os.fdopen(os.open(expected, os.O_RDONLY | os.O_NOFOLLOW), "rb") as f:  # never through a link
        raw = f.read(max_bytes + 1)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Malformed(f"not UTF-8: byte {exc.start} of {expected.name} cannot be decoded "
                        "(save the notebook from Jupyter again)") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Malformed(f"invalid JSON in {expected.name}: {exc.msg} at line {exc.lineno}, column {exc.colno} "
                        "(the file was edited outside Jupyter or cut short)") from None
    if not isinstance(document, dict) or document.get("nbformat") != 4 or not isinstance(document.get("cells"), list):
        version = document.get("nbformat") if isinstance(document, dict) else None
        raise Malformed(f"wrong nbformat: {expected.name} is not a version 4 notebook (nbformat = {version!r}); "
                        "open it in JupyterLab and save it again")
    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except Exception as exc:  # nbformat's validation errors come in several types
        raise Malformed(f"invalid notebook: {expected.name} does not follow nbformat 4: {str(exc).splitlines()[0]}") from None
    return notebook, raw


def _describe_meta_change(before: dict, after: dict) -> str:
    changes = [f"{key} {before.get(key)!r} -> {after.get(key)!r}" for key in GRADING_KEYS if before.get(key) != after.get(key)]
    return ", ".join(changes)


def normalize(submitted: nbformat.NotebookNode, release: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, list[str]]:
    """The submission on the release's skeleton, and the flags for every structural change."""
    flags: list[str] = []
    release_ids = [nbgrader_meta(c).get("grade_id") for c in release.cells]
    known = {gid for gid in release_ids if gid}
    by_id: dict[str, list] = {}
    extras: dict[str | None, list] = {}
    anchor: str | None = None
    for cell in submitted.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if gid in known and gid not in by_id:
            by_id[gid] = [cell]
            anchor = gid
            continue
        if gid in known:
            by_id[gid].append(cell)
        elif nbgrader_meta(cell):
            flags.append(f"metadata: a cell claims the unknown grade id {gid!r}; it runs as the student's own code")
        extra = copy.deepcopy(cell)
        extra.get("metadata", {}).pop("nbgrader", None)
        extras.setdefault(anchor, []).append(extra)
    for gid, cells in by_id.items():
        if len(cells) > 1:
            flags.append(f"duplicate-grade-id: {gid!r} appears {len(cells)} times; the first is graded")

    out = copy.deepcopy(release)
    out.cells = []
    extra_count = 0

    def add_extras(key):
        nonlocal extra_count
        for cell in extras.get(key, []):
            extra_count += 1
            cell["id"] = f"student-extra-{extra_count}"
            out.cells.append(cell)

    add_extras(None)
    for release_cell in release.cells:
        meta = nbgrader_meta(release_cell)
        gid = meta.get("grade_id")
        cell = copy.deepcopy(release_cell)
        student = by_id.get(gid, [None])[0] if gid else None
        if gid and student is None:
            kind = "test" if is_test(release_cell) else "answer" if is_answer(release_cell) else "locked"
            if kind == "answer":
                # Left empty, not the stub: the student's code may sit in a cell without metadata.
                cell.source = ""
                flags.append(f"answer-cell-deleted: the answer cell {gid!r} is missing; an empty one is graded")
            else:
                flags.append(f"{kind}-cell-deleted: the {kind} cell {gid!r} is missing; the release's cell is used")
        elif student is not None:
            change = _describe_meta_change(meta, nbgrader_meta(student))
            if change or student.get("cell_type") != release_cell.get("cell_type"):
                flags.append(f"metadata: cell {gid!r} changed ({change or 'cell type'}); the release's is used")
            if is_answer(release_cell):
                if student.get("cell_type") == release_cell.get("cell_type"):
                    cell.source = student.source
            elif student.source != release_cell.source:
                kind = "test" if is_test(release_cell) else "locked"
                flags.append(f"{kind}-cell-edited: the {kind} cell {gid!r} was edited; the original is used")
        out.cells.append(cell)
        if gid:
            add_extras(gid)
    for cell in out.cells:
        if cell.get("cell_type") == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.validate(out)
    return out, flags


def release_of(source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """What nbgrader's release would contain, for courses whose release folder is absent."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    nb = copy.deepcopy(source)
    nb, _ = ClearSolutions(code_stub={"python": "# YOUR CODE HERE\nraise NotImplementedError()"}).preprocess(nb, {})
    nb, _ = ClearHiddenTests().preprocess(nb, {})
    return nb


def defuse_markdown(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose student-written markdown cells (every one that is not locked) can carry
    no active HTML into the instructor's pages.

    Formgrader's grading page and nbgrader's feedback render a markdown cell's HTML as it is (their
    templates skip nbconvert's sanitizer), from the instructor's own server: a student's
    ``<script>``, ``onerror=`` or ``javascript:`` link would run with the instructor's session. Each
    such cell is rendered here by nbconvert's own markdown renderer with raw HTML escaped and
    harmful link protocols refused, and stored as that HTML: it reads as the student wrote it,
    math included, with any tag shown as text. Locked cells are the instructor's (nbgrader restores
    them from the source anyway)."""
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    out = copy.deepcopy(nb)
    for cell in out.cells:
        if cell.cell_type != "markdown" or nbgrader_meta(cell).get("locked"):
            continue
        renderer = IPythonRenderer(escape=True, allow_harmful_protocols=False, anchor_link_text="")
        html = MarkdownWithMath(renderer=renderer).render(cell.source)
        # One HTML block (a blank line would end it); its text stays escaped when rendered again.
        lines = [line for line in html.splitlines() if line.strip()]
        cell.source = "\n".join(['<div class="student-markdown">', *lines, "</div>"])
    return out
