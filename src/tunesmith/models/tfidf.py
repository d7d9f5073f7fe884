"""The classic text classifier: TF-IDF word 1-2-grams + logistic regression (scikit-learn).

Used by the evaluation's classic baseline row and by curation's label-preservation check.
"""

from __future__ import annotations


def tfidf_classifier(seed: int = 0, by_characters: bool = False):
    """An unfitted scikit-learn pipeline (fit(texts, labels), predict, predict_proba)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    # Word 1-2-grams with sublinear tf: the usual strong text-classification baseline (or
    # character 1-3-grams within words, for texts without words: fit_tfidf_classifier).
    # Balanced class weights, because the tuned model's training may be balanced too.
    features = (
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, min_df=1)
        if by_characters
        else TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    )
    return make_pipeline(
        features,
        LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed),
    )


def fit_tfidf_classifier(texts: list[str], labels: list[str], seed: int = 0):
    """`tfidf_classifier` fitted on `texts`; by character 1-3-grams when no text has a word of
    two or more letters (emoji, single CJK characters, one-letter answers): the word vocabulary
    is then empty, and scikit-learn refused to fit ('empty vocabulary') after training."""
    words = tfidf_classifier(seed).steps[0][1].build_analyzer()
    by_characters = not any(words(text) for text in texts)
    return tfidf_classifier(seed, by_characters).fit(texts, labels)
