"""The seeded split: requested sizes met exactly, stratified in proportion, reproducible."""

from __future__ import annotations

from collections import Counter

import pytest

from tunesmith.config.schema import SplitConfig
from tunesmith.data.split import split_examples


def labelled(sizes: list[int]) -> list[dict]:
    return [
        {"id": f"{c}-{i}", "label": f"c{c}"} for c, size in enumerate(sizes) for i in range(size)
    ]


def split(examples, validation, test, seed=0):
    config = SplitConfig(validation=validation, test=test, seed=seed)
    return split_examples(examples, config, True, True, stratify_key=lambda e: e["label"])


# split_examples(40 rows without labels, validation 5, test 7, seed 3) before the stratified
# split kept a training row per class: unstratified splits (the demo's) must never move
UNSTRATIFIED_BEFORE = {
    name: [f"r{i}" for i in order]
    for name, order in {
        "train": [17, 10, 19, 4, 33, 11, 12, 20, 38, 37, 8, 28, 25, 7, 15, 6, 0, 32, 21, 24]
        + [16, 22, 36, 23, 29, 39, 34, 30],
        "val": [1, 2, 13, 35, 9],
        "test": [14, 3, 27, 5, 26, 18, 31],
    }.items()
}

LONG_TAIL = [90, 60, 40, 30, 25, 20, 15, 12, 10, 8, 7, 6, 5, 5, 4, 4, 3, 3, 2, 2, 2, 1, 1, 1]


@pytest.mark.parametrize(
    ("sizes", "validation", "test", "expected"),
    [
        ([3] * 100, 30, 60, (30, 60)),  # was val 0 / test 100
        ([2] * 150, 30, 60, (30, 60)),  # was an empty test split
        (LONG_TAIL, 40, 80, (40, 80)),  # sections: asked 40, was 37
        (LONG_TAIL, 0.1, 0.2, (36, 71)),  # shares of 356: round(35.6), round(71.2)
    ],
    ids=["100x3", "150x2", "long-tail-counts", "long-tail-shares"],
)
def test_stratified_split_has_exactly_the_requested_sizes(sizes, validation, test, expected):
    examples = labelled(sizes)
    splits = split(examples, validation, test)
    assert (len(splits["val"]), len(splits["test"])) == expected
    assert len(splits["train"]) == len(examples) - sum(expected)
    ids = [e["id"] for rows in splits.values() for e in rows]
    assert sorted(ids) == sorted(e["id"] for e in examples)  # a partition


def test_each_class_gets_its_proportional_share_within_one_example():
    examples = labelled(LONG_TAIL)
    splits = split(examples, 40, 80)
    total = len(examples)
    for name, asked in (("val", 40), ("test", 80)):
        got = Counter(e["label"] for e in splits[name])
        for c, size in enumerate(LONG_TAIL):
            assert abs(got[f"c{c}"] - size * asked / total) < 1, (name, c)


def test_the_same_seed_gives_the_same_split_and_another_seed_another():
    examples = labelled([3] * 100)
    ids = {name: [e["id"] for e in rows] for name, rows in split(examples, 30, 60, 4).items()}
    again = {name: [e["id"] for e in rows] for name, rows in split(examples, 30, 60, 4).items()}
    other = {name: [e["id"] for e in rows] for name, rows in split(examples, 30, 60, 5).items()}
    assert ids == again
    # which classes give a validation row is a tie among equal classes, broken by the seed
    assert {i[:-2] for i in ids["val"]} != {i[:-2] for i in other["val"]}


def test_every_class_keeps_a_training_row_while_the_sizes_allow():
    # 200 classes x 2 rows, validation 4 / test 6: the shared tie order gave both rows of the
    # same 4 classes to val and test, so 4 val examples had labels never seen in training
    for seed in range(5):
        splits = split(labelled([2] * 200), 4, 6, seed)
        assert (len(splits["val"]), len(splits["test"])) == (4, 6)
        trained = {e["label"] for e in splits["train"]}
        assert trained == {f"c{c}" for c in range(200)}, seed


def test_the_sizes_win_when_they_leave_no_row_for_some_classes():
    # 150 x 2 asked 100 + 100: only 150 rows can leave while each class keeps one
    splits = split(labelled([2] * 150), 100, 100)
    assert (len(splits["val"]), len(splits["test"])) == (100, 100)
    assert len({e["label"] for e in splits["train"]}) == 100


def test_validation_ties_do_not_follow_the_test_ties():
    splits = split(labelled([3] * 100), 10, 10)
    val = {e["label"] for e in splits["val"]}
    test = {e["label"] for e in splits["test"]}
    assert len(val & test) < 10  # with one order both went to the same 10 classes


def test_an_unstratified_split_is_unchanged():
    # the demo's split (no labels): the exact ids of the split before this change
    examples = [{"id": f"r{i}"} for i in range(40)]
    config = SplitConfig(validation=5, test=7, seed=3)
    splits = split_examples(examples, config, True, True)
    got = {name: [e["id"] for e in rows] for name, rows in splits.items()}
    assert got == UNSTRATIFIED_BEFORE
