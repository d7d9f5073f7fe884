"""clean: mojibake, control characters, whitespace, markup, empty fields, length, language."""

from __future__ import annotations

from curation_data import config, context

from tunesmith.data.curate import pre_split


def _one(prompt: str, **clean) -> dict | None:
    rows = [{"id": "a", "prompt": prompt, "response": "r"}]
    kept, _ = pre_split(rows, config(clean=clean), context())
    return kept[0] if kept else None


def test_mojibake_is_repaired():
    assert _one("The cafÃ© served crÃ¨me brÃ»lÃ©e")["prompt"] == "The café served crème brûlée"
    assert _one("Donâ€™t panic")["prompt"] == "Don\u2019t panic"


def test_control_and_zero_width_characters_removed_newlines_kept():
    row = _one("bell\x07 null\x00 zero\u200bwidth\r\nnext\u2028line\tend\x1b")
    assert row["prompt"] == "bell null zerowidth\nnext\nline\tend"


def test_whitespace_collapsed():
    assert _one("  a   b \n\n\n\n  c  ")["prompt"] == "a b\n\nc"


def test_markup_stripped_only_when_asked():
    html = "<p>Fish &amp; <b>chips</b></p><!-- note -->"
    assert _one(html, strip_markup=True)["prompt"] == "Fish & chips"
    assert _one(html)["prompt"] == html


def test_empty_fields_dropped_or_filled():
    rows = [
        {"id": "a", "prompt": "  \u200b ", "response": "r"},
        {"id": "b", "prompt": "text", "response": ""},
        {"id": "c", "prompt": "text", "response": "fine"},
    ]
    kept, funnel = pre_split(rows, config(clean={}), context())
    assert [r["id"] for r in kept] == ["c"]
    assert funnel[-1]["dropped"] == {"empty_prompt": 1, "empty_response": 1}
    kept, _ = pre_split(rows, config(clean={"fill": {"response": "n/a"}}), context())
    assert [(r["id"], r["response"]) for r in kept] == [("b", "n/a"), ("c", "fine")]


class WordPieces:
    """A fake tokenizer: every 3 characters are one token."""

    def __call__(self, texts, add_special_tokens=False):
        return {"input_ids": [list(range(0, len(t), 3)) for t in texts]}


def test_length_bounds_in_tokens_of_the_tokenizer():
    rows = [{"id": str(n), "prompt": "x" * n, "response": "yy"} for n in (4, 30, 300)]
    ctx = context(load_tokenizer=WordPieces)
    kept, funnel = pre_split(rows, config(clean={"min_tokens": 5, "max_tokens": 50}), ctx)
    assert [r["id"] for r in kept] == ["30"]
    assert funnel[-1]["dropped"] == {"too_short": 1, "too_long": 1}
    assert funnel[-1]["stats"]["length_unit"] == "tokens"
    assert {e["id"]: e["tokens"] for e in ctx.log} == {"4": 3, "300": 101}


def test_language_filter():
    rows = [
        {
            "id": "en",
            "prompt": "This sentence is plainly written in the English language.",
            "response": "r",
        },
        {
            "id": "de",
            "prompt": "Dieser Satz ist ganz eindeutig in deutscher Sprache geschrieben.",
            "response": "r",
        },
    ]
    kept, funnel = pre_split(rows, config(clean={"language": "en"}), context())
    assert [r["id"] for r in kept] == ["en"] and funnel[-1]["dropped"] == {"language": 1}


def test_indentation_and_tabs_stay_and_a_shared_margin_goes():
    code = "def f(x):\n    if x:\n        return   1  \n\tpass"
    assert _one(code)["prompt"] == "def f(x):\n    if x:\n        return 1\n\tpass"
    assert _one("TSV:\ta\tb")["prompt"] == "TSV:\ta\tb"
    # a margin every line shares is layout, not structure; the relative indentation stays
    assert _one("    for x in y:\n        go(x)\n")["prompt"] == "for x in y:\n    go(x)"


