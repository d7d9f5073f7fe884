"""A run folder whose manifest or row files have the wrong shape (damaged, half-written, from an
older version) is one line and exit 2 for every command that reads it, never a traceback, and
the folder is left as it was."""

from __future__ import annotations

import json

import pytest
from test_cli import assert_user_error, tunesmith
from ui_runs import make_run

MANIFESTS = {
    "a-list": ([1, 2], "damaged run file"),
    "stages-a-list": ({"stages": ["train"]}, "damaged run file"),
    "stage-entry-a-string": ({"stages": {"train": "done"}}, "damaged run file"),
    # an older or half-written manifest without stages: nothing has finished
    "no-stages": ({"created": "2026-01-01"}, "the train stage has not finished"),
}


def snapshot(folder) -> dict:
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("command", ["evaluate", "export", "distill"])
@pytest.mark.parametrize("damage", list(MANIFESTS))
def test_a_manifest_of_another_shape_is_one_line(tmp_path, damage, command):
    """Was a KeyError / AttributeError / TypeError traceback, exit 1."""
    run = make_run(tmp_path, "r-1", report=False)
    content, found = MANIFESTS[damage]
    (run / "manifest.json").write_text(json.dumps(content), encoding="utf-8")
    before = snapshot(run)
    assert_user_error(tunesmith(command, run), found)
    assert snapshot(run) == before


@pytest.mark.parametrize("row", ["[1]", '"text"', "3"])
def test_a_row_file_holding_other_than_objects_is_one_line(tmp_path, row):
    """compare read a field of each prediction row: AttributeError traceback, exit 1."""
    first, second = make_run(tmp_path, "a-1", report=False), make_run(tmp_path, "b-1", report=False)
    predictions = first / "eval" / "predictions" / "test.tuned.jsonl"
    predictions.write_text(f"{row}\n", encoding="utf-8")
    done = tunesmith("compare", first, second, "--html", tmp_path / "c.html")
    assert_user_error(done, f"{predictions}:1: damaged run file, a row is a")
    assert not (tmp_path / "c.html").exists()


@pytest.mark.parametrize("name", ["eval/compare.json", "train/summary.json", "eval/metrics.json"])
def test_the_report_of_a_run_file_of_another_shape_is_one_line(tmp_path, name):
    """`tunesmith evaluate --split val` re-renders the report last; a compare.json holding a
    list was an AttributeError traceback there."""
    from tunesmith.errors import UserError
    from tunesmith.report.html import refresh_report

    run = make_run(tmp_path, "r-1")
    (run / name).write_text("[]", encoding="utf-8")
    with pytest.raises(UserError, match=f"{run / name}: damaged run file, an array, not an"):
        refresh_report(run)


@pytest.mark.parametrize("name", ["eval/errors.json", "eval/checks/summary.json"])
@pytest.mark.parametrize("content", ["{", "[]"], ids=["malformed", "a-list"])
def test_the_reports_evaluation_sections_read_damaged_files_as_one_line(tmp_path, name, content):
    """`tunesmith human summary` re-renders the report: a damaged errors.json was a
    JSONDecodeError traceback (the report's section readers used json.loads directly)."""
    from tunesmith.errors import UserError
    from tunesmith.report.html import refresh_report

    run = make_run(tmp_path, "r-1")
    (run / name).parent.mkdir(parents=True, exist_ok=True)
    (run / name).write_text(content, encoding="utf-8")
    with pytest.raises(UserError, match=f"{run / name}.*: damaged run file"):
        refresh_report(run)


def test_the_reports_timings_of_a_damaged_manifest_are_one_line(tmp_path):
    """`tunesmith human summary` re-renders the report: a manifest whose stages are a list was
    a jinja UndefinedError traceback."""
    from tunesmith.errors import UserError
    from tunesmith.report.html import refresh_report

    run = make_run(tmp_path, "r-1")
    (run / "manifest.json").write_text('{"stages": ["train"]}', encoding="utf-8")
    with pytest.raises(UserError, match="manifest.json: damaged run file"):
        refresh_report(run)
