"""Back-translation through the model classes, the fidelity filter and label preservation.

Tiny random models (chat and seq2seq) and a bag-of-words stand-in for the sentence encoder
keep these fast; tests/test_slow_augment.py runs the real default model and encoder.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from curation_data import NEGATIVE, config, context, labelled

from tunesmith.config.curation import FidelityFilter
from tunesmith.data.curate import augment_fidelity, post_split
from tunesmith.data.curate.augment_fidelity import Screen


class BagOfWords:
    """Stands in for a sentence-transformers model: hashed word counts, cosine-ready."""

    def encode(self, texts, normalize_embeddings=True):
        out = np.zeros((len(texts), 256))
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, sum(map(ord, word)) % 256] += 1
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.clip(norms, 1e-12, None)


@pytest.fixture
def bag_of_words(monkeypatch):
    monkeypatch.setattr(augment_fidelity, "load_encoder", lambda name: BagOfWords())


@pytest.fixture
def tiny_chat(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    def load():
        return (
            AutoModelForCausalLM.from_pretrained(tiny_model_dir),
            AutoTokenizer.from_pretrained(tiny_model_dir),
        )

    return load


def _splits():
    return {"train": labelled(10, 10), "val": labelled(2, 2, seed=1), "test": labelled(2, 2, 2)}


def _augment(tiny_chat, **augment):
    settings = {"fraction": 0.5, "paraphrase_max_new_tokens": 8, **augment}
    cfg = config(augment=settings)
    return post_split(_splits(), cfg, context(label=True, load_model=tiny_chat))


def _produced(card, funnel, method):
    entry = next(e for e in funnel if e["step"] == "augment")
    rejected = sum(card["augment"]["rejected"].get(method, {}).values())
    return card["augment"]["added"].get(method, 0), rejected, entry


@pytest.mark.usefixtures("bag_of_words")
def test_backtranslation_through_a_chat_model_with_the_filter_counted(tiny_chat):
    loose = {"min_similarity": -1.0, "label_check": False}
    out, funnel, card = _augment(tiny_chat, methods=["backtranslation"], fidelity=loose)
    added, rejected, _ = _produced(card, funnel, "backtranslation")
    assert added > 0 and rejected == 0  # the random model's round trips all differ: kept
    assert card["augment"]["skipped"] == {}
    strict = {"min_similarity": 1.0, "label_check": False}
    out, funnel, card = _augment(tiny_chat, methods=["backtranslation"], fidelity=strict)
    added_strict, rejected, entry = _produced(card, funnel, "backtranslation")
    assert added_strict == 0 and rejected == added  # same seeded rows, all below 1.0
    assert entry["dropped"] == {"augment_low_similarity": added}
    assert len(out["train"]) == 20


@pytest.mark.usefixtures("bag_of_words")
def test_paraphrase_gets_the_same_filter(tiny_chat):
    _, funnel, card = _augment(tiny_chat, methods=["paraphrase"], fidelity={"min_similarity": 1})
    added, rejected, _ = _produced(card, funnel, "paraphrase")
    assert added == 0 and rejected > 0
    _, funnel, card = _augment(tiny_chat, methods=["paraphrase"], fidelity=None)
    assert card["augment"]["added"]["paraphrase"] == rejected and card["augment"]["rejected"] == {}


@pytest.mark.usefixtures("bag_of_words")
def test_noise_is_not_filtered_by_default(tiny_chat):
    _, _, card = _augment(tiny_chat, methods=["char_noise"], fidelity={"min_similarity": 1})
    assert card["augment"]["added"]["char_noise"] == 10 and card["augment"]["rejected"] == {}


@pytest.mark.usefixtures("bag_of_words")
def test_label_check_drops_a_rewrite_that_crosses_the_label():
    train = labelled(20, 20)
    screen = Screen(FidelityFilter(min_similarity=-1), ["prompt"], ("user",), train, "label", 0)
    good = next(r for r in train if r["label"] == "positive")
    flipped = {**good, "id": "flip", "prompt": " ".join(NEGATIVE)}
    same = {**good, "id": "same", "prompt": good["prompt"] + " indeed"}
    kept, drops = screen.run([(good, flipped), (good, same)], "paraphrase")
    assert [r["id"] for r in kept] == ["same"]
    assert [(d.row["id"], d.reason) for d in drops] == [("flip", "augment_label_changed")]
    loose = FidelityFilter(min_similarity=-1, label_check=False)
    off = Screen(loose, ["prompt"], ("user",), train, "label", 0)
    assert len(off.run([(good, flipped)], "paraphrase")[0]) == 1


@pytest.mark.usefixtures("bag_of_words")
def test_rows_without_a_label_are_no_class_for_the_label_check():
    """Unlabelled rows were fitted as a class named 'None': a rewrite of a positive row into
    words only unlabelled rows use 'crossed' to it and was dropped."""
    train = [r for r in labelled(0, 20)] + [{**r, "label": None} for r in labelled(20, 0, seed=1)]
    screen = Screen(FidelityFilter(min_similarity=-1), ["prompt"], ("user",), train, "label", 0)
    good = train[0]
    rewrite = {**good, "id": "rewrite", "prompt": " ".join(NEGATIVE)}
    unlabelled = {**train[-1], "id": "free", "prompt": good["prompt"]}
    kept, drops = screen.run([(good, rewrite), (train[-1], unlabelled)], "paraphrase")
    assert [r["id"] for r in kept] == ["rewrite", "free"] and drops == []


@pytest.fixture(scope="module")
def tiny_seq2seq(tiny_model_dir, tmp_path_factory):
    """A saved tiny random BART with the tiny Llama's tokenizer (a seq2seq translator)."""
    import torch
    from transformers import AutoTokenizer, BartConfig, BartForConditionalGeneration

    folder = tmp_path_factory.mktemp("tiny-bart")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    ids = {"pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id}
    cfg = BartConfig(
        vocab_size=len(tokenizer),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=128,
        bos_token_id=tokenizer.bos_token_id,
        decoder_start_token_id=tokenizer.bos_token_id,
        forced_eos_token_id=None,
        **ids,
    )
    BartForConditionalGeneration(cfg).save_pretrained(folder)
    return folder


@pytest.mark.usefixtures("bag_of_words")
def test_backtranslation_through_seq2seq_models(tiny_seq2seq):
    models = [str(tiny_seq2seq), str(tiny_seq2seq)]
    fidelity = {"min_similarity": -1.0}
    cfg = config(
        augment={
            "methods": ["backtranslation"],
            "fraction": 0.5,
            "fidelity": fidelity,
            "translation_models": models,
            "paraphrase_max_new_tokens": 8,
        }
    )
    out, _, card = post_split(_splits(), cfg, context(label=True))
    made = [r for r in out["train"] if r.get("augment_method") == "backtranslation"]
    rejected = sum(card["augment"]["rejected"].get("backtranslation", {}).values())
    assert len(made) == card["augment"]["added"]["backtranslation"]
    assert len(made) + rejected > 0 and all(r["label"] for r in made)


def test_translation_models_must_be_two():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="translation_models"):
        config(augment={"methods": ["backtranslation"], "translation_models": ["only-one"]})


