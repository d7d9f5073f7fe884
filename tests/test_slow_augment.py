"""The real default model back-translates and paraphrases; the real encoder filters."""

from __future__ import annotations

import pytest
from curation_data import config, context, labelled

from tunesmith.data.curate import post_split

pytestmark = pytest.mark.slow


def test_default_model_augments_and_the_shipped_encoder_filters():
    from tunesmith.config.schema import ModelConfig
    from tunesmith.data.curate.augment_fidelity import load_encoder
    from tunesmith.models import load_model_and_tokenizer

    def load():
        return load_model_and_tokenizer(ModelConfig(name="smollm2-135m-instruct"))

    splits = {"train": labelled(4, 4), "val": labelled(1, 1, 1), "test": labelled(1, 1, 2)}
    augment = {"methods": ["backtranslation", "paraphrase"], "fraction": 0.5}
    augment["paraphrase_max_new_tokens"] = 24  # the rows are short; keeps the test short
    out, funnel, card = post_split(splits, config(augment=augment), context(True, load_model=load))
    counts = card["augment"]
    for method in augment["methods"]:
        made = [r for r in out["train"] if r.get("augment_method") == method]
        rejected = sum(counts["rejected"].get(method, {}).values())
        assert counts["added"].get(method, 0) == len(made) and len(made) + rejected > 0
    encoder = load_encoder(None)
    originals = {r["id"]: r for r in splits["train"]}
    kept = [r for r in out["train"] if r.get("augmented")]
    for row in kept:  # every kept row passed the 0.75 default with the real encoder
        pair = encoder.encode([originals[row["id"].split("-aug-")[0]]["prompt"], row["prompt"]])
        cosine = float(pair[0] @ pair[1] / ((pair[0] @ pair[0]) * (pair[1] @ pair[1])) ** 0.5)
        assert cosine >= 0.75 - 1e-4
    e = encoder.encode(
        ["The film was great.", "The movie was excellent.", "Stocks fell sharply today."],
        normalize_embeddings=True,
    )
    assert float(e[0] @ e[1]) > 0.6 > 0.2 > float(e[0] @ e[2])  # the encoder tells them apart
