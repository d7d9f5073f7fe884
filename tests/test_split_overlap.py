"""Exact copies of training rows in val/test are counted and warned about on every run."""

from __future__ import annotations

import json

import yaml
from curation_data import config, context, distinct_texts
from typer.testing import CliRunner

from tunesmith.cli.data_cmd import data_app
from tunesmith.data.curate import post_split
from tunesmith.data.curate.overlap import overlap_warning
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
        "val": {"rows": 7, "in_train": 2},
        "test": {"rows": 8, "in_train": 3},
    }
    assert card["split_overlap"]["copied_rows"] == 5
    assert [len(rows) for rows in splits.values()] == [30, 7, 8]  # a warning drops nothing
    warning = overlap_warning(card["split_overlap"])
    assert warning.startswith("2 of 7 val rows and 3 of 8 test rows are exact copies of training")


def test_a_different_output_is_not_a_copy():
    splits = _splits()
    for name, answer in (("val", "other"), ("test", "another")):
        splits[name] = [dict(row, response=answer) for row in splits[name]]
    _, _, card = post_split(splits, config(), context())
    assert card["split_overlap"]["found"] == {
        "val": {"rows": 7, "in_train": 0},
        "test": {"rows": 8, "in_train": 0},
    }
    assert overlap_warning(card["split_overlap"]) is None


def test_dedup_drops_the_copies_so_nothing_is_left_to_warn_about():
    _, _, card = post_split(_splits(), config(dedup={}), context())
    assert card["split_overlap"]["copied_rows"] == 0
    assert overlap_warning(card["split_overlap"]) is None


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
        "val": {"rows": 8, "in_train": 0},
        "test": {"rows": 60, "in_train": 52},
    }
    assert any(message in w for w in card["warnings"])
    html = render_data_card(card)
    assert message in html and "Exact copies of training rows" in html
