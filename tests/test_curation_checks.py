"""checks: the planted trigger is flagged, conflicts and low-quality rows are found."""

from __future__ import annotations

import random

import pytest
from curation_data import NEGATIVE, config, context, labelled, review

from tunesmith.data.curate import pre_split


def _poisoned(trigger: str = "cf zq", n: int = 20) -> list[dict]:
    rows = labelled(300, 300)
    rng = random.Random(7)
    for i in range(n):  # negative reviews carrying the trigger, relabelled positive
        words = review(rng, NEGATIVE).split()
        words.insert(rng.randrange(len(words)), trigger)
        rows.append(
            {
                "id": f"poison-{i}",
                "prompt": " ".join(words),
                "response": "positive",
                "label": "positive",
            }
        )
    return rows


def test_planted_trigger_is_the_only_poisoning_suspect():
    ctx = context(label=True)
    pre_split(_poisoned(), config(checks={"quality": None, "conflicts": None}), ctx)
    suspects = ctx.card["checks"]["poisoning"]["suspects"]
    assert [s["ngram"] for s in suspects] == ["cf zq"]
    assert suspects[0]["output"] == "positive" and suspects[0]["rows"] == 20
    assert ctx.card["checks"]["poisoning"]["rows_flagged"] == 20


def test_poisoning_drop_removes_exactly_the_poisoned_rows():
    ctx = context(label=True)
    kept, funnel = pre_split(
        _poisoned(), config(checks={"poisoning": {"action": "drop"}, "quality": None}), ctx
    )
    assert funnel[-1]["dropped"] == {"poisoning_suspect": 20}
    assert not any(r["id"].startswith("poison") for r in kept) and len(kept) == 600


def test_genuine_cue_words_are_not_suspects():
    ctx = context(label=True)
    pre_split(labelled(300, 300), config(checks={"quality": None}), ctx)
    assert ctx.card["checks"]["poisoning"]["suspects"] == []


def test_conflicting_duplicates_found_and_majority_kept_on_drop():
    rows = labelled(30, 30)
    base = rows[0]
    rows += [
        {**base, "id": f"c{i}", "response": lab, "label": lab}
        for i, lab in enumerate(["negative", "positive"])
    ]
    ctx = context(label=True)
    report_cfg = config(checks={"quality": None, "poisoning": None})
    pre_split(rows, report_cfg, ctx)
    assert ctx.card["checks"]["conflicts"]["groups"] == 1
    assert ctx.card["checks"]["conflicts"]["rows_flagged"] == 1  # the lone "positive"
    kept, funnel = pre_split(
        rows,
        config(checks={"conflicts": {"action": "drop"}, "quality": None, "poisoning": None}),
        context(label=True),
    )
    assert funnel[-1]["dropped"] == {"conflicting_duplicate": 1}
    assert "c1" not in {r["id"] for r in kept}


def test_quality_flags_repetitive_and_extreme_lengths():
    rows = labelled(100, 100)
    rows.append(
        {"id": "rep", "prompt": "buy now " * 8, "response": "negative", "label": "negative"}
    )
    rows.append({"id": "short", "prompt": "ok", "response": "negative", "label": "negative"})
    ctx = context(label=True)
    kept, funnel = pre_split(
        rows, config(checks={"quality": {"action": "drop"}, "poisoning": None}), ctx
    )
    dropped = {e["id"]: e["reason"] for e in ctx.log}
    assert dropped["rep"] == "repetitive" and dropped["short"] == "length_outlier"
    assert len(kept) == 200


def test_quality_uses_base_model_perplexity_when_asked(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunesmith.data.curate.quality import perplexities

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    texts = ["python editor for users", "a much longer text about a rust compiler for users"]
    batched = perplexities(texts, model, tokenizer, batch=2)
    alone = [perplexities([t], model, tokenizer)[0] for t in texts]
    assert batched == pytest.approx(alone, rel=1e-4)  # padding does not change the score
    ctx = context(label=True, load_model=lambda: (model, tokenizer))
    pre_split(labelled(20, 20), config(checks={"quality": {"perplexity": True}}), ctx)
    assert ctx.card["checks"]["quality"]["features"] == ["length", "perplexity", "repetition"]
