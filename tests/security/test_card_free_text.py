"""Free text of a recipe that reaches a model card's prose (export.license, the stop
strings) stays text: no heading, HTML or code span of its own."""

from __future__ import annotations

import pytest

from tunesmith.export.card import render_card

pytest.importorskip("markdown_it")
from markdown_it import MarkdownIt  # noqa: E402

HOSTILE = "MIT\n\n# Injected\n<script>alert(1)</script>\n---\nlicense: evil"
STOP = ["`<img src=x onerror=alert(1)>`", "\n"]
RECORD = {"artefacts": {}, "tuned": {"bytes_fp32": 400, "tokens_per_second": 10.0}}
MERGED = {"path": "merged", "description": "merged folder", "bytes": 100, "tokens_per_second": 9}
COMPARE = {"sample_size": 8, "rows": {}, "comparisons": [], "stop": STOP}


@pytest.fixture
def recipe(tmp_path, tiny_model_dir):
    from export_helpers import small_recipe

    return small_recipe(tmp_path, tiny_model_dir)


def test_licence_and_stop_strings_stay_text_in_the_card(recipe):
    card = render_card(recipe, "merged", MERGED, {**RECORD, "license": HOSTILE}, COMPARE, None)
    body = card.split("---\n", 2)[2]
    tokens = MarkdownIt("commonmark").parse(body)
    inline = [child for t in tokens if t.children for child in t.children]
    assert not [t for t in [*tokens, *inline] if t.type.startswith("html")]
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert "Injected" not in headings
    spans = [t.content for t in inline if t.type == "code_inline"]
    assert repr(STOP) in spans  # the stop strings are one code span, shown as written
    assert "- licence: MIT # Injected <script>alert(1)</script> --- license: evil" in body.replace(
        "&lt;", "<"
    ).replace("&gt;", ">")