@pytest.mark.usefixtures("bag_of_words")
def test_recipe_run_counts_rejected_rows_in_the_data_card(tiny_recipe, tmp_path):
    from tunesmith.artifacts import RunDir
    from tunesmith.config import load_recipe
    from tunesmith.pipeline import run_pipeline

    augment = {
        "methods": ["backtranslation", "paraphrase"],
        "fraction": 0.2,
        "paraphrase_max_new_tokens": 8,
        "fidelity": {"min_similarity": 0.2},
    }
    recipe = load_recipe(tiny_recipe(), [f"data.curation.augment={json.dumps(augment)}"])
    run_dir = RunDir(tmp_path / "run")
    run_pipeline(recipe, run_dir, only=["data"])
    card = json.loads((run_dir.data / "data_card.json").read_text("utf-8"))
    counts = card["augment"]
    produced = {
        m: counts["added"].get(m, 0) + sum(counts["rejected"].get(m, {}).values())
        for m in augment["methods"]
    }
    assert counts["rows_selected"] > 0 and all(n > 0 for n in produced.values())
    log = [json.loads(line) for line in (run_dir.data / "curation_log.jsonl").open()]
    low = [e for e in log if e["reason"] == "augment_low_similarity"]
    assert all(e["similarity"] < 0.2 for e in low)
    assert len(low) == sum(r.get("augment_low_similarity", 0) for r in counts["rejected"].values())


def test_a_translation_model_that_does_not_load_is_one_clear_error(tmp_path):
    from tunesmith.errors import UserError

    missing = str(tmp_path / "no-such-model")
    cfg = config(augment={"methods": ["backtranslation"], "translation_models": [missing] * 2})
    with pytest.raises(UserError, match="translation_models: .*no-such-model"):
        post_split(_splits(), cfg, context(label=True))


def test_data_card_html_shows_rejected_rows_escaped():
    from tunesmith.report.data_card import _augment

    card = {
        "rows_selected": 4,
        "added": {"paraphrase": 1},
        "rejected": {"paraphrase": {"augment_low_similarity": 3}},
        "skipped": {"backtranslation": "<b>no model</b>"},
    }
    html = _augment(card)
    assert "rejected by the fidelity filter: paraphrase: 3 low_similarity" in html
    assert "<b>no model</b>" not in html and "&lt;b&gt;" in html
