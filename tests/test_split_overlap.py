"""Exact copies of training rows in val/test are counted and warned about on every run."""

from __future__ import annotations

import json

import yaml
from curation_data import config, context, distinct_texts
from typer.testing import CliRunner

from tunesmith.cli.data_cmd import data_app
from tunesmith.data.curate import post_split
from tunesmith.data.curate.overlap import overlap_warnings
from tunesmith.report.data_card import render_data_card


def _rows(texts: list[str], prefix: str) -> list[dict]:
    return [{"id": f"{prefix}{i}", "prompt": t, "response": "ok"} for i, t in enumerate(texts)]


def _splits() -> dict[str, list[dict]]:
    """A file with identical rows split at random: copies (new ids) on every side."""
    texts = distinct_texts(40, seed=8)
    return {
        "train": _rows(texts[:30], "train"),
        "val": _rows(texts[30:35] + texts[:2], "val"),
        "test": _rows(texts[35:] + texts[2:4] + [texts[4].upper()], "test"),
    }


def test_copies_are_counted_and_kept_without_dedup():
    splits, _, card = post_split(_splits(), config(), context())
    assert card["split_overlap"]["found"] == {
        "val": {"rows": 7, "in_train": 2, "in_test": 0},
        "test": {"rows": 8, "in_train": 3},
    }
    assert card["split_overlap"]["copied_rows"] == 5
    assert [len(rows) for rows in splits.values()] == [30, 7, 8]  # a warning drops nothing
    [warning] = overlap_warnings(card["split_overlap"])
    assert warning.startswith("2 of 7 val rows and 3 of 8 test rows are exact copies of training")


def test_a_different_output_is_not_a_copy():
    splits = _splits()
    for name, answer in (("val", "other"), ("test", "another")):
        splits[name] = [dict(row, response=answer) for row in splits[name]]
    _, _, card = post_split(splits, config(), context())
    assert card["split_overlap"]["found"] == {
        "val": {"rows": 7, "in_train": 0, "in_test": 0},
        "test": {"rows": 8, "in_train": 0},
    }
    assert overlap_warnings(card["split_overlap"]) == []


def test_dedup_drops_the_copies_so_nothing_is_left_to_warn_about():
    _, _, card = post_split(_splits(), config(dedup={}), context())
    assert card["split_overlap"]["copied_rows"] == 0
    assert overlap_warnings(card["split_overlap"]) == []


def test_a_test_file_that_is_the_train_file_is_warned_about(tmp_path, tiny_recipe):
    train = yaml.safe_load(tiny_recipe().read_text())["data"]["train"]
    recipe = tiny_recipe(**{"data.test": train})
    result = CliRunner().invoke(
        data_app, ["curate", str(recipe), "--output", str(tmp_path / "run")]
    )
    assert result.exit_code == 0, result.output
    # the train file less its 8 validation rows is trained on: 52 of the test file's 60 rows
    message = "52 of 60 test rows are exact copies of training rows"
    assert message in " ".join(result.output.split())
    card = json.loads((tmp_path / "run" / "data" / "data_card.json").read_text())
    assert card["split_overlap"]["found"] == {
        "val": {"rows": 8, "in_train": 0, "in_test": 8},  # the 8 held out of train: in test
        "test": {"rows": 60, "in_train": 52},
    }
    assert any(message in w for w in card["warnings"])
    assert "8 of 8 val rows are exact copies of test rows" in " ".join(result.output.split())
    html = render_data_card(card)
    assert message in html and "Exact copies of training rows" in html


def _val_copying_test() -> dict[str, list[dict]]:
    texts = distinct_texts(40, seed=9)
    return {
        "train": _rows(texts[:30], "train"),
        "val": _rows(texts[30:34] + texts[35:37], "val"),  # two test rows copied into val
        "test": _rows(texts[35:40], "test"),
    }


def test_validation_copies_of_test_rows_are_counted_and_warned_about():
    splits, _, card = post_split(_val_copying_test(), config(), context())
    assert card["split_overlap"]["found"] == {
        "val": {"rows": 6, "in_train": 0, "in_test": 2},
        "test": {"rows": 5, "in_train": 0},
    }
    assert card["split_overlap"]["copied_rows"] == 2
    assert [len(rows) for rows in splits.values()] == [30, 6, 5]  # a warning drops nothing
    assert overlap_warnings(card["split_overlap"]) == [
        "2 of 6 val rows are exact copies of test rows (same input and output): early stopping "
        "and the best checkpoint are then chosen partly on the test set (data.curation.dedup "
        "drops them from val)"
    ]
    assert "copies of test rows" in render_data_card(card)


def test_leakage_drop_takes_test_copies_out_of_validation_and_keeps_test():
    ctx = context()
    splits, _, card = post_split(_val_copying_test(), config(dedup={}), ctx)
    assert [r["id"] for r in splits["val"]] == ["val0", "val1", "val2", "val3"]
    assert [r["id"] for r in splits["test"]] == [f"test{i}" for i in range(5)]
    assert card["leakage"]["found"]["val"] == {
        "exact": 0,
        "near": 0,
        "rows": 6,
        "exact_in_test": 2,
        "near_in_test": 0,
    }
    assert card["leakage"]["dropped"] == 2 and card["leakage"]["clean_after"] is True
    assert [(e["id"], e["reason"], e["test_id"]) for e in ctx.log] == [
        ("val4", "leakage_exact_in_test", "test0"),
        ("val5", "leakage_exact_in_test", "test1"),
    ]
    assert card["split_overlap"]["copied_rows"] == 0


def test_leakage_report_counts_test_copies_in_validation_and_keeps_them():
    report = config(dedup={"leakage": "report"})
    splits, _, card = post_split(_val_copying_test(), report, context())
    assert len(splits["val"]) == 6
    assert card["leakage"]["leaking_rows"] == 2 and card["leakage"]["clean_after"] is False
    assert "exact in test" in render_data_card(card)


def test_the_data_stage_drops_test_copies_from_a_validation_file_and_keeps_test(
    tmp_path, tiny_recipe
):
    from conftest import make_records, write_jsonl

    rows = make_records(80)
    recipe = tiny_recipe(**{"data.curation": {"dedup": {"near": False}}})
    write_jsonl(tmp_path / "data.jsonl", rows[:60])
    write_jsonl(tmp_path / "test.jsonl", rows[60:70])
    write_jsonl(tmp_path / "val.jsonl", rows[70:76] + rows[60:62])  # 2 test rows in val
    files = f"  validation: {tmp_path}/val.jsonl\n  test: {tmp_path}/test.jsonl\n"
    recipe.write_text(recipe.read_text().replace("data:\n", "data:\n" + files))
    result = CliRunner().invoke(data_app, ["curate", str(recipe), "-o", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "leakage: 2 val/test rows found in train or val rows in test, 2 dropped" in (
        " ".join(result.output.split())
    )
    data = tmp_path / "run" / "data"
    card = json.loads((data / "data_card.json").read_text())
    assert card["sizes"] == {"train": 60, "val": 6, "test": 10}
    log = [json.loads(line) for line in (data / "curation_log.jsonl").read_text().splitlines()]
    assert [(e["id"], e["test_id"]) for e in log] == [("val-7", "test-1"), ("val-8", "test-2")]
