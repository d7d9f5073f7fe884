"""The classic text classifier: TF-IDF word 1-2-grams + logistic regression (scikit-learn).

Used by the evaluation's classic baseline row and by curation's label-preservation check.
"""

from __future__ import annotations


def tfidf_classifier(seed: int = 0):
    """An unfitted scikit-learn pipeline (fit(texts, labels), predict, predict_proba)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    # Word 1-2-grams with sublinear tf: the usual strong text-classification baseline.
    # Balanced class weights, because the tuned model's training may be balanced too.
    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1),
        LogisticRegression(max_iter=2000, class_weight="balanced", random_state=seed),
    )
