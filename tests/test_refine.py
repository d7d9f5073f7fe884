"""refine's pure parts: weak buckets, oversampling, review feedback, records."""

from __future__ import annotations

import re

import pytest

from tunesmith.errors import UserError
from tunesmith.evaluate.refine import apply_review, as_record, oversample, weak_buckets
from tunesmith.evaluate.review import read_review

ERRORS = {
    "buckets": {
        "input length (words)": [
            {"bucket": "1-3", "n": 2, "values": {"base": 0.5, "tuned": 0.2}},
            {"bucket": "4-9", "n": 2, "values": {"base": 0.5, "tuned": 0.6}},
        ],
        "source": [{"bucket": "a", "n": 4, "values": {"base": 0.5, "tuned": 0.4}}],
    }
}
TRAIN = [
    {"id": "t1", "prompt": "one two", "response": "x", "meta": {"source": "a"}},
    {"id": "t2", "prompt": "one two three four five", "response": "y", "meta": {"source": "b"}},
]


def test_weakest_bucket_is_oversampled_and_single_buckets_are_skipped():
    weak = weak_buckets(ERRORS)
    assert weak == [
        {"group": "input length (words)", "bucket": "1-3", "value": 0.2, "overall": 0.4}
    ]
    grown = oversample(TRAIN, weak, 3)
    assert [e["id"] for e in grown] == ["t1", "t2", "t1", "t1"]
    assert weak_buckets(ERRORS, higher_is_better=False)[0]["bucket"] == "4-9"


def test_review_moves_corrected_validation_rows_into_training(tmp_path):
    review = tmp_path / "r.csv"
    review.write_text('id,corrected_response\nv1,"fixed, really"\nv2,\n')
    rows = read_review(review)
    val = [{"id": "v1", "prompt": "p", "response": "wrong"}, {"id": "v2", "prompt": "q"}]
    kept, moved = apply_review(rows, val, [{"id": "s1"}])
    assert [e["id"] for e in kept] == ["v2"] and moved[0]["response"] == "fixed, really"
    with pytest.raises(UserError, match="not a validation example"):
        apply_review([{"id": "zz", "corrected_response": "a"}], val, [])
    every = [{"id": "v1", "corrected_response": "a"}, {"id": "v2", "corrected_response": "b"}]
    with pytest.raises(UserError, match="all 2 validation rows are corrected"):
        apply_review(every, val, [])  # the next run's val.jsonl was empty: validate failed


def test_records_put_slice_fields_back_at_the_top_level():
    record = as_record({**TRAIN[0], "label": "x", "system": "s"})
    assert record == {"prompt": "one two", "response": "x", "source": "a"}


def test_review_file_holds_no_live_formula_and_its_ids_come_back(tmp_path):
    """Prompts and predictions are untrusted text opened in a spreadsheet (CSV injection)."""
    import csv

    from tunesmith.evaluate.review import write_review

    case = {"reference": "ok", "score_tuned": -1.5}
    errors = {
        "worst": [
            {**case, "id": "-7", "prompt": '=HYPERLINK("http://x","click")', "tuned": "@SUM(A1)"},
            {**case, "id": "v2", "prompt": "plain", "tuned": "+1"},
        ]
    }
    review = tmp_path / "review.csv"
    assert write_review(review, errors, "val") == 2
    rows = list(csv.DictReader(review.open(encoding="utf-8", newline="")))
    assert [r["prompt"] for r in rows] == ['\'=HYPERLINK("http://x","click")', "plain"]
    assert [r["prediction"] for r in rows] == ["'@SUM(A1)", "'+1"]
    assert [r["id"] for r in rows] == ["'-7", "v2"] and rows[0]["score"] == "-1.5"
    rows[0]["corrected_response"] = "=the reviewer's own text"
    with review.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    back = read_review(review)
    assert [(r["id"], r["corrected_response"]) for r in back] == [
        ("-7", "=the reviewer's own text")
    ]


def test_a_review_file_saved_with_semicolons_reads(tmp_path):
    review = tmp_path / "r.csv"
    review.write_text('id;prompt;corrected_response\nv1;"a; b";better, shorter\nv2;c;\n')
    assert [(r["id"], r["corrected_response"]) for r in read_review(review)] == [
        ("v1", "better, shorter")
    ]


