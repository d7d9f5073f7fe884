"""Class weights from the balance step reach the training loss."""

from __future__ import annotations

import json

import pytest


def test_weighted_nll_is_the_weighted_sum_of_row_losses(tiny_model_dir):
    import torch
    from transformers import AutoModelForCausalLM

    from tunesmith.models.formatting import Encoded
    from tunesmith.models.nll import collate, supervised_nll

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    a = Encoded([5, 6, 7, 8, 9], [-100, -100, 7, 8, 9])
    b = Encoded([9, 8, 7, 6], [-100, 8, 7, 6])
    with torch.no_grad():
        row_a, _ = supervised_nll(model, collate([a], 2))
        row_b, _ = supervised_nll(model, collate([b], 2))
        a.weight = 3.0
        both, count = supervised_nll(model, collate([a, b], 2))
    assert int(count) == 6
    assert float(both) == pytest.approx(3 * float(row_a) + float(row_b), rel=1e-5)


def test_train_stage_applies_the_data_stage_class_weights(tmp_path, tiny_model_dir):
    from transformers import AutoTokenizer

    from tunesmith.artifacts import RunDir, write_json, write_jsonl
    from tunesmith.train.encoded import encode_rows, read_class_weights, read_rows

    run_dir = RunDir(tmp_path)
    rows = [
        {"id": "1", "prompt": "p", "response": "a", "label": "a"},
        {"id": "2", "prompt": "q", "response": "b", "label": "b"},
    ]
    write_jsonl(run_dir.data / "train.jsonl", rows)
    write_json(run_dir.data / "class_weights.json", {"a": 0.5, "b": 2.0})
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    items = encode_rows(
        read_rows(run_dir.data / "train.jsonl"), tokenizer, 64, read_class_weights(run_dir.data)
    )
    assert [item.weight for item in items] == [0.5, 2.0]
    assert json.loads((run_dir.data / "class_weights.json").read_text())["b"] == 2.0
