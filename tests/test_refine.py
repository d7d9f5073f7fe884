"""refine's pure parts: weak buckets, oversampling, review feedback, records."""

from __future__ import annotations

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


def test_records_put_slice_fields_back_at_the_top_level():
    record = as_record({**TRAIN[0], "label": "x", "system": "s"})
    assert record == {"prompt": "one two", "response": "x", "source": "a"}
