"""pii: e-mails, phones and friends leave the text, and the card's counts match what was removed."""

from __future__ import annotations

import re

import pytest
from curation_data import config, context

from tunesmith.data.curate import pre_split
from tunesmith.data.curate.pii_names import find_names

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
PHONE = re.compile(r"\+?\d[\d ().-]{7,}\d")


def _mails(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        body = (
            f"Hello,\nplease write to user{i}.name@mail-host{i % 7}.com or call "
            f"+1 415-555-{1000 + i:04d}.\nRegards"
        )
        if i % 5 == 0:
            body += f"\ncc: helpdesk{i}@example.org, server 10.1.{i % 250}.9"
        rows.append({"id": f"m{i}", "prompt": body, "response": f"reply {i}"})
    return rows


@pytest.fixture(scope="module")
def masked():
    rows = _mails(60)
    ctx = context()
    kept, funnel = pre_split(rows, config(pii={"mode": "mask", "person_names": "gazetteer"}), ctx)
    return rows, kept, funnel, ctx


def test_no_email_or_phone_left_and_counts_match(masked):
    rows, kept, funnel, ctx = masked
    text = "\n".join(r["prompt"] for r in kept)
    assert not EMAIL.search(text) and not PHONE.search(text)
    counts = ctx.card["pii"]["counts"]
    assert counts["EMAIL_ADDRESS"] == 60 + 12 == text.count("<EMAIL_ADDRESS>")
    assert counts["PHONE_NUMBER"] == 60 == text.count("<PHONE_NUMBER>")
    assert counts["IP_ADDRESS"] == 12 == text.count("<IP_ADDRESS>")
    assert funnel[-1]["stats"]["counts"]["EMAIL_ADDRESS"] == 72
    assert [r["response"] for r in kept] == [r["response"] for r in rows]  # untouched


def test_card_says_what_is_offline_and_how_names_are_found(masked):
    card = masked[3].card["pii"]
    assert card["person_names"] == "gazetteer"
    assert "PERSON" not in card["offline_pattern_recognizers"]
    assert set(card["offline_pattern_recognizers"]) >= {"EMAIL_ADDRESS", "PHONE_NUMBER", "URL"}


def test_hash_mode_is_salted_and_consistent(monkeypatch):
    monkeypatch.setenv("TUNESMITH_PII_SALT", "pepper")
    rows = [
        {"id": "a", "prompt": "mail bob@example.com", "response": "x"},
        {"id": "b", "prompt": "again bob@example.com and eve@example.com", "response": "y"},
    ]
    cfg = config(pii={"mode": "hash", "entities": ["EMAIL_ADDRESS"]})
    kept, _ = pre_split(rows, cfg, context())
    first = re.findall(r"<EMAIL_ADDRESS_[0-9a-f]{10}>", kept[0]["prompt"])
    second = re.findall(r"<EMAIL_ADDRESS_[0-9a-f]{10}>", kept[1]["prompt"])
    assert first[0] == second[0] != second[1]
    monkeypatch.setenv("TUNESMITH_PII_SALT", "salt")
    other, _ = pre_split(rows, cfg, context())
    assert other[0]["prompt"] != kept[0]["prompt"]


def test_replace_mode_uses_consistent_realistic_fakes():
    rows = [
        {"id": "a", "prompt": "write to bob@corp.com", "response": "x"},
        {"id": "b", "prompt": "bob@corp.com again", "response": "y"},
    ]
    kept, _ = pre_split(
        rows, config(pii={"mode": "replace", "entities": ["EMAIL_ADDRESS"]}), context()
    )
    fake = EMAIL.search(kept[0]["prompt"]).group(0)
    assert fake != "bob@corp.com" and fake in kept[1]["prompt"]


def test_chat_messages_are_anonymised():
    rows = [
        {
            "id": "c",
            "messages": [
                {"role": "user", "content": "I am at ann@site.org"},
                {"role": "assistant", "content": "Noted, ann@site.org."},
            ],
        }
    ]
    kept, _ = pre_split(
        rows, config(pii={"entities": ["EMAIL_ADDRESS"]}), context(fields=["messages"])
    )
    assert [m["content"] for m in kept[0]["messages"]] == [
        "I am at <EMAIL_ADDRESS>",
        "Noted, <EMAIL_ADDRESS>.",
    ]


def test_gazetteer_finds_names_without_a_model():
    text = "Written by Paul Graham and Dr. Okonkwo; see the Georgia Tech notes."
    found = {text[s:e]: score for s, e, score in find_names(text) if score >= 0.35}
    assert found == {"Paul Graham": 0.7, "Dr. Okonkwo": 0.6}


def test_dropped_rows_reach_card_and_log_anonymised():
    rows = [
        {"id": "a", "prompt": "contact zed@mail.com now", "response": "x"},
        {"id": "b", "prompt": "contact zed@mail.com now", "response": "x"},
    ]
    ctx = context()
    _, funnel = pre_split(rows, config(dedup={}, pii={"entities": ["EMAIL_ADDRESS"]}), ctx)
    assert "zed@mail.com" not in repr(funnel) and "zed@mail.com" not in repr(ctx.log)
    assert "<EMAIL_ADDRESS>" in repr(ctx.log)


def test_person_names_with_ner_model_when_installed():
    import importlib.util

    from tunesmith.data.curate.pii_engine import NER_MODELS

    if not any(importlib.util.find_spec(m) for m in NER_MODELS):
        pytest.skip("no spaCy English model installed (optional; see docs/curation.md)")
    rows = [
        {
            "id": "n",
            "prompt": "Yesterday Angela Merkel met Barack Obama in Berlin.",
            "response": "x",
        }
    ]
    ctx = context()
    kept, _ = pre_split(rows, config(pii={"person_names": "ner"}), ctx)
    assert ctx.card["pii"]["person_names"].startswith("ner:")
    assert "Merkel" not in kept[0]["prompt"] and "Obama" not in kept[0]["prompt"]
    assert ctx.card["pii"]["counts"]["PERSON"] == 2


@pytest.mark.parametrize(
    "text",
    [
        "On Tue, dmcmann@b... wrote:",
        "forteana@y... writes",
        "From: john.doe@yahoogroups.c... (John)",
        "cc bob-smith@mail…",
    ],
)
def test_archive_truncated_addresses_are_masked(text):
    """Mailing-list archives cut the domain ('dmcmann@b...'); the user part must go too."""
    rows = [{"id": "m0", "prompt": text, "response": "r"}]
    kept, _ = pre_split(rows, config(pii={"mode": "mask", "person_names": "gazetteer"}), context())
    masked = kept[0]["prompt"]
    assert "<EMAIL_ADDRESS>" in masked
    assert "@" not in masked and text.split("@")[0].split()[-1] not in masked
