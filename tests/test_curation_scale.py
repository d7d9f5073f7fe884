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


def _with_rare_word(where: dict, frequency: Counter, ratio: float) -> dict:
    """The previous `_search`'s rule, applied to every listed n-gram: its rarest word occurs in
    at most `ratio` times as many rows as the n-gram."""
    return {
        gram: rows
        for gram, rows in where.items()
        if min(frequency[word] for word in gram.split()) <= ratio * len(rows)
    }


def test_rare_grams_equal_the_kept_sets_version_with_the_rare_word_rule():
    words = _review_words(600)
    words += [w + ["cf", "zq"] for w in words[:12]]  # a trigger: rare words
    config = PoisoningCheck()
    old_where, frequency = _rare_grams_kept_sets(words, config, len(words))
    # the invariant the rule's move relies on: an n-gram's row list is as long as its count
    assert all(len(rows) == frequency[gram] for gram, rows in old_where.items())
    where = _rare_grams(words, config, len(words))
    assert dict(where) == _with_rare_word(old_where, frequency, config.max_word_ratio)
    assert {"cf", "zq", "cf zq"} <= set(where) and len(old_where) > 10 * len(where)


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


def test_rare_grams_list_only_ngrams_with_a_rare_word():
    """Rows of the many common-word n-grams were listed and then never tested: the listing
    was most of the checks step's time at 50k rows."""
    words = _review_words(600)
    where = _rare_grams(words, PoisoningCheck(), len(words))
    assert where == {}  # every review word is in most rows: nothing can be a trigger


def test_the_content_model_reads_terms_of_two_rows_or_more():
    """Poisoning step 4 at a few thousand real rows: L-BFGS over every 1-2-gram (138,000 for
    3,800 Debian descriptions, 32,000 of them in two rows or more) took 108 s of a 122 s data
    stage. A term of one row says nothing out of fold; tiny data keeps every term."""
    from tunesmith.data.curate.poisoning_content import _features, _model

    x = _features(["a b c", "a b d", "e f"])
    assert x.shape == (3, 3)  # a, b and "a b"
    assert _features(["x", "y"]).shape == (2, 2)  # no term in two rows: every term
    assert _model().solver == "liblinear"
