"""Write every diagram of the book: ``book/diagrams/<name>.svg`` and ``<name>-dark.svg``.

    .venv/bin/python book/diagrams/build.py            # (re)write the committed SVGs
    .venv/bin/python book/diagrams/build.py --out DIR  # write them into DIR instead (the tests)
    .venv/bin/python book/diagrams/build.py --check    # exit 1 if a committed SVG is stale
    .venv/bin/python book/diagrams/build.py --only ch04,ch05   # just these modules

Each module ``chNN.py`` of this folder defines ``DIAGRAMS = {"name": draw}``, where ``draw()``
returns an ``svgkit.Diagram``; both variants are rendered from that one drawing. Output is
deterministic (no dates, fixed number formatting), so a changed figure reviews as a diff.
"""
from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
MODES = {"light": "{name}.svg", "dark": "{name}-dark.svg"}


def _load(path: Path):
    """Import ``path`` as a module, with this folder on sys.path (for ``import svgkit``)."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    spec = importlib.util.spec_from_file_location(f"diagrams_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # a dataclass in a chapter module looks its module up there
    spec.loader.exec_module(module)
    return module


def modules(only: list[str] | None = None) -> list[Path]:
    """The chapter modules, in order: ``ch01.py`` ... ``ch10.py`` (``only``: these stems)."""
    found = sorted(HERE.glob("ch[0-9][0-9].py"))
    return [p for p in found if only is None or p.stem in only]


def diagrams(only: list[str] | None = None) -> dict[str, tuple[str, object]]:
    """Every diagram of the book: ``{name: (module stem, draw function)}``; names are unique."""
    found: dict[str, tuple[str, object]] = {}
    for path in modules(only):
        module = _load(path)
        table = getattr(module, "DIAGRAMS", None)
        if not isinstance(table, dict):
            raise SystemExit(f"{path.name}: defines no DIAGRAMS dict")
        for name, draw in table.items():
            if not NAME.match(name) or name.endswith("-dark"):
                raise SystemExit(f"{path.name}: bad diagram name {name!r} (lower-case words "
                                 "joined by '-', not ending in '-dark')")
            if name in found:
                raise SystemExit(f"{path.name}: diagram {name!r} is also in {found[name][0]}.py")
            found[name] = (path.stem, draw)
    return found


def render_all(only: list[str] | None = None) -> dict[str, str]:
    """``{file name: SVG text}`` for both variants of every diagram."""
    files: dict[str, str] = {}
    for name, (_, draw) in diagrams(only).items():
        d = draw()
        for text in d.overflows():
            print(f"warning: {name}: text may be cut at the figure's edge: {text!r}",
                  file=sys.stderr)
        for mode, pattern in MODES.items():
            files[pattern.format(name=name)] = d.render(mode)
    return files


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE, help="folder to write into (default: here)")
    ap.add_argument("--check", action="store_true",
                    help="write nothing; fail if a committed SVG differs from its source")
    ap.add_argument("--only", default=None,
                    help="comma-separated modules to render, e.g. ch02,ch03 (default: all)")
    args = ap.parse_args(argv)
    only = args.only.split(",") if args.only else None
    files = render_all(only)
    if args.check:
        stale = [f for f, text in files.items()
                 if not (HERE / f).exists() or (HERE / f).read_text(encoding="utf-8") != text]
        orphans = [] if only else sorted(p.name for p in HERE.glob("*.svg") if p.name not in files)
        for f in stale:
            print(f"stale: {f}")
        for f in orphans:
            print(f"no source: {f}")
        return 1 if stale or orphans else 0
    args.out.mkdir(parents=True, exist_ok=True)
    changed = 0
    for f, text in files.items():
        target = args.out / f
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8", newline="\n")
            changed += 1
    if args.out == HERE and not only:  # an SVG whose diagram was removed or renamed goes too
        for p in HERE.glob("*.svg"):
            if p.name not in files:
                p.unlink()
                print(f"removed {p.name}")
    print(f"{len(files)} SVG files in {args.out} ({changed} written)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
