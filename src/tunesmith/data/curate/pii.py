"""pii: detect personal data with Microsoft Presidio and anonymise it (mask, fake, or hash)."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections import Counter

from tunesmith.config.curation import PiiConfig
from tunesmith.data.curate.base import Splits, StepOutput, register_step
from tunesmith.data.curate.pii_engine import analyze, build_detector
from tunesmith.data.curate.rows import collect_texts, content_fields, replace_texts

OFFLINE = ["EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "URL"]
FAKES = {
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone_number",
    "CREDIT_CARD": "credit_card_number",
    "IBAN_CODE": "iban",
    "IP_ADDRESS": "ipv4",
    "URL": "url",
    "PERSON": "name",
}


class Anonymizer:
    """Presidio analyzer + anonymizer with tunesmith's three modes; counts what it replaced."""

    def __init__(self, config: PiiConfig, seed: int) -> None:
        from presidio_anonymizer import AnonymizerEngine

        self.config = config
        self.detector = build_detector(config)
        self.engine = AnonymizerEngine()
        self.salt = os.environ.get(config.salt_env) or secrets.token_hex(16)
        self.seed = seed
        self.counts: Counter = Counter()
        self._faker = None

    def texts(self, texts: list[str]) -> list[str]:
        """Anonymised copies of `texts` (counting replaced spans per entity type)."""
        results = analyze(self.detector, texts, self.config.score_threshold)
        out = []
        for text, found in zip(texts, results, strict=True):
            found = prefer_patterns(found)
            if not found:
                out.append(text)
                continue
            done = self.engine.anonymize(text, found, operators=self._operators())
            self.counts.update(item.entity_type for item in done.items)
            out.append(done.text)
        return out

    def _operators(self) -> dict:
        from presidio_anonymizer.entities import OperatorConfig

        ops = {}
        for entity in self.config.entities:
            if self.config.mode == "mask":
                ops[entity] = OperatorConfig("replace", {"new_value": f"<{entity}>"})
            else:
                make = self._hash if self.config.mode == "hash" else self._fake
                ops[entity] = OperatorConfig("custom", {"lambda": _bind(make, entity)})
        return ops

    def _hash(self, entity: str, value: str) -> str:
        digest = hashlib.sha256(f"{self.salt}\x00{value}".encode()).hexdigest()[:10]
        return f"<{entity}_{digest}>"

    def _fake(self, entity: str, value: str) -> str:
        """A realistic fake, the same for the same value within a seed (names stay consistent)."""
        if self._faker is None:
            from faker import Faker

            self._faker = Faker("en_US")
        key = hashlib.sha256(f"{self.seed}\x00{entity}\x00{value}".encode()).digest()
        self._faker.seed_instance(int.from_bytes(key[:8], "big"))
        method = "ipv6" if entity == "IP_ADDRESS" and ":" in value else FAKES[entity]
        return str(getattr(self._faker, method)())


def prefer_patterns(results: list) -> list:
    """Drop PERSON spans that overlap a pattern match: an NER span such as "Server 10.0.0.7"
    would otherwise swallow the IP address (still removed, but counted as a name)."""
    patterns = [r for r in results if r.entity_type != "PERSON"]
    return patterns + [
        r
        for r in results
        if r.entity_type == "PERSON"
        and not any(r.start < p.end and p.start < r.end for p in patterns)
    ]


def _bind(make, entity: str):
    return lambda value: make(entity, value)


@register_step("pii", "pre", 30, "Anonymise e-mails, phones, cards, IBANs, IPs, URLs, names")
def run(splits: Splits, config: PiiConfig, ctx) -> StepOutput:
    anonymizer = Anonymizer(config, ctx.seed)
    fields = content_fields(ctx)
    out: Splits = {}
    changed = 0
    for split, rows in splits.items():
        new_rows = replace_texts(rows, fields, anonymizer.texts(collect_texts(rows, fields)))
        changed += sum(new != old for new, old in zip(new_rows, rows, strict=True))
        out[split] = new_rows
    ctx.scrub = lambda text: anonymizer.texts([text])[0]
    counts = dict(anonymizer.counts.most_common())
    card = {"pii": pii_card(config, anonymizer, counts, changed)}
    return StepOutput(out, [], {"counts": counts, "rows_changed": changed}, card)


def pii_card(config: PiiConfig, anonymizer: Anonymizer, counts: dict, changed: int) -> dict:
    person = anonymizer.detector.person_names
    return {
        "mode": config.mode,
        "counts": {e: counts.get(e, 0) for e in config.entities},
        "rows_changed": changed,
        "offline_pattern_recognizers": [e for e in OFFLINE if e in config.entities],
        "person_names": person,
        "needs_ner_model": ["PERSON"] if "PERSON" in config.entities else [],
        "note": (
            "PERSON found by a spaCy NER model"
            if person.startswith("ner:")
            else "PERSON found by the offline name gazetteer (Faker name lists): lower recall "
            "than an NER model"
            if person == "gazetteer"
            else "PERSON not requested"
        ),
    }
