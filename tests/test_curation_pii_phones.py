"""pii phone numbers: real ones are masked (with or without context words), ids are not."""

from __future__ import annotations

import pytest
from curation_data import config, context
from pii_phone_cases import IDS, PHONES, WORDNET_ROWS

from tunesmith.config.curation import PiiConfig
from tunesmith.data.curate import pre_split
from tunesmith.data.curate.inspect_file import pii_counts
from tunesmith.data.curate.pii import Anonymizer


@pytest.fixture(scope="module")
def phones_only():
    return Anonymizer(PiiConfig(mode="mask", entities=["PHONE_NUMBER"]), seed=0)


def _masked(sentence: str) -> str:
    masked = sentence
    for text, phone in PHONES:
        if text == sentence:
            masked = masked.replace(phone, "<PHONE_NUMBER>")
    return masked


def test_real_phone_numbers_are_masked_with_and_without_context(phones_only):
    sentences = list(dict.fromkeys(text for text, _ in PHONES))
    assert phones_only.texts(sentences) == [_masked(s) for s in sentences]
    assert phones_only.counts["PHONE_NUMBER"] >= len(PHONES)


def test_presidio_alone_calls_every_id_a_phone_number():
    """The cases are real false positives of the recognizer this step builds on."""
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    found = [PhoneRecognizer().analyze(text, ["PHONE_NUMBER"]) for text in IDS]
    assert [bool(f) for f in found] == [True] * len(IDS)


def test_ids_years_isbns_and_addresses_are_no_phone_numbers():
    anonymizer = Anonymizer(PiiConfig(mode="mask", entities=["PHONE_NUMBER"]), seed=0)
    assert anonymizer.texts(IDS) == IDS
    assert anonymizer.counts["PHONE_NUMBER"] == 0


def test_wordnet_synset_ids_and_years_survive_the_pii_step():
    rows = [{"id": f"w{i}", **row} for i, row in enumerate(WORDNET_ROWS)]
    fields = ["synset", "words", "definition", "examples"]
    ctx = context(fields=fields)
    kept, _ = pre_split(rows, config(pii={"mode": "mask"}), ctx)
    assert [r["synset"] for r in kept] == [r["synset"] for r in rows]
    assert [r["definition"] for r in kept] == [r["definition"] for r in rows]
    assert [r["examples"] for r in kept] == [r["examples"] for r in rows]
    assert ctx.card["pii"]["counts"]["PHONE_NUMBER"] == 0
    assert "PHONE_NUMBER" not in pii_counts(rows, context(fields=fields))["counts"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("02190015-n", "glued"),  # a letter behind a joiner
        ("SES-0518772", "glued"),
        ("doi:10.1214/aos/1176347963", "glued"),
        ("S1473-3099(09)70069-6", "glued"),  # a digit right before
        ("in 1640", "short"),
        ("server 192.168.19.72", "number"),
        ("Pi is 3.143589568", "number"),
        ("Ireland (1688-1689)", "number"),
        ("flourished 3000-1100 BC", "number"),
        ("telnet 127.0.0.1 8081", "number"),
        ("1 2 3 4 5 6 7 8 9 10", "number"),
        ("print(cos(0.5+0j)) (0.87758256189+0j)", "number"),
        ("'2019-05-18T15:17:08.132263'", "glued"),  # a colon between digits
        ("tel:+14155550132", ""),  # a colon after a word
        ("print_time 1652342840.369612", "glued"),  # a dot joins even between matches
        ("ISBN 0-201-63361-2", "check digit"),
        ("ISBN:0850860369", "id word"),
        ("call 0176 12345678", ""),
        ("call 030.12345678", ""),  # a leading zero: no decimal
        ("Fax 0176 1234567/0176 7654321", ""),  # a joiner between two numbers
        ("created 1700000000 by", "timestamp"),  # ten bare digits, 2001-2033: a Unix time
        ("mtime 1652342840", "timestamp"),
        ('{"time": 1700000000}', "timestamp"),
        ('"updated_at": 2125550187', "timestamp"),  # a time key names any bare number
        ("at 1699999999.123 the", "number"),  # a decimal
        ("call 1132345678", ""),  # a phone word before it: a number without its 0
        ("the number is 1700000000", ""),
        ("ring 2125550187", ""),  # no North American number starts with 1: not a time
        ("+551132345678", ""),  # a +: written as a phone number
    ],
)
def test_not_a_phone_says_why(text, reason):
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    from tunesmith.data.curate.pii_phone import _edges, not_a_phone

    found = PhoneRecognizer().analyze(text, ["PHONE_NUMBER"])
    assert found, text
    assert [not_a_phone(text, r.start, r.end, _edges(found, r)) for r in found] == [reason] * len(
        found
    )


