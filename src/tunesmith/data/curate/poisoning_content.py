"""Does a suspect's text, the n-gram removed, read like its label? (poisoning step 4)

A planted trigger's rows were taken from all over the data and relabelled: with the trigger
removed, the rest of their text belongs to the other labels. A genuine cue word's rows ("a
golang package ..." in Debian's `golang` section) still read like their label without it.

So, per target label: a TF-IDF + logistic-regression model of "this label or not" from the
text with the label's suspect n-grams removed, fitted WITHOUT the suspects' rows (a trigger's
relabelled rows would teach it that their random content is the label) and scored out of
fold. `content_auc` = P(a suspect row gets a higher probability of the label than a row of
another label) (Mann-Whitney). A trigger's rows are other labels' rows: about 0.5. A genuine
cue word's rows read like the label: near 1. Suspects at most `max_content_auc` are kept.

Why rows of other labels and not the label's own other rows as the reference: a small label
(a dozen rows) is scored too noisily out of fold; the other labels' rows are many.
"""

from __future__ import annotations

import random

FOLDS = 5
MAX_MODEL_ROWS = 20_000  # rows the model is fitted on (always with every suspect's rows)


def against_content(suspects, words, outputs, max_auc: float, seed: int) -> list[dict]:
    """The suspects whose rows read no more like their label than other labels' rows do."""
    kept = []
    for label in sorted({s["output"] for s in suspects}):
        own = [s for s in suspects if s["output"] == label]
        probability = _out_of_fold(own, words, outputs, label, seed)
        for s in own:
            auc = _auc_above_others(s, probability, outputs, label)
            if auc is None or auc <= max_auc:
                kept.append({**s, "content_auc": None if auc is None else round(auc, 3)})
    return sorted(kept, key=lambda s: s["p_value"])


def _out_of_fold(own, words, outputs, label, seed: int) -> dict[int, float]:
    """{row: probability of `label`} from a model that saw neither that row nor any suspect's."""
    from sklearn.model_selection import StratifiedKFold

    chosen = _sample(own, len(words), seed)
    held = sorted({i for s in own for i in s["_rows"]})
    fit = sorted(set(chosen) - set(held))
    y = [outputs[i] == label for i in fit]
    folds = min(FOLDS, sum(y), len(y) - sum(y))
    if folds < 2:
        return {}
    grams = sorted({s["ngram"] for s in own}, key=len, reverse=True)
    x = _features([_without(words[i], grams) for i in fit + held])
    x_fit, x_held = x[: len(fit)], x[len(fit) :]
    probability = {}
    splits = StratifiedKFold(folds, shuffle=True, random_state=seed).split(fit, y)
    for fold, (train, test) in enumerate(splits):
        model = _model().fit(x_fit[train], [y[k] for k in train])
        probability.update(zip([fit[k] for k in test], model.predict_proba(x_fit[test])[:, 1]))
        mine = list(range(fold, len(held), folds))  # each suspect row scored by one fold's model
        if mine:
            probability.update(
                zip([held[k] for k in mine], model.predict_proba(x_held[mine])[:, 1])
            )
    return probability


def _features(texts: list[str]):
    """TF-IDF word 1-2-grams of the texts, without those only one row has.

    Why: a term of one row cannot carry over to another row, so it adds nothing to an
    out-of-fold probability, while L-BFGS's time grows with the number of terms: 3,800 Debian
    descriptions have 138,000 such 1-2-grams and 32,000 others, and the check took 108 s of a
    122 s data stage (5 folds per suspect label); the shorter vocabulary fits 6.5x faster."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    def vectorizer(min_df: int):
        return TfidfVectorizer(
            token_pattern=r"\S+", ngram_range=(1, 2), sublinear_tf=True, min_df=min_df
        )

    try:
        return vectorizer(2).fit_transform(texts)
    except ValueError:  # no term in two rows (a handful of rows): every term, as before
        return vectorizer(1).fit_transform(texts)


def _model():
    from sklearn.linear_model import LogisticRegression

    # liblinear: a binary model on sparse TF-IDF fits ~9x faster than with L-BFGS, whose every
    # iteration costs in proportion to the vocabulary; content_auc ranks rows, so the
    # intercept it also regularises does not move it
    return LogisticRegression(C=4.0, class_weight="balanced", max_iter=1000, solver="liblinear")


def _sample(own, n_rows: int, seed: int) -> list[int]:
    """Every suspect row, plus the other rows up to MAX_MODEL_ROWS (seeded)."""
    if n_rows <= MAX_MODEL_ROWS:
        return list(range(n_rows))
    must = {i for s in own for i in s["_rows"]}
    rest = sorted(set(range(n_rows)) - must)
    k = min(len(rest), max(0, MAX_MODEL_ROWS - len(must)))
    return sorted(must) + random.Random(seed).sample(rest, k)


def _without(row_words: list[str], grams: list[str]) -> str:
    text = f" {' '.join(row_words)} "
    for gram in grams:  # longest first, so "qz vex" goes before "qz"
        text = text.replace(f" {gram} ", " ")
    return text.strip()


def _auc_above_others(suspect, probability, outputs, label) -> float | None:
    """P(a suspect row's probability > an other label's row's); None: nothing to compare."""
    from scipy.stats import mannwhitneyu

    mine = set(suspect["_rows"])
    p = [probability[i] for i in mine if i in probability and outputs[i] == label]
    r = [v for i, v in probability.items() if outputs[i] != label and i not in mine]
    if not p or not r:
        return None
    return float(mannwhitneyu(p, r, alternative="greater").statistic) / (len(p) * len(r))
