"""A small finished-run recipe for the export and distillation tests (tiny random Llama)."""

from __future__ import annotations

import yaml
from conftest import make_records, write_jsonl

from tunesmith.config import load_recipe


def small_recipe(folder, model_dir, **sections):
    """40 synthetic records, 4 training steps, 8 test examples; `sections` added as given."""
    data = write_jsonl(folder / "data.jsonl", make_records(40))
    raw = {
        "task": "summarization",
        "model": {"name": str(model_dir), "precision": "fp32"},
        "data": {
            "train": str(data),
            "input_field": "description",
            "output_field": "synopsis",
            "split": {"validation": 4, "test": 8},
        },
        "training": {"max_steps": 4, "batch_size": 4, "max_seq_length": 96, "eval_every": 2},
        # bleu off: its paired bootstrap is the slowest statistic, and rouge + perplexity suffice
        "evaluation": {"generation": {"max_new_tokens": 4}, "metrics": ["perplexity", "rouge"]},
        **sections,
    }
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_recipe(path)
