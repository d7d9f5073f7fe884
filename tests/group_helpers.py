"""Shared helpers of the run-group tests: a tiny group recipe on the tiny random model."""

from __future__ import annotations

from pathlib import Path

import yaml
from conftest import make_records, write_jsonl


def group_recipe(
    folder: Path, model_dir: Path, group: dict, task: str = "summarization", max_seq_length=96
) -> Path:
    """A three-member group recipe with a few-step training (tests/conftest.py's data; its
    rows are 51-54 tokens long)."""
    data = write_jsonl(folder / "data.jsonl", make_records(60))
    labelled = task == "classification"
    recipe = {
        "name": "tiny-group",
        "task": task,
        "model": {"name": str(model_dir), "precision": "fp32"},
        "data": {
            "train": str(data),
            "input_field": "description",
            "output_field": "section" if labelled else "synopsis",
            "prompt_template": "Summarise:\n{description}",
            "split": {"validation": 8, "test": 10, "seed": 0},
        },
        "training": {
            "max_steps": 3,
            "batch_size": 4,
            "learning_rate": 5e-3,
            "max_seq_length": max_seq_length,
            "eval_every": 3,
            "val_max_examples": 4,
            "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
        },
        "evaluation": {
            "few_shot": 0,
            "generation": {"max_new_tokens": 6, "batch_size": 8},
            **({"classification": {"classic_baseline": False}} if labelled else {}),
        },
        "group": group,
    }
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path