def test_a_threshold_above_presidios_phone_score_keeps_numbers_said_to_be_phones():
    # Presidio scores every phone match 0.4; without spaCy NER its context words did nothing,
    # so score_threshold 0.5 found no phone number at all
    strict = Anonymizer(
        PiiConfig(mode="mask", entities=["PHONE_NUMBER"], score_threshold=0.5), seed=0
    )
    texts = ["My phone number is (555) 123-4567.", "Call +44 20 7946 0958 today", "555-123-4567"]
    assert strict.texts(texts) == [
        "My phone number is <PHONE_NUMBER>.",
        "Call <PHONE_NUMBER> today",
        "555-123-4567",  # no context word: 0.4, below the user's threshold
    ]


def test_a_threshold_no_match_of_a_requested_entity_can_reach_is_refused():
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as caught:
        PiiConfig(entities=["EMAIL_ADDRESS", "PHONE_NUMBER", "URL"], score_threshold=0.8)
    assert (
        "0.8 is above the highest score of PHONE_NUMBER (0.75), URL (0.6): they would never be "
        "anonymised; lower it, or leave them out of pii.entities"
    ) in str(caught.value)
    assert PiiConfig(entities=["EMAIL_ADDRESS"], score_threshold=0.8).score_threshold == 0.8
    assert PiiConfig(entities=["PHONE_NUMBER"], score_threshold=0.75).score_threshold == 0.75


def test_top_scores_are_what_the_built_analyzer_gives():
    """config/curation.py's TOP_SCORES (read at validate time, without Presidio) are measured."""
    from tunesmith.config.curation import TOP_SCORES
    from tunesmith.data.curate.pii_engine import analyze, build_detector

    texts = [
        "mail jane.doe@example.com",
        "my phone number is 555-123-4567",
        "card 4111 1111 1111 1111",
        "iban DE89 3704 0044 0532 0130 00",
        "host 192.168.1.20",
        "see https://example.com/a",
        "Paul Graham and Dr. Okonkwo",
    ]
    detector = build_detector(PiiConfig(score_threshold=0.0))
    top: dict[str, float] = {}
    for results in analyze(detector, texts, 0.0):
        for r in results:
            top[r.entity_type] = max(top.get(r.entity_type, 0.0), r.score)
    assert top == TOP_SCORES


def test_ner_top_scores_follow_presidios_constants():
    """With spaCy NER: the measured patterns' tops plus the context enhancer's raise, and
    spaCy's PERSON strength (no NER model is installed here to measure them)."""
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer, SpacyRecognizer

    from tunesmith.config.curation import NER_TOP_SCORES, TOP_SCORES
    from tunesmith.data.curate.pii_phone import ENHANCER, TOP_SCORE

    boost = ENHANCER.context_similarity_factor
    for entity in ("IP_ADDRESS", "URL"):
        assert NER_TOP_SCORES[entity] == pytest.approx(TOP_SCORES[entity] + boost)
    assert NER_TOP_SCORES["PHONE_NUMBER"] == TOP_SCORE == PhoneRecognizer.SCORE + boost
    assert NER_TOP_SCORES["PERSON"] == SpacyRecognizer().ner_strength
