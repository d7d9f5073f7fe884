"""pii speed: recognizers skip texts none of their matches can be in, and outputs stay the same.

The phone recognizer ran phonenumbers' matcher over every text once per region (eight scans),
the IP recognizer its slow IPv6 pattern; a text with fewer than 7 digits (phones) or without a
colon and three dots (IPs) now skips the scan. The fast path is compared with the scan run on
every text: real Debian descriptions (the bundled demo's 2,000 rows), the Python docs corpus
(long, full of digits, colons and addresses) and hand-written phone and address formats.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import phonenumbers
import pytest
from pii_phone_cases import IDS, PHONES

import tunesmith
from tunesmith.config.curation import PiiConfig
from tunesmith.data.curate import pii_engine, pii_phone
from tunesmith.data.curate.pii import Anonymizer

EXAMPLES = Path(tunesmith.__file__).parent / "examples"

# International and odd formats: the regions Presidio checks and others (+ numbers), digits of
# other scripts, extensions, numbers right at and under 7 digits, vanity numbers.
ADVERSARIAL = [
    "+1 415 555 0132",
    "+1-800-555-0199 or 1-800-FLOWERS",
    "+44 7700 900123",
    "+49 (0)30 12345678",
    "+33 6 12 34 56 78",
    "+972-3-123-4567",
    "+91-98765-43210",
    "+55 (11) 91234-5678",
    "+81 3-1234-5678 (Tokyo)",
    "+86 10 1234 5678",
    "+61 2 9876 5432",
    "+7 495 123-45-67",
    "+34 912 345 678",
    "+39 06 1234 5678",
    "+353 1 234 5678",
    "00 44 20 7946 0958",
    "(0)30 1234567",
    "030/1234567",
    "0176-12345678",
    "tel:+14155550132",
    "555.123.4567",
    "5551234567",
    "call 555 1234",
    "call 555 123",
    "12 34 56",
    "+1 234 56",
    "phone: 1 2 3 4 5 6 7",
    "555-123-4567 ext. 89",
    "020 7946 0958 x123",
    "+44 20 7946 0958;ext=12",
    "0176 1234567 anexo 12",
    "030 1234567 доб 12",
    "\uff10\uff11\uff17\uff16 \uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18",  # full-width
    "\u0660\u0661\u0667\u0666\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668",  # Arabic-Indic
    "\u096f\u096e\u096d\u096c\u096b \u096a\u096f\u0968\u0967\u0966",  # Devanagari
    "555\u00b2123\u2074567",  # superscripts: str.isdigit digits
    "call ٠١٧٦ 1234567",
    "::1 and fe80::1%eth0",
    "::ffff:192.168.1.1",
    "2001:db8::ff00:42:8329/64",
    "10.0.0.1/8 or 1.2.3.4:8080",
    "version 1.2.3 of a:b",
    "Server 10.0.0.7, phone 555-123-4567, mail jo@example.com",
    "",
    "no digits at all",
]


def _texts() -> list[str]:
    with gzip.open(EXAMPLES / "debian_synopsis.jsonl.gz", "rt", encoding="utf-8") as handle:
        debian = [json.loads(line)["description"] for line in handle]
    with gzip.open(EXAMPLES / "python_docs_corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        docs = [json.loads(line)["text"] for line in handle]
    return debian + docs + [text for text, _ in PHONES] + IDS + ADVERSARIAL


def _anonymise(texts: list[str]) -> tuple[list[str], dict]:
    anonymizer = Anonymizer(PiiConfig(mode="mask"), seed=0)
    return anonymizer.texts(texts), dict(anonymizer.counts)


def test_the_fast_path_gives_what_scanning_every_text_gives(monkeypatch):
    texts = _texts()
    assert len(texts) > 2000
    fast = _anonymise(texts)
    monkeypatch.setattr(pii_phone, "could_hold_a_phone", lambda text: True)
    monkeypatch.setattr(pii_engine, "could_hold_an_ip", lambda text: True)
    scanned = _anonymise(texts)
    assert fast == scanned
    assert fast[1]["PHONE_NUMBER"] >= len(PHONES) and fast[1]["IP_ADDRESS"] >= 5


@pytest.fixture
def matcher_scans(monkeypatch) -> list[str]:
    """The texts phonenumbers' matcher was started on (one entry per region)."""
    scans: list[str] = []
    real = phonenumbers.PhoneNumberMatcher

    def counting(text, region, **kwargs):
        scans.append(text)
        return real(text, region, **kwargs)

    monkeypatch.setattr(phonenumbers, "PhoneNumberMatcher", counting)
    return scans


def test_a_text_with_fewer_than_7_digits_is_not_scanned_for_phones(matcher_scans):
    anonymizer = Anonymizer(PiiConfig(mode="mask", entities=["PHONE_NUMBER"]), seed=0)
    short = ["call 555 123", "version 1.2, 2024", "12 34 56"]
    assert anonymizer.texts(short) == short
    assert matcher_scans == []
    assert anonymizer.texts(["call 555-123-4567"]) == ["call <PHONE_NUMBER>"]
    assert len(matcher_scans) == 8  # one scan per region Presidio checks


def test_a_text_without_colon_or_three_dots_is_not_scanned_for_ips(monkeypatch):
    from presidio_analyzer.predefined_recognizers import IpRecognizer

    scanned: list[str] = []
    real = IpRecognizer.analyze

    def counting(self, text, *args, **kwargs):
        scanned.append(text)
        return real(self, text, *args, **kwargs)

    monkeypatch.setattr(IpRecognizer, "analyze", counting)
    anonymizer = Anonymizer(PiiConfig(mode="mask", entities=["IP_ADDRESS"]), seed=0)
    assert anonymizer.texts(["version 1.2.3", "no address"]) == ["version 1.2.3", "no address"]
    assert scanned == []
    assert anonymizer.texts(["host 10.0.0.1 and ::1"]) == ["host <IP_ADDRESS> and <IP_ADDRESS>"]
    assert scanned == ["host 10.0.0.1 and ::1"]


@pytest.mark.parametrize(
    ("text", "count"),
    [("", 0), ("abc", 0), ("a1b22c333", 6), ("\uff11\u0662\u096f", 3), ("x\u00b2", 1)],
)
def test_digit_count_counts_what_str_isdigit_counts(text, count):
    assert pii_phone.digit_count(text) == count == sum(c.isdigit() for c in text)
