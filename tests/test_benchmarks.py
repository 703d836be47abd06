"""`make bench`'s harness: the table it writes has every row and column, whatever the timings.

No test here asserts a time: on a shared machine timings are noise. The structure is what can be
wrong in the code: a missing row, a section that crashes, a figure that is not a number, a
cached-rebuild benchmark whose "prose edit" would in fact invalidate the chapter's cache.
"""
from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys

import jupytext
import pytest

from benchmarks import book, class_load, run
from tests.conftest import REPO, venv_env

RECURRENT_ROWS = ("RNN", "LSTM, shown code", "LSTM, fast path", "GRU, shown code", "GRU, fast path",
                  "LSTM at H=512, shown code", "LSTM at H=512, fast path", "GRU at H=512, shown code",
                  "GRU at H=512, fast path")
LAYER_ROWS = (*RECURRENT_ROWS, "attention (SDPA)", "multi-head attention")


def table(text: str, heading: str) -> list[list[str]]:
    """The cells of the first markdown table from the line holding ``heading`` on, header and separator left out."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if heading in line)
    first = next(i for i in range(start, len(lines)) if lines[i].startswith("|"))
    block = []
    for line in lines[first:]:
        if not line.startswith("|"):
            break
        block.append([cell.strip() for cell in line.strip("|").split("|")])
    return block[2:]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> tuple[str, dict, str]:
    """``python -m benchmarks.run --quick`` into a temporary folder: (RESULTS.md, results.json, stdout)."""
    output = tmp_path_factory.mktemp("bench") / "RESULTS.md"
    done = subprocess.run([sys.executable, "-m", "benchmarks.run", "--quick", "--output", str(output)],
                          cwd=REPO, env=venv_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"`python -m benchmarks.run --quick` failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    return output.read_text(), json.loads(output.with_name("results.json").read_text()), done.stdout


def test_quick_run_prints_the_table_it_writes(quick_run):
    text, _, stdout = quick_run
    assert text in stdout, "the table printed and RESULTS.md should be the same text"
    assert "--quick" in text, "a quick run's RESULTS.md must say that its figures measure nothing"


def test_every_layer_has_a_row_of_numbers(quick_run):
    text, results, _ = quick_run
    rows = table(text, "## Layers")
    assert [row[0].split(" (seqlab")[0] for row in rows] == list(LAYER_ROWS)
    for row in rows:
        assert len(row) == 7, f"a layer row has 7 columns, got {len(row)}: {row}"
        numpy_ms, torch_ms, ratios = (re.fullmatch(r"([\d.]+) \(([\d.]+)\)", cell) for cell in row[1:4])
        assert numpy_ms and torch_ms and ratios, f"median (best) figures expected in {row}"
        assert row[4] in ("met", "**missed**")
        assert re.fullmatch(r"[\d.]+ \(\d+%\)", row[5]) and re.fullmatch(r"[\d.]+ \(\d+%\)", row[6])
    assert results["layers"]["peak_gflops"] > 0
    assert all(len(row["numpy_seconds"]) == len(row["torch_seconds"]) == results["layers"]["repeats"]
               for row in results["layers"]["rows"])


def test_the_summary_names_every_row_of_the_issue(quick_run):
    text, _, _ = quick_run
    names = [row[0] for row in table(text, "## Summary")]
    assert names[: len(LAYER_ROWS)] == [f"layer: {name}" for name in LAYER_ROWS]
    assert names[len(LAYER_ROWS):] == ["book", "autograding (secure grader)", "autograding: class-sized load",
                                       "test suite (`make test`)"]


def test_the_machine_is_described(quick_run):
    text, results, _ = quick_run
    machine = dict((row[0], row[1]) for row in table(text, "## Machine"))
    assert set(machine) == {"CPU", "NumPy's BLAS", "PyTorch's BLAS", "threads", "versions", "platform"}
    assert f"{results['machine']['cores']} cores" in machine["CPU"]
    assert "NumPy" in machine["versions"] and "PyTorch" in machine["versions"]
    assert "torch.get_num_threads()=1" in machine["threads"]


def complete_results() -> dict:
    """Results with every section filled, as a full run leaves them (made-up figures)."""
    stamp = {"measured": "2026-01-01T00:00:00+00:00", "load_average": 1.0, "load_after": 1.2}
    layer_rows = [{"name": name, "numpy": "seqlab X", "torch": "nn.X", "gflop": 0.1,
                   "numpy_seconds": [0.02, 0.03, 0.025], "torch_seconds": [0.01, 0.02, 0.015]} for name in LAYER_ROWS]
    return {
        "layers": {**stamp, "sizes": vars(run.layers.Sizes()), "repeats": 3, "peak_gflops": 50.0,
                   "peak_matmul": "(2048, 2048) @ (2048, 2048) float32", "rows": layer_rows},
        "book": {**stamp, "clean_build_s": 300.0, "chapter_execution_s": {"book/02_rnn.md": 40.0, "book/04_lstm.md": 60.0},
                 "cached_rebuild_s": 12.0, "edited_chapter": "book/04_lstm.md", "edited_chapter_reexecuted": False},
        "grading": {**stamp, "submissions": 12, "workers": 2, "seconds": 60.0, "per_minute": 12.0},
        "class_load": {**stamp, "submissions": 300, "honest": 270, "adversarial": 30, "workers": 2,
                       "adversarial_kinds": ["malformed", "time-out"], "exercises": list(class_load.EXERCISES),
                       "limits": {"cell_timeout": 10, "notebook_timeout": 120},
                       "plain": {"seconds": 900.0, "per_minute": 18.0, "load_before": 1.0, "load_after": 1.1},
                       "secure": {"seconds": 600.0, "per_minute": 30.0, "load_before": 1.0, "load_after": 1.1,
                                  "peak_pss_mib": 512.4, "peak_rss_mib": 1200.0, "largest_process_mib": 300.0,
                                  "peak_processes": 9, "samples": 3000, "results": 300, "lost": 0,
                                  "honest_as_expected": 270, "adversarial_as_expected": 30,
                                  "problems": []},
                       "ratio": 30.0 / 18.0,
                       "kill": {"killed": True, "results_at_kill": 150, "total": 300, "rerun_seconds": 300.0,
                                "survivors": 0, "equal": True, "differ": []}},
        "suite": {**stamp, "seconds": 400.0},
        "machine": run.machine(),
        "written": "2026-01-01T00:00:00+00:00",
    }


def test_a_full_run_fills_every_row():
    text = run.render(complete_results())
    summary = {row[0]: row[1:] for row in table(text, "## Summary")}
    assert summary["layer: RNN"] == ["1.67x torch's time", "<= 1.3x", "**no**"]  # 0.025 / 0.015
    assert summary["book: clean build"][0] == "300 s (chapters execute 100 s: overhead ratio 3.00)"
    assert summary["book: cached rebuild after a prose edit"] == ["12.0 s", "< 20 s", "yes"]
    assert summary["autograding (secure grader)"][0] == "12.0 submissions/min"
    assert summary["test suite (`make test`)"][0] == "400 s"
    load_row = summary["autograding: class-sized load"]
    assert load_row[0].startswith("300 submissions (30 adversarial): 1.67x plain serial nbgrader's throughput")
    assert "peak memory 512 MiB; lost 0; wrong outcomes 0; kill -9 re-run equal: yes" in load_row[0]
    assert load_row[2] == "yes"
    assert "## A class-sized grading load" in text
    assert "270 of 270 honest, 30 of 30 adversarial; 0 wrong outcomes" in text
    assert not any("not measured" in cells[0] for cells in summary.values())
    assert "busy machine" not in text
    assert [row[0] for row in table(text, "| page |")] == ["book/02_rnn.md", "book/04_lstm.md"]


def test_a_busy_machine_leaves_the_suite_unmeasured_and_says_why():
    results = complete_results()
    results["suite"] = {"measured": "2026-01-01T00:00:00+00:00", "load_average": 7.0,
                        "not_measured": "machine busy (load average 7.0)"}
    text = run.render(results)
    summary = {row[0]: row[1] for row in table(text, "## Summary")}
    assert summary["test suite (`make test`)"] == "not measured (machine busy (load average 7.0))"
    assert "**Measured on a busy machine: suite (load average 7.0).**" in text


def test_an_unknown_section_is_refused_with_the_choices(capsys):
    with pytest.raises(SystemExit):
        run.main(["--only", "layer"])
    assert "unknown section 'layer': choose among layers, book, grading, class_load, suite" in capsys.readouterr().err


@pytest.mark.parametrize("chapter", sorted((REPO / "book").glob("[0-9][0-9]_*.md")), ids=lambda p: p.name)
def test_the_cached_rebuild_edits_prose_only(chapter, tmp_path):
    """jupyter-cache keys a chapter on its code cells: the benchmark's edit must leave them as they were,
    or the "cached rebuild" would re-execute the chapter and time something else."""
    copy = tmp_path / chapter.name
    copy.write_text(chapter.read_text())
    book.edit_prose(copy)
    code = [[c.source for c in jupytext.read(path).cells if c.cell_type == "code"] for path in (chapter, copy)]
    assert code[0] == code[1]
    assert len(jupytext.read(copy).cells) == len(jupytext.read(chapter).cells) + 1


def test_the_recurrent_rows_are_profiled_into_matmuls_and_the_rest(quick_run):
    text, results, _ = quick_run
    rows = table(text, "### Profile of the recurrent rows")
    assert [row[0] for row in rows] == list(RECURRENT_ROWS)
    layers = {row["name"]: row for row in results["layers"]["rows"]}
    profiles = {row["name"]: row for row in results["layers"]["matmul_rows"]}
    for row in rows:
        assert len(row) == 8, row
        assert all(re.fullmatch(r"-?[\d.]+", cell) for cell in row[1:6]), row
        assert re.fullmatch(r"-?[\d.]+|n/a", row[6]), row
        # The floor: NumPy's matmuls alone over torch's whole layer, the best any pointwise code could do.
        matmuls = profiles[row[0].split(",")[0]]
        floor = statistics.median(matmuls["numpy_seconds"]) / statistics.median(layers[row[0]]["torch_seconds"])
        assert float(row[7]) == pytest.approx(floor, abs=0.006), row
    assert [row["name"] for row in results["layers"]["matmul_rows"]] == ["RNN", "LSTM", "GRU", "LSTM at H=512",
                                                                          "GRU at H=512"]


def test_the_lstm_and_gru_rows_have_their_own_targets(quick_run):
    text, results, _ = quick_run
    summary = {row[0]: row[2] for row in table(text, "## Summary")}
    for name in RECURRENT_ROWS[1:]:
        assert summary[f"layer: {name}"] == ("<= 1.5x" if name.endswith("shown code") else "<= 1.0x"), name
    assert summary["layer: RNN"] == summary["layer: attention (SDPA)"] == "<= 1.3x"
    rows = {row["name"]: row for row in results["layers"]["rows"]}
    # The two rows of a layer and size are timed in the same rounds: they share torch's times.
    assert rows["LSTM, shown code"]["torch_seconds"] == rows["LSTM, fast path"]["torch_seconds"]


def test_the_suite_row_says_where_make_test_ran():
    results = complete_results()
    assert "in the snapshot" in "\n".join(run._render_suite(results["suite"]))  # figures stored before the field
    results["suite"]["where"] = "a clone with its own venv (/tmp/clean)"
    assert "in a clone with its own venv (/tmp/clean), measured" in "\n".join(run._render_suite(results["suite"]))


def test_a_lost_submission_or_a_kill_that_changes_results_fails_the_class_load_row():
    section = complete_results()["class_load"]
    assert run.class_load_row(section)[3] == "yes"
    assert run.class_load_row({**section, "secure": {**section["secure"], "lost": 1}})[3] == "**no**"
    assert run.class_load_row({**section, "kill": {**section["kill"], "equal": False}})[3] == "**no**"
    assert run.class_load_row(None)[1].startswith("not measured")


def test_the_class_load_plan_mixes_honest_and_every_adversarial_kind():
    entries = class_load.plan(300, 0.1)
    assert len(entries) == 300 and len({(e["exercise"], e["student"]) for e in entries}) == 300
    adversarial = [e for e in entries if e["name"] not in class_load.HONEST]
    assert len(adversarial) == 30
    for exercise in class_load.EXERCISES:
        mine = [e for e in entries if e["exercise"] == exercise]
        kinds = {e["kind"] for e in mine if e["name"] not in class_load.HONEST}
        assert {"malformed", "tampering", "time-out"} <= kinds, (exercise, kinds)
        assert {e["name"] for e in mine} >= set(class_load.HONEST)
    assert {"memory bomb", "exit", "escape"} <= {e["kind"] for e in adversarial}
    catalogue = class_load.catalogue()
    assert all(e["name"] in catalogue[e["exercise"]] for e in entries)


@pytest.mark.slow
def test_a_tiny_class_load_loses_nothing_and_survives_kill_9(tmp_path):
    """The whole benchmark on 12 submissions over the three exercises, 2 of them adversarial (90 to 105 s on 2 loaded cores)."""
    figures = class_load.run(12, adversarial=2 / 12, workers=2, root=tmp_path, log=lambda *a, **k: None)
    secure, kill = figures["secure"], figures["kill"]
    assert (figures["submissions"], figures["adversarial"], figures["honest"]) == (12, 2, 10)
    assert secure["results"] == 12 and secure["lost"] == 0 and secure["problems"] == []
    assert (secure["honest_as_expected"], secure["adversarial_as_expected"]) == (10, 2)
    assert kill["killed"] and 6 <= kill["results_at_kill"] < 12, kill
    assert kill["equal"] and kill["survivors"] == 0, kill
    assert figures["ratio"] > 0 and secure["peak_pss_mib"] > 0 and secure["peak_rss_mib"] >= secure["peak_pss_mib"]
    manifest = json.loads((tmp_path / "secure" / "manifest.json").read_text())
    assert len(manifest) == 12 and all("expected" in entry for entry in manifest)
