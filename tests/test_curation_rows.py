"""Reading the text of a curation row: a null value is missing text, never the text "None"."""

from __future__ import annotations

from curation_data import context

from tunesmith.data.curate.rows import collect_texts, output_text, preview, texts_of

SKIPPED_REPLY = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": None}]


def test_a_null_chat_content_reads_as_blank():
    assert texts_of(SKIPPED_REPLY) == ["hi", ""]
    assert collect_texts([{"messages": SKIPPED_REPLY}], ["messages"]) == ["hi"]
    small = preview({"id": "1", "messages": SKIPPED_REPLY}, ["messages"])
    assert small["messages"][1] == {"role": "assistant", "content": ""}
    assert output_text({"messages": SKIPPED_REPLY}, context(fields=["messages"])) == ""


def test_a_null_response_reads_as_blank():
    ctx = context()
    assert output_text({"prompt": "p", "response": None}, ctx) == ""
