"""augment: augmented rows are marked, only in train, and unavailable methods say why."""

from __future__ import annotations

import pytest
from curation_data import config, context, labelled

from tunesmith.data.curate import post_split


def _splits():
    return {"train": labelled(40, 40), "val": labelled(5, 5, seed=1), "test": labelled(5, 5, 2)}


def test_noise_rows_marked_and_only_in_train():
    cfg = config(augment={"methods": ["char_noise", "word_noise"], "fraction": 0.5})
    out, _, card = post_split(_splits(), cfg, context(label=True))
    augmented = [r for r in out["train"] if r.get("augmented")]
    added = card["augment"]["added"]
    assert card["augment"]["rows_selected"] == 40
    assert added["char_noise"] == 40 and 36 <= added["word_noise"] <= 40  # a swap may be a no-op
    assert len(augmented) == sum(added.values()) and len(out["train"]) == 80 + len(augmented)
    assert {r["augment_method"] for r in augmented} == {"char_noise", "word_noise"}
    assert not any(r.get("augmented") for r in out["val"] + out["test"])
    originals = {r["id"]: r for r in out["train"] if not r.get("augmented")}
    for row in augmented:
        source = originals[row["id"].split("-aug-")[0]]
        assert row["prompt"] != source["prompt"]
        assert row["label"] == source["label"] and row["response"] == source["response"]


def test_backtranslation_without_any_model_is_skipped_with_notice():
    cfg = config(augment={"methods": ["backtranslation"]})
    out, _, card = post_split(_splits(), cfg, context(label=True))
    assert "no model to translate with" in card["augment"]["skipped"]["backtranslation"]
    assert len(out["train"]) == 80


def test_wordnet_synonyms_offline():
    from tunesmith.data.curate.wordnet import find_wordnet

    if find_wordnet() is None:
        pytest.skip("WordNet database not installed (apt-get install wordnet-base)")
    cfg = config(augment={"methods": ["synonym"], "fraction": 1.0, "noise_p": 0.3})
    out, _, card = post_split(_splits(), cfg, context(label=True))
    assert card["augment"]["added"]["synonym"] >= 70  # rows without any synonym are left out
    assert card["augment"]["skipped"] == {}


def test_paraphrase_with_a_model(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    def load_model():
        return (
            AutoModelForCausalLM.from_pretrained(tiny_model_dir),
            AutoTokenizer.from_pretrained(tiny_model_dir),
        )

    cfg = config(
        augment={
            "methods": ["paraphrase"],
            "fraction": 0.1,
            "paraphrase_max_new_tokens": 8,
            "fidelity": None,  # the filter has its own tests (test_augment_fidelity.py)
        }
    )
    out, _, card = post_split(_splits(), cfg, context(label=True, load_model=load_model))
    made = [r for r in out["train"] if r.get("augment_method") == "paraphrase"]
    assert card["augment"]["added"].get("paraphrase", 0) == len(made) > 0
    assert all(r["augmented"] and r["prompt"].strip() for r in made)


# What a model is asked to paraphrase from, per chat template: the prompt training and
# evaluation render (models/formatting.py), not the template applied bare.
REQUEST = "Rewrite this: the cat sat"
REWRITE_PROMPTS = {
    # thinking off: the empty think block closes the prompt, as in training
    "qwen3": f"<|im_start|>user\n{REQUEST}<|im_end|>\n<|im_start|>assistant\n"
    "<think>\n\n</think>\n\n",
    "gemma": f"<bos><start_of_turn>user\n{REQUEST}<end_of_turn>\n<start_of_turn>model\n",
    # no chat template (GPT-2): the plain sections the tuned model is trained on
    "gpt2": f"### User:\n{REQUEST}\n\n### Response:\n",
}


def _rewriter(tiny_model_dir, family: str):
    """A tiny random model of `family` and the test tokenizer with its chat template (none
    for GPT-2), sized to each other."""
    import torch
    import transformers
    from chat_templates import family_tokenizer
    from test_architectures import ARCHITECTURES

    if family == "gpt2":
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(tiny_model_dir))
        tokenizer.chat_template = None
    else:
        tokenizer = family_tokenizer(tiny_model_dir, family)
    config_class, model_class, shape = ARCHITECTURES[family]
    config = getattr(transformers, config_class)(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        **shape,
    )
    torch.manual_seed(0)
    return getattr(transformers, model_class)(config).eval(), tokenizer


@pytest.mark.parametrize("family", sorted(REWRITE_PROMPTS))
def test_model_rewrites_are_prompted_as_training_prompts(tiny_model_dir, family, monkeypatch):
    from tunesmith.data.curate.augment_model import rewrite
    from tunesmith.models import generation

    model, tokenizer = _rewriter(tiny_model_dir, family)
    asked, generate = [], generation.generate_texts

    def spy(model, tokenizer, ids, *args, **kwargs):
        asked.extend(ids)
        return generate(model, tokenizer, ids, *args, **kwargs)

    monkeypatch.setattr(generation, "generate_texts", spy)
    answers = rewrite(model, tokenizer, [REQUEST, REQUEST], 4, seed=0)
    expected = tokenizer(REWRITE_PROMPTS[family], add_special_tokens=False)["input_ids"]
    assert asked == [expected, expected]
    assert len(answers) == 2 and all(isinstance(a, str) for a in answers)
