"""Train one student with the shared set-up of train/session.py and its one loop: the
recipe's training settings with method `full` (every student weight trains)."""

from __future__ import annotations

from pathlib import Path


def student_training(recipe):
    """The recipe's training section with method full: same steps, batch and rate. KL to
    the base is off (a full model has no adapter to switch off; the teacher's soft targets
    are the anchor instead); curriculum and replay do not apply to students."""
    from tunesmith.config.overrides import override_recipe

    values = {"training.method": "full", "training.regularization.kl_to_base": 0.0}
    return override_recipe(recipe, values, "distill").training


def encode(path: Path, tokenizer, max_length: int) -> list:
    from tunesmith.artifacts import read_jsonl
    from tunesmith.models.formatting import encode_example

    rows = read_jsonl(path) if path.is_file() else []
    return [encode_example(example, tokenizer, max_length) for example in rows]


def train_student(recipe, cfg, student, items, val_items, tokenizer, out: Path, soft=None):
    """Train `student` (soft: distill/losses.py SoftTargets, or None for labels alone);
    its best weights end in out/model/. Returns the loop's final state."""
    from tunesmith.train.session import (
        make_trainable,
        make_trainer,
        prepare,
        run_trainer,
        save_final,
    )

    _, precision = prepare(recipe, cfg)
    model = make_trainable(student, cfg, precision)
    trainer = make_trainer(model, cfg, items, val_items, tokenizer, out, precision, soft=soft)
    run_trainer(trainer)
    save_final(model, cfg, out, out / "model", tokenizer)
    return trainer.state
