"""`tunesmith data inspect`: statistics and checks of a data file, changing nothing."""

from __future__ import annotations

import importlib.util

from tunesmith.config.curation import ChecksConfig, DedupConfig, PiiConfig
from tunesmith.data.curate import checks, dedup
from tunesmith.data.curate.pipeline import CurationContext
from tunesmith.data.curate.rows import texts_of
from tunesmith.data.curate.stats import label_counts, missing_labels, summary, word_count


def inspect_rows(
    rows: list[dict], ctx: CurationContext, threshold: float = 0.8, pii: bool = True
) -> dict:
    """A report dict: sizes, per-field lengths and empties, duplicates, PII, labels, checks."""
    report: dict = {"rows": len(rows), "fields": {}}
    for name in ctx.text_fields:
        lengths = sorted(word_count(r.get(name)) for r in rows)
        empty = sum(1 for r in rows if not any(t.strip() for t in texts_of(r.get(name))))
        report["fields"][name] = {**summary(lengths), "empty": empty}
    found = dedup.run({"all": rows}, DedupConfig(threshold=threshold), ctx)
    report["duplicates"] = {
        "exact": found.stats["exact"],
        "near": found.stats["near"],
        "threshold": threshold,
        "examples": [
            {"id": d.row["id"], "duplicate_of": d.detail["duplicate_of"], "reason": d.reason}
            for d in found.dropped[:5]
        ],
    }
    if ctx.label_field:
        report["labels"] = label_counts(rows, ctx.label_field)
        report["labels_missing"] = missing_labels(rows, ctx.label_field)
    if pii and importlib.util.find_spec("presidio_analyzer") is not None:
        report["pii"] = pii_counts(rows, ctx)
    report["checks"] = checks.run({"all": rows}, ChecksConfig(), ctx).card["checks"]
    return report


def pii_counts(rows: list[dict], ctx: CurationContext) -> dict:
    """Entities found per type, with the pattern recognizers and the offline name gazetteer."""
    from tunesmith.data.curate.pii import Anonymizer
    from tunesmith.data.curate.rows import collect_texts, content_fields

    anonymizer = Anonymizer(PiiConfig(person_names="gazetteer"), ctx.seed)
    texts = collect_texts(rows, content_fields(ctx))
    anonymizer.texts(texts)
    return {
        "counts": dict(anonymizer.counts.most_common()),
        "person_names": anonymizer.detector.person_names,
    }
