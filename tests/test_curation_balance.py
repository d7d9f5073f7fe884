"""balance: a 10:1 imbalance comes out at the configured ratio, with before/after in the card."""

from __future__ import annotations

import pytest
from curation_data import config, context, labelled

from tunesmith.data.curate import post_split
from tunesmith.errors import UserError
from tunesmith.report.data_card import render_data_card


def _run(method: str, ratio: float):
    train = labelled(500, 50)
    splits = {"train": train, "val": labelled(10, 1, seed=1), "test": []}
    ctx = context(label=True)
    out, funnel, card = post_split(
        splits, config(balance={"method": method, "target_ratio": ratio}), ctx
    )
    return out, funnel, card, ctx


@pytest.mark.parametrize("ratio", [1.0, 2.0, 4.0])
def test_oversample_reaches_the_ratio(ratio):
    out, _, card, _ = _run("oversample", ratio)
    counts = card["label_distribution"]["after"]
    assert counts["negative"] == 500 and counts["positive"] == 500 / ratio
    assert card["label_distribution"]["before"] == {"negative": 500, "positive": 50}
    assert card["label_distribution"]["ratio_before"] == 10.0
    assert card["label_distribution"]["ratio_after"] == ratio
    copies = [r for r in out["train"] if r.get("oversampled")]
    assert len(copies) == 500 / ratio - 50 and len({r["id"] for r in out["train"]}) == len(
        out["train"]
    )
    assert len(out["val"]) == 11  # other splits untouched


def test_undersample_reaches_the_ratio_and_logs_drops():
    out, funnel, card, ctx = _run("undersample", 3.0)
    assert card["label_distribution"]["after"] == {"negative": 150, "positive": 50}
    assert funnel[-1]["dropped"] == {"undersampled": 350}
    assert sum(1 for e in ctx.log if e["reason"] == "undersampled") == 350


def test_class_weights_give_the_ratio_without_changing_rows():
    out, _, card, _ = _run("class_weights", 2.0)
    weights = card["class_weights"]
    assert len(out["train"]) == 550
    effective = {"negative": 500 * weights["negative"], "positive": 50 * weights["positive"]}
    assert effective["negative"] / effective["positive"] == pytest.approx(2.0, rel=1e-4)
    mean = (500 * weights["negative"] + 50 * weights["positive"]) / 550
    assert mean == pytest.approx(1.0, rel=1e-4)


def test_balance_needs_labels():
    splits = {"train": [{"id": "a", "prompt": "x", "response": "y"}]}
    with pytest.raises(UserError, match="labelled"):
        post_split(splits, config(balance={}), context())


def test_rows_without_a_label_are_no_class_and_kept_as_they_are():
    unlabelled = [
        {"id": f"u{i}", "prompt": "p", "response": "r", "label": v}
        for i, v in enumerate([None, "", " "])
    ]
    splits = {"train": labelled(20, 5) + unlabelled}
    cfg = config(balance={"method": "oversample", "target_ratio": 1.0})
    out, _, card = post_split(splits, cfg, context(label=True))
    distribution = card["label_distribution"]
    assert distribution["before"] == {"negative": 20, "positive": 5}
    assert distribution["after"] == {"negative": 20, "positive": 20}
    assert distribution["unlabelled"] == 3 and len(out["train"]) == 43
    assert not any(r.get("oversampled") and r["id"].startswith("u") for r in out["train"])
    assert "rows without a label, kept as they are: 3" in render_data_card(card)
    with pytest.raises(UserError, match=r"no training row has a label \(field 'label'\)"):
        post_split({"train": unlabelled}, cfg, context(label=True))