def test_a_review_file_that_is_not_utf8_is_one_line(tmp_path):
    review = tmp_path / "r.csv"
    review.write_bytes(b"id,corrected_response\nv1,caf\xe9\n")
    with pytest.raises(UserError, match=r"r.csv:2: not UTF-8 text \(byte 0xe9\)"):
        read_review(review)


def _evaluated_run(tmp_path):
    """A finished run folder (ui_runs) with the splits and errors.json refine reads."""
    import json

    from ui_runs import make_run

    run = make_run(tmp_path / "runs", "demo-1", report=False)
    (run / "data").mkdir()
    for split in ("train", "val", "test"):
        (run / "data" / f"{split}.jsonl").write_text(
            "".join(json.dumps({**row, "id": f"{split}{i}"}) + "\n" for i, row in enumerate(TRAIN))
        )
    (run / "eval" / "errors.json").write_text(json.dumps(ERRORS))
    return run


@pytest.mark.parametrize("inside", ["", "data"], ids=["the-run", "its-data"])
def test_refine_never_writes_over_the_runs_own_recipe_and_splits(tmp_path, inside):
    """`tunesmith refine RUN -o RUN` replaced RUN/recipe.yaml with the next iteration's (and
    `-o RUN/data` its splits), exit 0."""
    from tunesmith.evaluate.refine import refine

    run = _evaluated_run(tmp_path)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    with pytest.raises(UserError, match=r"--output .*: already holds (recipe.yaml|train.jsonl)"):
        refine(run, run / inside)
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_refine_writes_again_over_its_own_earlier_output(tmp_path):
    from tunesmith.evaluate.refine import refine

    run = _evaluated_run(tmp_path)
    assert refine(run, tmp_path / "next")["train_after"] == 3
    assert refine(run, tmp_path / "next")["train_after"] == 3  # plan.json: an earlier refine


@pytest.mark.parametrize(
    ("damage", "found"),
    [
        (lambda run: (run / "data" / "test.jsonl").unlink(), "not an evaluated run folder (no"),
        (lambda run: (run / "eval" / "compare.json").unlink(), "not an evaluated run folder (no"),
        (
            lambda run: (run / "eval" / "compare.json").write_text("[]"),
            "damaged run file, an array, not an object",
        ),
        (
            lambda run: (run / "eval" / "errors.json").write_text("[]"),
            "damaged run file, an array, not an object",
        ),
    ],
    ids=["no-test-split", "no-compare", "compare-a-list", "errors-a-list"],
)
def test_a_run_folder_refine_cannot_read_is_one_line(tmp_path, damage, found):
    """Were FileNotFoundError / AttributeError tracebacks (exit 1)."""
    from tunesmith.evaluate.refine import refine

    run = _evaluated_run(tmp_path)
    damage(run)
    with pytest.raises(UserError, match=re.escape(found)):
        refine(run, tmp_path / "next")
    assert not (tmp_path / "next").exists()


@pytest.mark.parametrize(
    ("factor", "fragment"),
    [("11", "less than or equal to 10"), ("1000000000000", "less than or equal to 10")]
    + [("1", "greater than or equal to 2"), ("-3", "greater than or equal to 2")],
    ids=["11", "a-trillion", "1", "negative"],
)
def test_a_factor_out_of_range_is_refused_before_anything_is_written(
    tmp_path, monkeypatch, capsys, factor, fragment
):
    """`--factor 1000000000000` had no bound: it hung building the list (and 100000 wrote a
    5 MB train.jsonl from 2 examples), exit 0."""
    import sys

    from tunesmith.cli.main import main

    run = _evaluated_run(tmp_path)
    out = tmp_path / "next"
    argv = ["tunesmith", "refine", str(run), "-o", str(out), f"--factor={factor}"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err
    assert err.splitlines()[-1].startswith("error: Invalid value for '--factor'")
    assert fragment in err
    assert not out.exists()


def test_the_largest_factor_is_taken(tmp_path):
    from tunesmith.cli.eval_cmds import MAX_FACTOR
    from tunesmith.evaluate.refine import refine

    plan = refine(_evaluated_run(tmp_path), tmp_path / "next", MAX_FACTOR)
    assert plan["train_after"] == 2 + (MAX_FACTOR - 1)
