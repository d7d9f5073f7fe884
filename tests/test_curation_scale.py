"""Curation at user-sized data: the faster and smaller code paths return what the old ones did.

Speed itself is measured by bench/data_scale.py, not here; these tests check results and memory.
"""

from __future__ import annotations

import tracemalloc
from collections import Counter, defaultdict

from curation_data import labelled

from tunesmith.config.curation import PoisoningCheck
from tunesmith.data.curate.minhash import normalise
from tunesmith.data.curate.poisoning import _ngrams, _rare_grams


def _rare_grams_kept_sets(words, config: PoisoningCheck, n_rows: int):
    """The previous `_rare_grams`: every row's n-gram set kept until the rare ones are known."""
    grams = [_ngrams(w, config.max_ngram) for w in words]
    frequency = Counter(g for row_grams in grams for g in row_grams)
    top = max(config.min_count, int(config.max_share * n_rows))
    rare = {g for g, n in frequency.items() if config.min_count <= n <= top}
    where: dict[str, list[int]] = defaultdict(list)
    for i, row_grams in enumerate(grams):
        for g in row_grams & rare:
            where[g].append(i)
    return where, frequency


def _review_words(n: int) -> list[list[str]]:
    rows = labelled(n // 2, n - n // 2, seed=3)
    return [normalise(r["prompt"]).split() for r in rows]


def test_rare_grams_equal_the_kept_sets_version():
    words = _review_words(600)
    config = PoisoningCheck()
    where, frequency = _rare_grams(words, config, len(words))
    old_where, old_frequency = _rare_grams_kept_sets(words, config, len(words))
    assert frequency == old_frequency
    assert dict(where) == dict(old_where) and len(where) > 50
    assert list(where) == list(old_where)  # same order: candidates are tested in this order


def test_rare_grams_do_not_hold_every_rows_ngram_set():
    """Its peak memory is below what keeping each row's n-gram set took (the rows repeat
    words, as real text does: the counts are far smaller than the occurrences)."""
    words = _review_words(3000)
    config = PoisoningCheck()

    def peak(function) -> int:
        tracemalloc.start()
        try:
            function(words, config, len(words))
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    assert peak(_rare_grams) < 0.5 * peak(_rare_grams_kept_sets)
