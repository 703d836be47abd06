"""`make bench`: the course's performance, measured side by side; prints a table and writes ``benchmarks/RESULTS.md``.

    python -m benchmarks.run                 layers, book, autograding (about 6 to 9 minutes on 2 cores), and
                                             the class-sized load (tens of minutes more: about 20 to 40,
                                             extrapolated from 12- and 30-submission runs)
    python -m benchmarks.run --no-class-load the same without the class-sized load
    python -m benchmarks.run --suite         the same and the test suite's wall time (only on a quiet machine)
    python -m benchmarks.run --only layers   some sections; the others keep their last figures
    python -m benchmarks.run --quick         tiny sizes, layers only, into _build/bench-quick/ (for the tests)
    python -m benchmarks.run --profile "LSTM, fast path"   where a NumPy row spends its time (cProfile), nothing written

Sections: the NumPy layers against PyTorch (:mod:`benchmarks.layers`), the book's clean and cached
builds (:mod:`benchmarks.book`), the autograder's rate and the test suite (:mod:`benchmarks.suite`),
and a class-sized grading load (:mod:`benchmarks.class_load`: 300 submissions over three exercises,
a tenth adversarial, against plain serial nbgrader, with a ``kill -9`` and a re-run).
Every figure is stored with its date and the load average around it in ``results.json`` beside
``RESULTS.md``; a section not run this time keeps its last figures, so ``RESULTS.md`` always
shows every row, each with when it was measured.
"""
from __future__ import annotations

import os

# One thread for every library, set before NumPy and torch load their BLAS: the comparison is of
# the code, not of how many cores each library grabs on a machine that other people share.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import datetime  # noqa: E402
import importlib.metadata  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from benchmarks import book, class_load, layers, suite  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "RESULTS.md"
QUICK_RESULTS = REPO / "_build" / "bench-quick" / "RESULTS.md"
SECTIONS = ("layers", "book", "grading", "class_load", "suite")
DEFAULT_SECTIONS = ("layers", "book", "grading", "class_load")  # --no-class-load leaves the last out
LAYER_TARGET = layers.LAYER_TARGET  # NumPy's time over torch's, at most (rows may set their own)
QUICK_SIZES = layers.Sizes(N=4, T=5, D=16, H=16, heads=2)


# -------------------------------------------------------------------------------------------------
# The machine


