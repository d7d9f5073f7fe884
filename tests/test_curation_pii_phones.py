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
