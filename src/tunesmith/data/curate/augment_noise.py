"""nlpaug augmenters: keyboard character noise, word swaps, WordNet synonyms (offline)."""

from __future__ import annotations

import random

from tunesmith.config.curation import AugmentConfig
from tunesmith.data.curate.augment import AUGMENTERS


def _seeded(augmenter, seed: int):
    """Run nlpaug (which draws from the global RNGs) seeded, restoring the RNG states after."""
    import numpy as np

    def run(texts: list[str]) -> list[str | None]:
        py_state, np_state = random.getstate(), np.random.get_state()
        random.seed(seed)
        np.random.seed(seed)
        try:
            out = []
            for text in texts:
                result = augmenter.augment(text) if text.strip() else None
                out.append(result[0] if isinstance(result, list) and result else result)
            return out
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)

    return run


@AUGMENTERS.register("char_noise")
def char_noise(config: AugmentConfig, ctx):
    import nlpaug.augmenter.char as nac

    augmenter = nac.KeyboardAug(
        aug_char_p=config.noise_p,
        aug_word_p=config.noise_p,
        include_special_char=False,
        include_numeric=False,
    )
    return _seeded(augmenter, ctx.seed)


@AUGMENTERS.register("word_noise")
def word_noise(config: AugmentConfig, ctx):
    import nlpaug.augmenter.word as naw

    return _seeded(naw.RandomWordAug(action="swap", aug_p=config.noise_p), ctx.seed)


@AUGMENTERS.register("synonym")
def synonym(config: AugmentConfig, ctx):
    from tunesmith.data.curate.wordnet import OfflineWordNet, find_wordnet

    reader = find_wordnet(config.wordnet_dir)
    if reader is None:
        return (
            "skipped: no WordNet database found (install Debian's wordnet-base, or set "
            "augment.wordnet_dir)"
        )
    import nlpaug.augmenter.word as naw

    class OfflineSynonymAug(naw.SynonymAug):
        @classmethod
        def get_model(cls, *args, **kwargs):
            return OfflineWordNet(reader)  # nlpaug's own would call nltk.download()

    return _seeded(OfflineSynonymAug(aug_p=config.noise_p), ctx.seed)
