"""HTML payloads in every text field of a run never reach report.html unescaped."""

from __future__ import annotations

import json
import re

import pytest

from tunesmith.artifacts import RunDir, write_json, write_jsonl
from tunesmith.config.loader import recipe_from_dict

SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'
PAYLOAD = f"{SCRIPT}{IMG}"


def _run_folder(tmp_path) -> tuple:
    recipe = recipe_from_dict(
        {
            "task": "classification",
            "model": f"./{IMG}.gguf",
            "data": {
                "train": f"/data/{SCRIPT}.jsonl",
                "input_field": "text",
                "output_field": "label",
                "system_prompt": PAYLOAD,
            },
            "training": {"lora": {"target_modules": [PAYLOAD]}},
        }
    )
    run_dir = RunDir(tmp_path / "run")
    text = f"see vector<int> and <EMAIL_ADDRESS> {PAYLOAD}"
    write_json(
        run_dir.stage("data") / "data_card.json",
        {
            "sizes": {"train": 3, PAYLOAD: 1},
            "warnings": [PAYLOAD],
            "funnel": [
                {
                    "step": PAYLOAD,
                    "rows_in": 2,
                    "rows_out": 1,
                    "dropped": {PAYLOAD: 1},
                    "examples": {PAYLOAD: [{"prompt": text}]},
                }
            ],
            "labels": {"train": {PAYLOAD: 2, "ok": 1}},
            "label_distribution": {
                "method": PAYLOAD,
                "target_ratio": 1,
                "ratio_before": 2,
                "ratio_after": 1,
                "before": {PAYLOAD: 2},
                "after": {PAYLOAD: 1},
                "unlabelled": PAYLOAD,
            },
            "class_weights": {PAYLOAD: 1.0},
            "pii": {"mode": PAYLOAD, "counts": {PAYLOAD: 1}, "note": PAYLOAD},
            "leakage": {"checked": False, "reason": PAYLOAD},
            "checks": {
                "quality": {"mean_score": 1, "flagged": {PAYLOAD: 1}, "action": PAYLOAD},
                "poisoning": {
                    "action": PAYLOAD,
                    "suspects": [
                        {
                            "ngram": PAYLOAD,
                            "rows": 1,
                            "output": PAYLOAD,
                            "purity": 1,
                            "p_value": 0.1,
                        }
                    ],
                },
            },
            "augment": {"added": {PAYLOAD: 1}, "skipped": {PAYLOAD: PAYLOAD}},
        },
    )
    write_jsonl(run_dir.stage("train") / "metrics.jsonl", [{"step": 1, "loss": 1.0}])
    write_json(run_dir.train / "summary.json", {"steps": 1, "device": PAYLOAD})
    prediction = {"id": "t-1", "prompt": text, "reference": text}
    write_jsonl(
        run_dir.stage("evaluate") / "predictions" / "test.base.jsonl",
        [{**prediction, "prediction": PAYLOAD}],
    )
    write_jsonl(
        run_dir.eval / "predictions" / "test.tuned.jsonl",
        [{**prediction, "prediction": f"vector<int> {PAYLOAD}"}],
    )
    row = {"base": 0.5, "tuned": 0.6, "delta": 0.1, "relative": 0.2, "better": True}
    write_json(run_dir.eval / "compare.json", {"sample_size": 1, "metrics": {PAYLOAD: row}})
    run_dir.update_stage(PAYLOAD, status=PAYLOAD, seconds=1)
    return recipe, run_dir


@pytest.fixture
def page(tmp_path) -> str:
    from tunesmith.report.html import run

    recipe, run_dir = _run_folder(tmp_path)
    return run(recipe, run_dir).read_text(encoding="utf-8")


def test_no_payload_survives_unescaped(page):
    assert "<script" not in page.lower()
    assert not re.search(r"<img\b", page, re.IGNORECASE)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown as text, not dropped


def test_angle_bracket_text_shows_as_text(page):
    assert "vector&lt;int&gt;" in page
    assert "&lt;EMAIL_ADDRESS&gt;" in page


def test_small_sample_warning_and_direction_in_report(page):
    assert "only 1 test examples" in page
    assert "higher is better" in page


def test_data_card_fragment_escapes_warnings():
    from tunesmith.report.data_card import render_data_card

    html = render_data_card({"warnings": [PAYLOAD], "sizes": {"train": 1}})
    assert "<script" not in html and "&lt;script&gt;" in html
    assert json.dumps(PAYLOAD)  # the payload itself is plain text


def test_every_page_environment_escapes_and_shows_a_missing_number_as_a_dash():
    """Run files write NaN/inf as null (strict JSON): a page must show it, not crash on
    `"%.4f"|format(None)`; and every environment autoescapes untrusted text."""
    from tunesmith.report.templating import html_templates

    for folder in ("report", "tune", "group", "ui/templates"):
        env = html_templates(folder)
        page = env.from_string(
            '{{ "%.4f"|format(v) }} [{{ "%+.4f"|format(lo) }}, {{ "%+.4f"|format(hi) }}] {{ t }}'
        ).render(v=0.25, lo=None, hi=0.5, t=SCRIPT)
        assert page == "0.2500 [–, +0.5000] &lt;script&gt;alert(1)&lt;/script&gt;"