def test_cjk_full_width_punctuation_stays():
    assert _one("你好，世界！（星期一）")["prompt"] == "你好，世界！（星期一）"


def test_html_entities_decoded_only_with_strip_markup_on_every_row_alike():
    assert _one("caf\u00e9 &lt;i&gt;")["prompt"] == "caf\u00e9 &lt;i&gt;"
    assert _one("cafe &lt;i&gt;")["prompt"] == "cafe &lt;i&gt;"
    assert _one("caf\u00e9 &lt;i&gt;", strip_markup=True)["prompt"] == "caf\u00e9 <i>"


def test_ascii_and_non_ascii_rows_are_repaired_alike():
    # a terminal colour escape: removed whole, not left as "[31m" on an ASCII-only row
    assert _one("a\x1b[31mred")["prompt"] == "ared"
    assert _one("\u00e9\x1b[31mred")["prompt"] == "\u00e9red"


def test_zero_width_joiner_and_non_joiner_stay():
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # می‌خواهم
    family = "\U0001f469\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
    assert _one(persian)["prompt"] == persian
    assert _one(family)["prompt"] == family
    assert _one("zero\u200bwidth\u200e\ufeff")["prompt"] == "zerowidth"


def _chat(*turns: str) -> list[dict]:
    return [{"role": ("user", "assistant")[i % 2], "content": t} for i, t in enumerate(turns)]


def test_clean_keeps_every_chat_the_data_stage_reads_blank_earlier_turns_included():
    from tunesmith.config.loader import recipe_from_dict
    from tunesmith.data.examples import to_examples

    conversations = [
        _chat("q1", "", "q2", "a2"),  # a skipped reply earlier on: context, not a target
        _chat("", "a greeting"),  # a blank user turn
        _chat("q", "a"),
    ]
    records = [{"messages": m, "_line": i + 1} for i, m in enumerate(conversations)]
    chat = recipe_from_dict({"task": "chat", "data": {"train": "/t.jsonl"}})
    read = to_examples(chat, "t", records, "train")
    kept, funnel = pre_split(read, config(clean={}), context(fields=["messages"]))
    assert [r["messages"] for r in kept] == conversations
    assert funnel[-1]["dropped"] == {}


def test_clean_drops_a_chat_whose_final_answer_it_blanked_and_says_why():
    rows = [
        {"id": "markup", "messages": _chat("q1", "a1", "q2", "<br/>")},
        {"id": "unanswered", "messages": _chat("a question nobody answered")},
        {"id": "fine", "messages": _chat("q", "", "q", "<b>a</b>")},
    ]
    ctx = context(fields=["messages"])
    kept, funnel = pre_split(rows, config(clean={"strip_markup": True}), ctx)
    assert [r["id"] for r in kept] == ["fine"]
    assert kept[0]["messages"][1:] == [
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a"},
    ]
    assert funnel[-1]["dropped"] == {"empty_answer": 1, "no_answer": 1}
    assert [(e["id"], e["reason"]) for e in ctx.log] == [
        ("markup", "empty_answer"),
        ("unanswered", "no_answer"),
    ]


def test_latin_ligatures_become_the_letters_they_draw():
    """Typographic ligatures (PDF extraction) are written as their letters, so training text
    has one spelling of "find" and "flow"; letters of their own (æ, œ, ß) stay."""
    assert _one("ﬁnd the ﬂow: eﬀect, oﬃce, baﬄe, ﬆop")["prompt"] == (
        "find the flow: effect, office, baffle, stop"
    )
    assert _one("Ĳsselmeer, Ǆep")["prompt"] == "IJsselmeer, DŽep"
    assert _one("Æsir, cœur, Straße")["prompt"] == "Æsir, cœur, Straße"
    assert _one("ﬁnd", fix_unicode=False)["prompt"] == "ﬁnd"  # only the Unicode repair does it