def machine() -> dict:
    """Cores, CPU, BLAS of NumPy and of torch, thread settings and library versions."""
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    torch_config = torch.__config__.show()
    torch_blas = next((line.strip(" -") for line in torch_config.splitlines() if "Math Kernel Library" in line), "")
    versions = {"Python": platform.python_version(), "NumPy": np.__version__, "PyTorch": torch.__version__}
    for package in ("jupyter-book", "jupyter-cache", "nbgrader"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "numpy_blas": f"{blas.get('name', '?')} {blas.get('version', '')}".strip(),
        "torch_blas": torch_blas or "see torch.__config__.show()",
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": f"OMP/OPENBLAS/MKL_NUM_THREADS=1, torch.get_num_threads()={torch.get_num_threads()}",
        "versions": versions,
        "platform": platform.platform(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _stamp() -> dict:
    return {"measured": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "load_average": round(os.getloadavg()[0], 1)}


# -------------------------------------------------------------------------------------------------
# The sections: each returns a JSON-ready dict


def measure_layers(quick: bool, repeats: int) -> dict:
    sizes = QUICK_SIZES if quick else layers.Sizes()
    stamp = _stamp()
    peak_n = 256 if quick else 2048
    peak = layers.matmul_peak_gflops(peak_n, repeats=2 if quick else 5)
    print(f"  sgemm peak ({peak_n}^3, one thread): {peak:.1f} GFLOP/s", flush=True)
    rows = []
    for timing in layers.run(sizes, repeats=3 if quick else repeats):
        if isinstance(timing, layers.Unavailable):
            rows.append({"name": timing.name, "unavailable": timing.reason})
            continue
        rows.append({"name": timing.name, "numpy": timing.numpy_label, "torch": timing.torch_label,
                     "gflop": timing.gflop, "numpy_seconds": timing.numpy_seconds, "torch_seconds": timing.torch_seconds,
                     "target": timing.target})
        print(f"  {timing.name:<22} NumPy {1e3 * timing.numpy_median:7.2f} ms  torch {1e3 * timing.torch_median:7.2f} ms"
              f"  ratio {timing.ratio:.2f}", flush=True)
    # The profile of the recurrent rows: their matmuls alone, same shapes on both sides.
    matmul_rows = []
    for timing in (layers.time_case(case, 3 if quick else repeats) for case in layers.recurrent_matmul_cases(sizes)):
        matmul_rows.append({"name": timing.name.removesuffix(" matmuls"), "numpy_seconds": timing.numpy_seconds,
                            "torch_seconds": timing.torch_seconds})
        print(f"  {timing.name:<22} NumPy {1e3 * timing.numpy_median:7.2f} ms  torch {1e3 * timing.torch_median:7.2f} ms"
              f"  ratio {timing.ratio:.2f}", flush=True)
    return {**stamp, "load_after": round(os.getloadavg()[0], 1), "sizes": vars(sizes),
            "large_sizes": vars(replace(sizes, **layers.LARGE)), "repeats": 3 if quick else repeats,
            "peak_gflops": peak, "peak_matmul": f"({peak_n}, {peak_n}) @ ({peak_n}, {peak_n}) float32", "rows": rows,
            "matmul_rows": matmul_rows}


def measure_book() -> dict:
    stamp = _stamp()
    times = book.run()
    print(f"  clean build {times.clean_build_s:.0f} s, chapters {times.execution_total_s:.0f} s, "
          f"cached rebuild {times.cached_rebuild_s:.1f} s", flush=True)
    return {**stamp, "load_after": round(os.getloadavg()[0], 1), "clean_build_s": times.clean_build_s,
            "chapter_execution_s": times.chapter_execution_s, "cached_rebuild_s": times.cached_rebuild_s,
            "edited_chapter": times.edited_chapter, "edited_chapter_reexecuted": times.edited_chapter_reexecuted}


def measure_grading(submissions: int, workers: int) -> dict:
    stamp = _stamp()
    rate = suite.grading_rate(book.ensure_snapshot(), submissions, workers)
    print(f"  secure grader: {rate['per_minute']:.1f} submissions/min ({submissions} submissions, {workers} workers)", flush=True)
    return {**stamp, **rate}


def measure_class_load(submissions: int, workers: int) -> dict:
    stamp = _stamp()
    figures = class_load.run(submissions, workers=workers, log=print)
    return {**stamp, "load_after": round(os.getloadavg()[0], 1), **figures}


def measure_suite(force: bool, clone: Path | None = None) -> dict:
    """``make test``'s wall time in ``clone`` (a checkout with its own venv, as CI makes) or else in the snapshot."""
    stamp = _stamp()
    if stamp["load_average"] >= suite.QUIET_LOAD and not force:
        print(f"  test suite: not measured, load average {stamp['load_average']} >= {suite.QUIET_LOAD}", flush=True)
        return {**stamp, "not_measured": f"machine busy (load average {stamp['load_average']})"}
    where = clone.resolve() if clone else book.ensure_snapshot()
    seconds = suite.suite_seconds(where)
    print(f"  test suite: {seconds:.0f} s in {where}", flush=True)
    return {**stamp, "load_after": round(os.getloadavg()[0], 1), "seconds": seconds,
            "where": f"a clone with its own venv ({where})" if clone else "the snapshot"}


def profile_layer(name: str, repeats: int) -> None:
    """Print the functions where the NumPy side of layer ``name`` spends its time: the first step
    when it misses its target. Full sizes, ``repeats`` forward + backward passes under cProfile."""
    import cProfile
    import pstats

    cases = {case.name: case for case in layers.recurrent_cases(layers.Sizes()) + layers.attention_cases(layers.Sizes())
             if not isinstance(case, layers.Unavailable)}
    if name not in cases:
        raise SystemExit(f"no layer {name!r} to profile: choose among {', '.join(cases)}")
    case = cases[name]
    case.numpy_step()  # warm-up, out of the profile
    profiler = cProfile.Profile()
    profiler.runcall(lambda: [case.numpy_step() for _ in range(repeats)])
    pstats.Stats(profiler).strip_dirs().sort_stats("tottime").print_stats(12)


# -------------------------------------------------------------------------------------------------
# The table


def _median(values: list[float]) -> float:
    return float(np.median(values))


def _ms(seconds: float) -> str:
    return f"{1e3 * seconds:.2f}"


def _when(section: dict) -> str:
    after = f" to {section['load_after']}" if "load_after" in section else ""
    return f"measured {section['measured']}, load average {section['load_average']}{after}"


def summary_rows(results: dict) -> list[tuple[str, str, str, str]]:
    """``(row, figure, target, met)`` for each row of the issue, in its order."""
    rows = []
    layer_section = results.get("layers")
    for row in (layer_section or {}).get("rows", []):
        target = row.get("target", LAYER_TARGET)
        if "unavailable" in row:
            rows.append((f"layer: {row['name']}", row["unavailable"], f"<= {target}x torch", "n/a"))
            continue
        ratio = _median(row["numpy_seconds"]) / _median(row["torch_seconds"])
        rows.append((f"layer: {row['name']}", f"{ratio:.2f}x torch's time", f"<= {target}x",
                     "yes" if ratio <= target else "**no**"))
    if not layer_section:
        rows.append(("layers", "not measured", f"<= {LAYER_TARGET}x torch", "n/a"))
    book_section = results.get("book")
    if book_section:
        total = sum(book_section["chapter_execution_s"].values())
        rows.append(("book: clean build", f"{book_section['clean_build_s']:.0f} s (chapters execute {total:.0f} s: "
                     f"overhead ratio {book_section['clean_build_s'] / total:.2f})", "<= 480 s (COURSE.md)",
                     "yes" if book_section["clean_build_s"] <= 480 else "**no**"))
        cached_ok = book_section["cached_rebuild_s"] < book.CACHED_REBUILD_TARGET_S and not book_section["edited_chapter_reexecuted"]
        rows.append(("book: cached rebuild after a prose edit", f"{book_section['cached_rebuild_s']:.1f} s",
                     f"< {book.CACHED_REBUILD_TARGET_S:.0f} s", "yes" if cached_ok else "**no**"))
    else:
        rows.append(("book", "not measured", "", "n/a"))
    grading = results.get("grading")
    rows.append(("autograding (secure grader)", f"{grading['per_minute']:.1f} submissions/min" if grading else "not measured",
                 "", ""))
    rows.append(class_load_row(results.get("class_load")))
    test_suite = results.get("suite")
    if test_suite and "seconds" in test_suite:
        rows.append(("test suite (`make test`)", f"{test_suite['seconds']:.0f} s", "", ""))
    else:
        reason = test_suite["not_measured"] if test_suite else "run `python -m benchmarks.run --only suite` on a quiet machine"
        rows.append(("test suite (`make test`)", f"not measured ({reason})", "", ""))
    return rows


CLASS_LOAD_ROW = "autograding: class-sized load"


def class_load_row(section: dict | None) -> tuple[str, str, str, str]:
    """The summary's row of the class-sized load: throughput against plain nbgrader, memory, losses, kill -9."""
    target = "nothing lost, every outcome as the manifest says, kill -9 then re-run = uninterrupted"
    if not section:
        return (CLASS_LOAD_ROW, "not measured (`python -m benchmarks.run --only class_load`)", target, "n/a")
    secure, kill = section["secure"], section.get("kill")
    equal = "not run" if kill is None else "yes" if kill["equal"] else "**no**"
    figure = (f"{section['submissions']} submissions ({section['adversarial']} adversarial): "
              f"{section['ratio']:.2f}x plain serial nbgrader's throughput ({secure['per_minute']:.1f} against "
              f"{section['plain']['per_minute']:.1f} submissions/min); peak memory {secure['peak_pss_mib']:.0f} MiB; "
              f"lost {secure['lost']}; wrong outcomes {len(secure['problems'])}; kill -9 re-run equal: {equal}")
    met = secure["lost"] == 0 and not secure["problems"] and kill is not None and kill["equal"]
    return (CLASS_LOAD_ROW, figure, target, "yes" if met else "**no**")


def render(results: dict) -> str:
    """RESULTS.md: the summary, the machine, then each section in detail."""
    m = results["machine"]
    lines = ["# Benchmark results", "",
             f"Written by `make bench` (`python -m benchmarks.run`) on {results['written']}. Each section says when it "
             "was measured and under what load average: on a shared machine, a figure means little without it.", ""]
    if results.get("quick"):
        lines += ["**A `--quick` run: tiny sizes and few repeats, to check the harness. Its figures measure nothing.**", ""]
    busy = [f"{name} (load average {results[name]['load_average']})" for name in SECTIONS
            if name in results and results[name].get("load_average", 0) >= suite.QUIET_LOAD]
    if busy:
        lines += [f"**Measured on a busy machine: {', '.join(busy)}.** Their times are inflated by other jobs; "
                  "ratios of interleaved runs suffer less. Run them again when `uptime` shows a load average "
                  f"below {suite.QUIET_LOAD}.", ""]
    lines += ["## Summary", "", "| row | figure | target | met |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in summary_rows(results)]
    lines += ["", "## Machine", "", "| | |", "|---|---|",
              f"| CPU | {m['cpu']}, {m['cores']} cores |",
              f"| NumPy's BLAS | {m['numpy_blas']} |",
              f"| PyTorch's BLAS | {m['torch_blas']}; CPU capability {m['torch_cpu_capability']} |",
              f"| threads | {m['threads']} |",
              f"| versions | {', '.join(f'{k} {v}' for k, v in m['versions'].items())} |",
              f"| platform | {m['platform']} |"]
    lines += ["", *_render_layers(results.get("layers")), "", *_render_book(results.get("book")), "",
              *_render_grading(results.get("grading")), "", *_render_class_load(results.get("class_load")), "",
              *_render_suite(results.get("suite"))]
    return "\n".join(lines) + "\n"


def _render_layers(section: dict | None) -> list[str]:
    lines = ["## Layers: NumPy from scratch against PyTorch on the CPU"]
    if not section:
        return lines + ["", "Not measured yet: `python -m benchmarks.run --only layers`."]
    s, peak = section["sizes"], section["peak_gflops"]
    large = section.get("large_sizes")
    large_rows = f" (D={large['D']}, H={large['H']} in the rows \"at H={large['H']}\")" if large else ""
    lines += ["", f"Forward plus backward (input and weight gradients), float32, one thread each, N={s['N']}, T={s['T']}, "
              f"D={s['D']}, H={s['H']}{large_rows} ({s['heads']} heads for multi-head attention), {section['repeats']} "
              f"interleaved runs of each side; {_when(section)}. The LSTM and the GRU have two rows each: *shown code*, "
              "the time layer with `fused=False` (the functions the book shows, written as the equations), and *fast "
              "path*, its default (`seqlab.fused`), timed in the same rounds against the same torch module. Times in ms, median (best). GFLOP/s counts the matmuls and is given "
              f"at the median time, against the roofline: NumPy's single-thread float32 matmul peak, **{peak:.1f} GFLOP/s** "
              f"({section['peak_matmul']}).", "",
              "| layer | NumPy | torch | NumPy / torch, median (best) | target | NumPy GFLOP/s (% of peak) | torch GFLOP/s (% of peak) |",
              "|---|---|---|---|---|---|---|"]
    for row in section["rows"]:
        target = row.get("target", LAYER_TARGET)
        if "unavailable" in row:
            lines.append(f"| {row['name']} | {row['unavailable']} | | | <= {target}x | | |")
            continue
        numpy_s, torch_s = row["numpy_seconds"], row["torch_seconds"]
        ratio, best_ratio = _median(numpy_s) / _median(torch_s), min(numpy_s) / min(torch_s)
        numpy_gflops, torch_gflops = row["gflop"] / _median(numpy_s), row["gflop"] / _median(torch_s)
        lines.append(f"| {row['name']} ({row['numpy']} vs {row['torch']}) | {_ms(_median(numpy_s))} ({_ms(min(numpy_s))}) "
                     f"| {_ms(_median(torch_s))} ({_ms(min(torch_s))}) | {ratio:.2f} ({best_ratio:.2f}) "
                     f"| {'met' if ratio <= target else '**missed**'} "
                     f"| {numpy_gflops:.1f} ({100 * numpy_gflops / peak:.0f}%) | {torch_gflops:.1f} ({100 * torch_gflops / peak:.0f}%) |")
    return lines + _render_matmul_profile(section)


def _render_matmul_profile(section: dict) -> list[str]:
    """Where a recurrent layer's time goes: its matmuls alone (same shapes, both sides) and the rest."""
    totals = [row for row in section["rows"] if "unavailable" not in row]
    # A profile row ("LSTM", "LSTM at H=512") splits the layer rows of its name and size:
    # "LSTM, shown code" and "LSTM, fast path" do the same matmuls.
    pairs = [(total, row) for row in section.get("matmul_rows", []) for total in totals
             if total["name"] == row["name"] or total["name"].startswith(row["name"] + ", ")]
    if not pairs:
        return []
    lines = ["", "### Profile of the recurrent rows: matmuls against the rest", "",
             "The same rows split in two. *Matmuls*: the layer's matrix products alone, with its shapes and count, "
             "timed the same interleaved way (NumPy's `@` on OpenBLAS, torch's on MKL; `benchmarks/layers.py: "
             "recurrent_matmul_cases`). *Rest*: the row's median minus its matmuls' median, the pointwise gate "
             "arithmetic and the Python loop (NumPy) or the autograd bookkeeping (torch). Medians in ms. The two rows "
             "of a layer and size share their matmuls' figure; the fast path runs the recurrent matmul of its "
             "backward pass on a contiguous copy of `Wh.T`, faster than the view timed here, so its *rest* comes "
             "out lower by that saving. *Floor*: NumPy's matmuls alone over torch's whole layer, the lowest "
             "ratio that NumPy code doing these products on this BLAS can reach however little its pointwise work "
             "costs; a row whose floor is above its target cannot meet it.", "",
             "| layer | NumPy matmuls | NumPy rest | torch matmuls | torch rest | matmuls NumPy / torch "
             "| rest NumPy / torch | floor: NumPy matmuls / torch layer |",
             "|---|---|---|---|---|---|---|---|"]
    for total, row in pairs:
        numpy_mm, torch_mm = _median(row["numpy_seconds"]), _median(row["torch_seconds"])
        numpy_rest = _median(total["numpy_seconds"]) - numpy_mm
        torch_rest = _median(total["torch_seconds"]) - torch_mm
        rest_ratio = f"{numpy_rest / torch_rest:.2f}" if torch_rest > 0 else "n/a"
        floor = numpy_mm / _median(total["torch_seconds"])
        lines.append(f"| {total['name']} | {_ms(numpy_mm)} | {_ms(numpy_rest)} | {_ms(torch_mm)} | {_ms(torch_rest)} "
                     f"| {numpy_mm / torch_mm:.2f} | {rest_ratio} | {floor:.2f} |")
    return lines


def _render_book(section: dict | None) -> list[str]:
    lines = ["## The book"]
    if not section:
        return lines + ["", "Not measured yet: `python -m benchmarks.run --only book`."]
    total = sum(section["chapter_execution_s"].values())
    lines += ["", f"`make book` in a snapshot of the working tree ({book.SNAPSHOT}), {_when(section)}.", "",
              "| clean build | chapters' execution, summed | overhead ratio | cached rebuild after a prose edit |",
              "|---|---|---|---|",
              f"| {section['clean_build_s']:.1f} s | {total:.1f} s | {section['clean_build_s'] / total:.2f} "
              f"| {section['cached_rebuild_s']:.1f} s (target < {book.CACHED_REBUILD_TARGET_S:.0f} s) |", "",
              f"The cached rebuild follows a markdown cell appended to `{section['edited_chapter']}`, the chapter that "
              "costs most to execute; it was " + ("**re-executed** (the cache missed)." if section["edited_chapter_reexecuted"]
                                                  else "not re-executed (the cache held)."), "",
              "| page | execution (s) |", "|---|---|"]
    lines += [f"| {name} | {seconds:.1f} |" for name, seconds in section["chapter_execution_s"].items()]
    return lines


def _render_grading(section: dict | None) -> list[str]:
    lines = ["## Autograding"]
    if not section:
        return lines + ["", "Not measured yet: `python -m benchmarks.run --only grading`."]
    return lines + ["", f"The secure grader (`make grade`: bubblewrap sandbox, {section['workers']} workers) on "
                    f"{section['submissions']} demo submissions of exercise 01 made by `benchmarks/autograde.py`, "
                    f"feedback left out; {_when(section)}. The comparison with plain nbgrader and the sandbox's "
                    "overhead: `make bench-grade` (benchmarks/README.md).", "",
                    "| submissions | workers | wall time | submissions per minute |", "|---|---|---|---|",
                    f"| {section['submissions']} | {section['workers']} | {section['seconds']:.1f} s | {section['per_minute']:.1f} |"]


def _render_class_load(section: dict | None) -> list[str]:
    lines = ["## A class-sized grading load"]
    if not section:
        return lines + ["", "Not measured yet: `python -m benchmarks.run --only class_load` (tens of minutes)."]
    secure, plain, kill = section["secure"], section["plain"], section.get("kill")
    limits = section["limits"]
    lines += ["", f"`benchmarks/class_load.py`: {section['submissions']} submissions over {', '.join(section['exercises'])} "
              f"(every student submits each), {section['honest']} honest (solved, untouched, partially solved in turn) and "
              f"{section['adversarial']} adversarial from `tests/redteam/` ({', '.join(section['adversarial_kinds'])}); "
              f"{_when(section)}. Plain `nbgrader autograde`, serial, grades the honest ones only (it has no sandbox); "
              f"the secure grader (bubblewrap, {section['workers']} workers, feedback left out, {limits['cell_timeout']:g} s "
              f"per cell and {limits['notebook_timeout']:g} s per notebook) grades them all, adversarial ones included, "
              "so the ratio is conservative. Peak memory: the grader's whole process tree (grader, workers, sandboxes), "
              "sampled from `/proc` every 0.2 s; PSS counts a page shared by n processes 1/n in each (what the tree "
              "takes from the machine), summed RSS counts it in each (an upper bound).", "",
              "| | wall time | submissions/min | load average before, after |", "|---|---|---|---|",
              f"| plain nbgrader, serial, {section['honest']} honest | {plain['seconds']:.1f} s | {plain['per_minute']:.1f} "
              f"| {plain['load_before']}, {plain['load_after']} |",
              f"| secure grader, {section['workers']} workers, all {section['submissions']} | {secure['seconds']:.1f} s "
              f"| {secure['per_minute']:.1f} | {secure['load_before']}, {secure['load_after']} |", "",
              f"- throughput ratio, secure / plain: **{section['ratio']:.2f}x**",
              f"- peak memory: **{secure['peak_pss_mib']:.0f} MiB** PSS ({secure['peak_rss_mib']:.0f} MiB RSS summed; "
              f"{secure['peak_processes']} processes at most; the largest single process {secure['largest_process_mib']:.0f} MiB)",
              f"- the manifest: {secure['results']} results, **{secure['lost']} lost**; as the manifest says (score, "
              f"and the flag or the reason): {secure['honest_as_expected']} of {section['honest']} honest, "
              f"{secure['adversarial_as_expected']} of {section['adversarial']} adversarial; "
              f"{len(secure['problems'])} wrong outcomes"
              + "".join(f"\n  - {problem}" for problem in secure["problems"][:10])]
    if kill:
        lines.append(f"- `kill -9` of the grader's process group at {kill['results_at_kill']} of {kill['total']} results, "
                     f"{kill['survivors']} of its processes left behind, re-run in {kill['rerun_seconds']:.1f} s: final "
                     f"results **{'identical to' if kill['equal'] else 'DIFFERENT from'}** the uninterrupted run's"
                     + (f" ({', '.join(kill['differ'])})" if kill["differ"] else ""))
    else:
        lines.append("- `kill -9`: not run this time")
    return lines


def _render_suite(section: dict | None) -> list[str]:
    lines = ["## The test suite"]
    if not section or "seconds" not in section:
        why = section["not_measured"] + f", {section['measured']}" if section else "not run yet"
        return lines + ["", f"Not measured ({why}). `python -m benchmarks.run --only suite` runs `make test` in the "
                        "snapshot when the load average is below "
                        f"{suite.QUIET_LOAD}."]
    return lines + ["", f"`make test` (the book cached, then pytest on 2 workers) in {section.get('where', 'the snapshot')}, "
                    f"{_when(section)}: **{section['seconds']:.0f} s**."]


# -------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny layer sizes and nothing else: checks the harness, not the speed")
    parser.add_argument("--only", help=f"comma-separated sections among {', '.join(SECTIONS)}; the others keep their last figures")
    parser.add_argument("--suite", action="store_true", help="also time `make test` (when the load average is below 2.5)")
    parser.add_argument("--force-suite", action="store_true", help="time `make test` whatever the load")
    parser.add_argument("--suite-in", type=Path, metavar="CLONE",
                        help="time `make test` in this checkout (with its own venv, as `bash .ci/run` leaves one) "
                             "instead of the snapshot, which shares this checkout's venv")
    parser.add_argument("--repeats", type=int, default=30, help="interleaved runs of each layer (default 30)")
    parser.add_argument("--grade-submissions", type=int, default=12, help="demo submissions to grade (default 12)")
    parser.add_argument("--grade-workers", type=int, default=2)
    parser.add_argument("--no-class-load", action="store_true", help="leave out the class-sized load (tens of minutes)")
    parser.add_argument("--class-submissions", type=int, default=300, help="the class-sized load's submissions (default 300)")
    parser.add_argument("--profile", metavar="ROW", help="profile one row's NumPy side (\"RNN\", \"LSTM, fast path\", ...) and stop")
    parser.add_argument("--output", type=Path, help="where RESULTS.md goes (results.json beside it)")
    args = parser.parse_args(argv)

    torch.set_num_threads(1)
    if args.profile:
        return profile_layer(args.profile, args.repeats)
    if args.quick:
        sections = ("layers",)
    elif args.only:
        sections = tuple(name.strip() for name in args.only.split(","))
        unknown = [name for name in sections if name not in SECTIONS]
        if unknown:
            parser.error(f"unknown section {unknown[0]!r}: choose among {', '.join(SECTIONS)}")
    else:
        sections = DEFAULT_SECTIONS + (("suite",) if args.suite or args.force_suite else ())
        if args.no_class_load:
            sections = tuple(name for name in sections if name != "class_load")
    output = args.output or (QUICK_RESULTS if args.quick else RESULTS)
    store = output.with_name("results.json")

    # A quick run starts afresh; a full one keeps the last figures of the sections it does not run.
    results = json.loads(store.read_text()) if store.is_file() and not args.quick else {}
    start = time.perf_counter()
    print(f"benchmarks: {', '.join(sections)} on {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    for name in sections:
        print(f"{name}:", flush=True)
        if name == "layers":
            results["layers"] = measure_layers(args.quick, args.repeats)
        elif name == "book":
            results["book"] = measure_book()
        elif name == "grading":
            results["grading"] = measure_grading(args.grade_submissions, args.grade_workers)
        elif name == "class_load":
            results["class_load"] = measure_class_load(args.class_submissions, args.grade_workers)
        elif name == "suite":
            results["suite"] = measure_suite(args.force_suite, args.suite_in)
    results["machine"] = machine()
    results["written"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    if args.quick:
        results["quick"] = True

    text = render(results)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    store.write_text(json.dumps(results, indent=1) + "\n")
    print(f"\n{text}\nwritten to {output} in {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
