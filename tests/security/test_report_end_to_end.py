"""A whole run on data full of HTML: the written report shows it as text (tiny model)."""

from __future__ import annotations

import re

from conftest import make_records, write_jsonl

from tunesmith.artifacts import RunDir, read_jsonl
from tunesmith.config import load_recipe
from tunesmith.pipeline import run_pipeline

PAYLOAD = '<script>alert(1)</script><img src=x onerror="alert(2)"> vector<int> <EMAIL_ADDRESS>'


def test_payloads_in_train_and_test_data_stay_text(tmp_path, tiny_recipe):
    rows = make_records(40)
    for row in rows:
        row["description"] = f"{row['description']} {PAYLOAD}"
        row["synopsis"] = f"{row['synopsis']} {PAYLOAD}"
    recipe_path = tiny_recipe(
        **{"training.max_steps": 2, "data.split": {"validation": 4, "test": 4}}
    )
    write_jsonl(tmp_path / "data.jsonl", rows)
    run_dir = RunDir(tmp_path / "run")
    run_pipeline(load_recipe(recipe_path), run_dir)
    page = (run_dir.report / "report.html").read_text(encoding="utf-8")
    tuned = read_jsonl(run_dir.eval / "predictions" / "test.tuned.jsonl")
    assert tuned and all(r["prompt"].count("<script>") == 1 for r in tuned)  # data kept as is
    assert "<script" not in page.lower() and not re.search(r"<img\b", page, re.IGNORECASE)
    assert "vector&lt;int&gt;" in page and "&lt;EMAIL_ADDRESS&gt;" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
