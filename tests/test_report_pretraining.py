"""The report's pre-training section shows what pretrain/metrics.json records about the corpus:
the funnel, the held-out leakage check and the replay rows, escaped."""

from __future__ import annotations

import pytest

from tunesmith.artifacts import RunDir, write_json
from tunesmith.config.loader import recipe_from_dict

SCRIPT = "<script>alert(1)</script>"


def _metrics() -> dict:
    """pretrain/metrics.json as the stage writes it with dedup.leakage: drop and replay."""
    return {
        "domain_perplexity": {"base": 900.0, "pretrained": 700.0},
        "steps": 4,
        "method": "lora",
        "stopped_early": False,
        "tokens_per_second": 1000.0,
        "replay_examples": 800,
        "files": 48,
        "skipped_not_utf8": [],
        "documents": 44,
        "tokens": 1047,
        "block_size": 32,
        "train_blocks": 32,
        "held_out_blocks": 1,
        "funnel": [
            {"step": "load", "rows_in": 48, "rows_out": 48, "dropped": {}},
            {"step": "dedup", "rows_in": 48, "rows_out": 46, "dropped": {"dedup_exact": 2}},
            {
                "step": "leakage",
                "rows_in": 46,
                "rows_out": 42,
                "dropped": {"leakage_exact": 4},
                "examples": {"leakage_exact": [{"id": "doc43", "text": f"copied {SCRIPT}"}]},
            },
        ],
        "leakage": {
            "checked": True,
            "action": "drop",
            "found": {"held_out": {"exact": 4, "near": 0, "rows": 5}},
            "leaking_rows": 4,
            "dropped": 4,
            "clean_after": True,
        },
    }


@pytest.fixture
def page(tmp_path) -> str:
    from tunesmith.report.html import run

    recipe = recipe_from_dict(
        {
            "task": "summarization",
            "data": {"train": "x.jsonl", "input_field": "a", "output_field": "b"},
            "pretrain": {"corpus": "c.txt"},
        }
    )
    run_dir = RunDir(tmp_path / "run")
    write_json(run_dir.stage("pretrain") / "metrics.json", _metrics())
    return run(recipe, run_dir).read_text(encoding="utf-8")


def _section(page: str) -> str:
    start = page.index("Domain pre-training: what it bought")
    return page[start : page.index("<h2>", start)]


def test_the_funnel_shows_documents_kept_and_dropped_by_reason(page):
    section = _section(page)
    assert "Corpus funnel (documents)" in section
    assert "<td>dedup</td><td>48</td><td>46</td>" in section
    assert "<td>leakage</td><td>46</td><td>42</td>" in section
    assert "dedup_exact: 2" in section and "leakage_exact: 4" in section


def test_the_leakage_check_counts_held_out_copies_of_trained_documents(page):
    section = _section(page)
    assert "held-out documents vs the documents trained on" in section
    assert "<td>held_out</td><td>5</td><td>4</td><td>0</td></tr>" in section
    assert "action: drop; dropped 4; <b>no leakage remains</b>" in section
    assert "exact in test" not in section  # held-out documents are compared with training only


def test_replay_rows_are_shown(page):
    assert "replay: 800 general-data rows" in _section(page)


def test_document_text_is_escaped(page):
    assert "<script" not in page.lower()
    assert "copied &lt;script&gt;" in _section(page)
