r"""Write the instructor's report page of an exercise: ``autograder/var/reports/<id>/report.html``.

    python -m autograder.report ASSIGNMENT [--root COURSE]    # rebuild the page from the results

``make grade`` writes the page after every run (``grade.write_reports``); the command above
rebuilds it from what a run left behind: the results in ``autograder/var/grading/<id>/results/``
and the exercise's source notebook (its test cells, their points and the task headings above them).

The page is one static file: inline CSS, the histogram as inline SVG, no script, no request to any
other file or host; it follows the reader's light or dark setting and fits a phone. Its sections:

- **Summary**: submissions, graded, not gradable (by reason), flagged; mean, median, lowest and
  highest score of the graded ones.
- **Score distribution**: a histogram of the graded scores, full marks and the mean marked.
- **Tasks**: each graded test cell (its nbgrader ``grade_id``), its points and its pass rate.
- **Most common failure messages**: the messages of the failed tests, grouped, with a count and
  one representative message each. They are anonymous: every student id and every file path is
  removed, and so is the traceback of the student's own function (its lines are their code).
- **Flagged and not gradable submissions**: by student id (the instructor acts on them), with every
  flag and the reason a submission could not be graded; no failure message is shown there.
- **All submissions**: each student's status, score and tasks passed, folded away.

Everything that comes from a submission (ids, messages, flags, reasons) is HTML-escaped.

The example in the instructor guide, ``book/images/report-example.png`` and its dark twin
``report-example-dark.png``, is the demo course's page: ``make grade-demo``, then ::

    chromium --headless --disable-gpu --no-sandbox --hide-scrollbars --window-size=1000,1931 \
      --screenshot=book/images/report-example.png \
      file://$PWD/_build/grade-demo/autograder/var/reports/01_softmax_ce_kl/report.html

(1931: the page's height at that width), again with ``--force-dark-mode`` for the dark one; each
PNG is then reduced to 128 colours (Pillow's
``image.quantize(128, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)``).
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import html
import json
import re
import statistics
from collections.abc import Callable, Iterable
from pathlib import Path

import nbformat

from autograder import submission as sub

TOP_MESSAGES = 15  # failure-message groups shown; the rest are counted
MESSAGE_CHARS = 400  # a representative message is cut after this many characters ...
MESSAGE_LINES = 8  # ... or this many lines
BINS = 10  # histogram bars from 0 to full marks


def e(value) -> str:
    """Any value as HTML text, quotes included: nothing a student wrote becomes markup."""
    return html.escape(str(value), quote=True)


def fmt(x: float) -> str:
    """A score or a number of points: ``15``, ``41.7``."""
    return f"{x:.1f}".removesuffix(".0")


# -- what the page is built from ---------------------------------------------------------------
@dataclasses.dataclass
class Task:
    grade_id: str
    points: float
    title: str  # the heading of the markdown cell above the test, or the grade id


POINTS_IN_HEADING = re.compile(r"\s*\((?:\d+(?:\.\d+)?|one) points?\)\s*$")


def tasks_of(source: nbformat.NotebookNode) -> list[Task]:
    """The exercise's graded test cells, in order, with their points and the task heading above."""
    tasks, heading = [], ""
    for cell in source.cells:
        if cell.cell_type == "markdown":
            first = next((line for line in cell.source.splitlines() if line.strip()), "")
            if first.startswith("#"):  # "## Task 1: ... (15 points)": the points have a column of their own
                heading = POINTS_IN_HEADING.sub("", first.lstrip("#").strip())
        elif sub.is_test(cell):
            meta = sub.nbgrader_meta(cell)
            gid = str(meta.get("grade_id"))
            tasks.append(Task(gid, float(meta.get("points", 0) or 0), heading or gid))
    return tasks


def load_results(folder: Path) -> dict[str, dict]:
    """``{student: result}`` from the grader's ``results/<student>.json`` files."""
    return {p.stem: json.loads(p.read_text()) for p in sorted(Path(folder).glob("*.json"))}


# -- failure messages, anonymous -----------------------------------------------------------------
IPYTHON_INPUT = re.compile(r"<ipython-input-\d+-[0-9a-f]+>")
# An absolute path of two parts or more (``/home/student/alice/x.npy``), not a ratio (``1/2``) or
# a formula (``(p - y)/N``): a slash preceded by a word character or a closing bracket is no path.
ABSOLUTE_PATH = re.compile(r"(?<![\w.)\]/])(?:~|/)(?:[^\s\"'`,;:()\[\]{}|/]+/)+[^\s\"'`,;:()\[\]{}|]*")
NUMBER = re.compile(r"(?<![A-Za-z_\d.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
# ``trusted.rebuild_error``: "<message>\n(raised by your f(); traceback:\n<the student's frames>)", or
# "raised by your f(); traceback:\n..." for an exception without a message.
STUDENT_TRACEBACK = re.compile(r"(\n?\()?raised by your (\w+)\(\); traceback:.*", re.DOTALL)


def scrubber(students: Iterable[str]) -> Callable[[str], str]:
    """A function that removes every student id (as a whole word, any case) and every path from a text.

    A one-letter id is removed from paths only (the paths go anyway): as a word it would take every
    "a" out of every message.
    """
    ids = sorted({s for s in students if len(s) >= 2}, key=len, reverse=True)
    words = "|".join(rf"(?<![A-Za-z0-9]){re.escape(s)}(?![A-Za-z0-9])" for s in ids)
    pattern = re.compile(words, re.IGNORECASE) if ids else None

    def scrub(text: str) -> str:
        text = IPYTHON_INPUT.sub("<cell>", text)
        if pattern is not None:
            text = pattern.sub("<student>", text)
        return ABSOLUTE_PATH.sub("<path>", text)
    return scrub


def failure_text(outputs: list[dict]) -> str:
    """What a failed test said: its exception, or else what it printed to stderr."""
    errors = [o for o in outputs if o.get("output_type") == "error"]
    if errors:
        ename, evalue = str(errors[-1].get("ename", "Error")), str(errors[-1].get("evalue", ""))
        return f"{ename}: {evalue}" if evalue else ename
    stderr = "".join(str(o.get("text", "")) for o in outputs if o.get("name") == "stderr").strip()
    if stderr:
        return f"printed to stderr: {stderr}"
    return "(the test failed without a message)"


def without_student_code(message: str) -> str:
    """The message without the traceback of the student's own function: its lines are the student's code."""
    return STUDENT_TRACEBACK.sub(lambda m: f" (raised by your {m[2]}())" if m[1] else f"raised by your {m[2]}()",
                                 message)


def group_key(message: str) -> str:
    """Messages that differ only in numbers or spacing group together."""
    return " ".join(NUMBER.sub("#", message).split())


def shorten(message: str) -> str:
    lines = message.strip().splitlines()
    text = "\n".join(lines[:MESSAGE_LINES])
    cut = len(lines) > MESSAGE_LINES or len(text) > MESSAGE_CHARS
    return text[:MESSAGE_CHARS].rstrip() + (" …" if cut else "")


def outputs_by_test(result: dict) -> dict[str, list[dict]]:
    """``{grade_id: outputs}`` of a graded result's test cells (the result maps cell indices to outputs)."""
    cells = (result.get("notebook") or {}).get("cells", [])
    outputs = result.get("outputs") or {}
    found = {}
    for index, cell in enumerate(cells):
        gid = sub.nbgrader_meta(cell).get("grade_id")
        if gid and str(index) in outputs:
            found[str(gid)] = outputs[str(index)]
    return found


@dataclasses.dataclass
class MessageGroup:
    task: str
    count: int
    representative: str
    variants: int


def failure_groups(results: dict[str, dict], tasks: list[Task]) -> list[MessageGroup]:
    """The failed tests' messages, anonymous, grouped by task and message; the most frequent first."""
    scrub = scrubber(results)
    order = {t.grade_id: i for i, t in enumerate(tasks)}
    groups: dict[tuple[str, str], collections.Counter] = collections.defaultdict(collections.Counter)
    for student, result in sorted(results.items()):
        if result.get("status") != "graded":
            continue
        outputs = outputs_by_test(result)
        for task in tasks:
            outcome = result.get("tests", {}).get(task.grade_id)
            if outcome is None:
                message = "(this test did not run)"
            elif outcome.get("passed"):
                continue
            else:
                message = without_student_code(scrub(failure_text(outputs.get(task.grade_id, []))))
            groups[(task.grade_id, group_key(message))][message] += 1
    found = [MessageGroup(gid, sum(c.values()), shorten(c.most_common(1)[0][0]), len(c))
             for (gid, _), c in groups.items()]
    return sorted(found, key=lambda g: (-g.count, order.get(g.task, len(order)), g.representative))


# -- the numbers --------------------------------------------------------------------------------
@dataclasses.dataclass
class Report:
    assignment: str
    tasks: list[Task]
    results: dict[str, dict]
    root: Path | None = None

    @property
    def max_score(self) -> float:
        if self.tasks:
            return sum(t.points for t in self.tasks)
        return max((float(r.get("max_score", 0)) for r in self.results.values()), default=0.0)

    @property
    def graded(self) -> dict[str, dict]:
        return {s: r for s, r in self.results.items() if r.get("status") == "graded"}

    @property
    def not_gradable(self) -> dict[str, dict]:
        return {s: r for s, r in self.results.items() if r.get("status") != "graded"}

    @property
    def flagged(self) -> dict[str, dict]:
        return {s: r for s, r in self.results.items() if r.get("flags")}

    @property
    def scores(self) -> list[float]:
        return [float(r.get("score", 0)) for r in self.graded.values()]

    def pass_rates(self) -> list[tuple[Task, int, int]]:
        """(task, submissions that passed it, graded submissions) for each task."""
        graded = self.graded.values()
        return [(t, sum(bool(r.get("tests", {}).get(t.grade_id, {}).get("passed")) for r in graded), len(graded))
                for t in self.tasks]

    def reason(self, result: dict) -> str:
        """The reason a submission was not graded, the course's own paths made relative."""
        text = str(result.get("reason") or "no reason recorded")
        if self.root is not None:
            text = text.replace(f"{Path(self.root).resolve()}/", "").replace(f"{self.root}/", "")
        return text


def flag_kind(flag: str) -> str:
    return flag.split(":", 1)[0].strip()


def status_words(status: str) -> str:
    return {"graded": "graded", "malformed": "malformed", "error": "grader error"}.get(status, status)


# -- the page -------------------------------------------------------------------------------------
CSS = """
:root { color-scheme: light dark;
  --bg: #ffffff; --fg: #1d1f21; --muted: #545a60; --rule: #d5d8dc; --panel: #f4f6f8;
  --bar: #2f6db3; --ok: #1e6b35; --bad: #a8261d; --warn: #8a4b00; --mark: #a8261d; }
@media (prefers-color-scheme: dark) { :root {
  --bg: #15181c; --fg: #e6e8ea; --muted: #a7afb7; --rule: #3a4148; --panel: #1f2429;
  --bar: #6ea8ec; --ok: #6fcf8a; --bad: #ff8c82; --warn: #f0b25a; --mark: #ff8c82; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem 1rem 3rem; }
h1 { font-size: 1.6rem; margin: 0.5rem 0 0.25rem; overflow-wrap: anywhere; }
h2 { font-size: 1.25rem; margin: 2rem 0 0.5rem; padding-bottom: 0.2rem; border-bottom: 1px solid var(--rule); }
p, li { max-width: 48rem; }
.muted { color: var(--muted); }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace; font-size: 0.88em; }
pre.message { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; background: var(--panel);
  padding: 0.4rem 0.55rem; border-radius: 4px; }
dl.stats { display: grid; grid-template-columns: repeat(auto-fill, minmax(9.5rem, 1fr)); gap: 0.5rem; margin: 0; }
dl.stats div { background: var(--panel); border-radius: 6px; padding: 0.45rem 0.7rem; }
dl.stats dt { font-size: 0.85rem; color: var(--muted); }
dl.stats dd { margin: 0; font-size: 1.35rem; font-weight: 600; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 0.35rem 0.5rem; border-bottom: 1px solid var(--rule); }
th { font-size: 0.85rem; color: var(--muted); font-weight: 600; }
td.id code { white-space: nowrap; }
td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.rate { display: flex; align-items: center; gap: 0.5rem; min-width: 9rem; }
.rate .track { flex: 1; height: 0.7rem; background: var(--panel); border: 1px solid var(--rule); border-radius: 3px; }
.rate .fill { height: 100%; background: var(--bar); border-radius: 2px; }
.ok { color: var(--ok); } .bad { color: var(--bad); } .warn { color: var(--warn); }
ul.flags { margin: 0; padding-left: 1.1rem; }
ul.flags li { overflow-wrap: anywhere; }
figure { margin: 0.5rem 0; }
svg.histogram { width: 100%; max-width: 32rem; height: auto; display: block; }
svg.histogram text { fill: var(--fg); font: 14px system-ui, sans-serif; }
svg.histogram .axis { stroke: var(--muted); stroke-width: 1; }
svg.histogram .grid { stroke: var(--rule); stroke-width: 1; }
svg.histogram .bar { fill: var(--bar); }
svg.histogram .mark { stroke: var(--mark); stroke-width: 2; stroke-dasharray: 5 3; }
svg.histogram .mean { stroke: var(--fg); stroke-width: 1.5; stroke-dasharray: 2 3; }
svg.histogram text.marklabel { fill: var(--mark); }
details summary { cursor: pointer; font-weight: 600; }
/* A phone: each row of a table becomes a card, each cell a line with its column's name. */
@media (max-width: 40rem) {
  table.stack thead { display: none; }
  table.stack tr { display: block; padding: 0.4rem 0; border-bottom: 1px solid var(--rule); }
  table.stack td { display: block; border: 0; padding: 0.1rem 0; text-align: left; }
  table.stack td[data-label]::before { content: attr(data-label) ": "; color: var(--muted); font-size: 0.85rem; }
  table.stack td.id code { white-space: normal; overflow-wrap: anywhere; }
}
"""


def histogram_svg(scores: list[float], max_score: float, bins: int = BINS) -> str:
    """The scores as ``bins`` bars from 0 to ``max_score`` (the last bar includes full marks), as SVG."""
    width, height, left, right, top, bottom = 460, 270, 40, 14, 56, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    top_score = max_score if max_score > 0 else max(scores, default=0.0) or 1.0
    step = top_score / bins
    counts = [0] * bins
    for s in scores:
        counts[min(bins - 1, max(0, int(s / step)))] += 1
    tallest = max(counts, default=0) or 1
    x = lambda value: left + plot_w * value / top_score  # noqa: E731
    y = lambda count: top + plot_h * (1 - count / tallest)  # noqa: E731
    base = top + plot_h
    mean = statistics.fmean(scores) if scores else None
    label = (f"Histogram of the {len(scores)} graded scores, from 0 to full marks ({fmt(top_score)} points) "
             f"in {bins} bars" + (f"; the mean is {fmt(mean)}." if mean is not None else "."))
    parts = [f'<svg class="histogram" viewBox="0 0 {width} {height}" role="img" aria-labelledby="hist-title" '
             f'xmlns="http://www.w3.org/2000/svg">', f'<title id="hist-title">{e(label)}</title>']
    # The count axis: 0, the tallest bar, and the middle when it is a whole number.
    ticks = sorted({0, tallest} | ({tallest // 2} if tallest % 2 == 0 and tallest > 2 else set()))
    for count in ticks:
        parts.append(f'<line class="grid" x1="{left}" y1="{y(count):.1f}" x2="{left + plot_w}" y2="{y(count):.1f}"/>')
        parts.append(f'<text x="{left - 6}" y="{y(count) + 4:.1f}" text-anchor="end">{count}</text>')
    parts.append(f'<text x="4" y="16">submissions</text>')
    for i, count in enumerate(counts):
        lo, hi = i * step, (i + 1) * step
        span = f"{fmt(lo)} to {fmt(hi)}" + (" (full marks included)" if i == bins - 1 else f" (below {fmt(hi)})")
        bx, bw = x(lo) + 2, plot_w / bins - 4
        if count:
            parts.append(f'<rect class="bar" data-count="{count}" x="{bx:.1f}" y="{y(count):.1f}" width="{bw:.1f}" '
                         f'height="{base - y(count):.1f}"><title>{e(f"{count} scored {span}")}</title></rect>')
            parts.append(f'<text x="{bx + bw / 2:.1f}" y="{y(count) - 5:.1f}" text-anchor="middle">{count}</text>')
    parts.append(f'<line class="axis" x1="{left}" y1="{base}" x2="{left + plot_w}" y2="{base}"/>')
    for i in range(0, bins + 1, 2 if bins > 6 else 1):
        tx = x(i * step)
        parts.append(f'<line class="axis" x1="{tx:.1f}" y1="{base}" x2="{tx:.1f}" y2="{base + 5}"/>')
        parts.append(f'<text x="{tx:.1f}" y="{base + 19}" text-anchor="middle">{fmt(i * step)}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle">score (points)</text>')
    full = x(top_score)
    parts.append(f'<line class="mark" x1="{full:.1f}" y1="{top - 36}" x2="{full:.1f}" y2="{base}"/>')
    parts.append(f'<text class="marklabel" x="{full - 5:.1f}" y="16" text-anchor="end">'
                 f'full marks {fmt(top_score)}</text>')
    if mean is not None:
        mx = x(mean)
        parts.append(f'<line class="mean" x1="{mx:.1f}" y1="{top - 34}" x2="{mx:.1f}" y2="{base}"/>')
        anchor, dx = ("start", 5) if mean < top_score * 0.6 else ("end", -5)
        parts.append(f'<text x="{mx + dx:.1f}" y="{top - 22}" text-anchor="{anchor}">mean {fmt(mean)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def rate_cell(passed: int, total: int) -> str:
    share = passed / total if total else 0.0
    return (f'<div class="rate"><div class="track"><div class="fill" style="width:{100 * share:.1f}%"></div></div>'
            f'<span>{round(100 * share)}%</span></div>')


def table(columns: list[tuple[str, str]], rows: list[tuple[str, list[str]]]) -> list[str]:
    """A table of ``columns`` ((name, class)) and ``rows`` ((the row's attributes, cells as HTML)).

    On a phone each row becomes a card whose cells carry their column's name (``data-label``).
    """
    head = "".join(f'<th class="{cls}">{e(name)}</th>' if cls else f"<th>{e(name)}</th>" for name, cls in columns)
    lines = ['<div class="scroll"><table class="stack">', f"<thead><tr>{head}</tr></thead>", "<tbody>"]
    for attributes, cells in rows:
        tds = []
        for (name, cls), cell in zip(columns, cells):
            cls_attribute = f' class="{cls}"' if cls else ""
            tds.append(f'<td{cls_attribute} data-label="{e(name)}">{cell}</td>')
        lines.append(f"<tr {attributes}>{''.join(tds)}</tr>")
    return lines + ["</tbody></table></div>"]


def render(report: Report) -> str:
    """The whole page, as one string of HTML."""
    tasks, results, graded, scores = report.tasks, report.results, report.graded, report.scores
    flagged, not_gradable = report.flagged, report.not_gradable
    out = ['<!DOCTYPE html>', '<html lang="en">', '<head>', '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           '<meta name="color-scheme" content="light dark">',
           f'<title>Grading report: {e(report.assignment)}</title>', f'<style>{CSS}</style>', '</head>', '<body>',
           '<main>', f'<h1>Grading report: <code>{e(report.assignment)}</code></h1>',
           '<p class="muted">Written by <code>make grade</code>. Scores are of the graded submissions; '
           'the failure messages are anonymous; the flagged and not gradable submissions are listed by student.</p>']

    # Summary
    reasons = collections.Counter(status_words(r.get("status", "?")) for r in not_gradable.values())
    kinds = collections.Counter(k for r in flagged.values() for k in {flag_kind(f) for f in r["flags"]})
    stats = [("submissions", len(results)), ("graded", len(graded)), ("not gradable", len(not_gradable)),
             ("flagged", len(flagged))]
    if scores:
        stats += [("mean", fmt(statistics.fmean(scores))), ("median", fmt(statistics.median(scores))),
                  ("lowest", fmt(min(scores))), ("highest", fmt(max(scores)))]
    stats.append(("full marks", fmt(report.max_score)))
    out += ['<section id="summary">', '<h2>Summary</h2>', '<dl class="stats">']
    out += [f'<div><dt>{e(name)}</dt><dd>{e(value)}</dd></div>' for name, value in stats]
    out.append('</dl>')
    if not_gradable:
        out.append('<p>Not gradable: ' + ", ".join(f"{n} {e(k)}" for k, n in sorted(reasons.items()))
                   + ' (their reasons are <a href="#flagged">below</a>; <code>scores.csv</code> records 0 for them).</p>')
    if kinds:
        out.append('<p>Flags, by kind (submissions): ' + ", ".join(f"<code>{e(k)}</code> {n}" for k, n in
                                                                   sorted(kinds.items())) + '.</p>')
    if not scores:
        out.append('<p>No submission was graded.</p>')
    out.append('</section>')

    # Distribution
    out += ['<section id="distribution">', '<h2>Score distribution</h2>', '<figure>',
            histogram_svg(scores, report.max_score),
            f'<figcaption class="muted">The {len(scores)} graded scores in bars of '
            f'{fmt(report.max_score / BINS if report.max_score else 0)} points; the dashed line marks full marks, '
            'the dotted one the mean.</figcaption>', '</figure>', '</section>']

    # Tasks
    out += ['<section id="tasks">', '<h2>Tasks: pass rates</h2>',
            f'<p class="muted">Each graded test cell of the exercise and how many of the {len(graded)} graded '
            'submissions passed it (all of a test\'s points, or none).</p>']
    rows = [(f'data-grade-id="{e(task.grade_id)}"',
             [e(task.title), f"<code>{e(task.grade_id)}</code>", fmt(task.points), f"{passed} of {total}",
              rate_cell(passed, total)]) for task, passed, total in report.pass_rates()]
    out += table([("task", ""), ("test cell", "id"), ("points", "num"), ("passed", "num"), ("pass rate", "")], rows)
    out.append('</section>')

    # Failure messages
    groups = failure_groups(results, tasks)
    out += ['<section id="failures">', '<h2>Most common failure messages</h2>',
            '<p class="muted">What the failed tests said, grouped by task and by message (the numbers in a '
            'message may differ within a group: its variants). Student ids, file paths and the lines of the '
            'students\' own code are removed; the most frequent variant of each group is shown.</p>']
    if groups:
        rows = [('class="failure"', [str(g.count), f"<code>{e(g.task)}</code>"
                                     + (f'<br><span class="muted">{g.variants} variants</span>' if g.variants > 1 else ""),
                                     f'<pre class="message">{e(g.representative)}</pre>'])
                for g in groups[:TOP_MESSAGES]]
        out += table([("failures", "num"), ("test cell", "id"), ("message", "")], rows)
        rest = groups[TOP_MESSAGES:]
        if rest:
            out.append(f'<p class="muted">And {len(rest)} more messages, {sum(g.count for g in rest)} failures in all.</p>')
    else:
        out.append('<p>No test failed.</p>')
    out.append('</section>')

    # Flagged and not gradable
    out += ['<section id="flagged">', '<h2>Flagged and not gradable submissions</h2>',
            '<p class="muted">Flags never change a score: they say where to look. A submission that could not be '
            'graded has its reason. The per-student details are in <code>students/&lt;student&gt;.txt</code>.</p>']
    listed = sorted(set(flagged) | set(not_gradable))
    rows = []
    for student in listed:
        r = results[student]
        status = r.get("status", "?")
        why = [f'<li class="bad">not graded: {e(report.reason(r))}</li>'] if status != "graded" else []
        why += [f'<li><code class="warn">{e(flag_kind(f))}</code>{e(f[len(flag_kind(f)):] if ":" in f else "")}</li>'
                for f in r.get("flags", [])]
        score = fmt(float(r.get("score", 0))) if status == "graded" else "–"
        rows.append((f'class="flagged" data-student="{e(student)}"',
                     [f"<code>{e(student)}</code>", e(status_words(status)), score, f'<ul class="flags">{"".join(why)}</ul>']))
    if rows:
        out += table([("student", ""), ("status", ""), ("score", "num"), ("why", "")], rows)
    else:
        out.append('<p>None: every submission was graded, and none was flagged.</p>')
    out.append('</section>')

    # Every submission, folded
    out += ['<section id="students">', '<h2>All submissions</h2>', '<details>',
            f'<summary>Scores of the {len(results)} submissions, by student</summary>']
    rows = []
    for student, r in sorted(results.items()):
        status = r.get("status", "?")
        if status == "graded":
            passed = [t.grade_id for t in tasks if r.get("tests", {}).get(t.grade_id, {}).get("passed")]
            detail, score = f"{len(passed)} of {len(tasks)}", fmt(float(r.get("score", 0)))
        else:
            detail, score = "–", "–"
        rows.append((f'class="student" data-student="{e(student)}" data-score="{e(score)}"',
                     [f"<code>{e(student)}</code>", e(status_words(status)), score, detail,
                      str(len(r.get("flags", [])))]))
    out += table([("student", ""), ("status", ""), ("score", "num"), ("tasks passed", ""), ("flags", "num")], rows)
    out += ['</details>', '</section>', '</main>', '</body>', '</html>']
    return "\n".join(out) + "\n"


def write_report(reports: Path, assignment: str, results: dict[str, dict], source: Path | nbformat.NotebookNode,
                 root: Path | None = None) -> Path:
    """Write ``reports/report.html`` for ``results`` (``{student: result}``); returns its path."""
    notebook = source if isinstance(source, nbformat.NotebookNode) else nbformat.read(source, as_version=4)
    page = render(Report(assignment, tasks_of(notebook), results, root))
    reports = Path(reports)
    reports.mkdir(parents=True, exist_ok=True)
    path = reports / "report.html"
    tmp = path.with_name(".report.html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path


def main(argv: list[str] | None = None) -> None:
    from autograder.grade import Course
    from autograder.nbgrader_cli import REPO

    parser = argparse.ArgumentParser(prog="python -m autograder.report", description=__doc__.split("\n")[0])
    parser.add_argument("assignment", help="the exercise id, e.g. 01_softmax_ce_kl")
    parser.add_argument("--root", type=Path, default=REPO, help="the course directory (default: this repository)")
    args = parser.parse_args(argv)
    course = Course(args.root.resolve(), args.assignment)
    results = load_results(course.results)
    if not results:
        raise SystemExit(f"no results in {course.results}: run `make grade` first")
    print(write_report(course.reports, args.assignment, results, course.source, course.root))


if __name__ == "__main__":
    main()
