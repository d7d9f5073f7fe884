"""Train one student with the shared set-up of train/session.py and its one loop: the
recipe's training settings with method `full` (every student weight trains), the train
stage's encoding (class weights) and batch plan (curriculum, replay)."""

from __future__ import annotations

from pathlib import Path


def student_training(recipe):
    """The recipe's training section with method full: same steps, batch and rate, curriculum
    and replay. KL to the base is off (a full model has no adapter to switch off; the
    teacher's soft targets are the anchor instead)."""
    from tunesmith.config.overrides import override_recipe

    values = {"training.method": "full", "training.regularization.kl_to_base": 0.0}
    return override_recipe(recipe, values, "distill").training


def student_plan(cfg, student, tokenizer, data: Path, out: Path):
    """(batch plan, validation items): the training rows encoded with the balance step's class
    weights and planned as the train stage plans them (train/plan.py), before any training, so
    the base_loss scorer scores with the untrained student. Both students share the plan."""
    from tunesmith.train.encoded import encoded_split, read_class_weights
    from tunesmith.train.plan import plan_batches

    length = cfg.max_seq_length
    rows, items = encoded_split(data / "train.jsonl", tokenizer, length, read_class_weights(data))
    _, val_items = encoded_split(data / "val.jsonl", tokenizer, length)
    plan = plan_batches(cfg, student, tokenizer, rows, items, out)
    return plan, val_items[: cfg.val_max_examples]


def train_student(
    recipe, cfg, student, plan, val_items, tokenizer, out: Path, soft=None, final=None
):
    """Train `student` on `plan` (student_plan; soft: distill/losses.py SoftTargets, or None
    for labels alone) in `out`; its best weights end in `final` (default out/model/). Returns
    the loop's final state."""
    from tunesmith.train.session import (
        make_trainable,
        make_trainer,
        prepare,
        run_trainer,
        save_final,
    )

    _, precision = prepare(recipe, cfg)
    model = make_trainable(student, cfg, precision)
    trainer = make_trainer(model, cfg, plan, val_items, tokenizer, out, precision, soft=soft)
    run_trainer(trainer)
    save_final(model, cfg, out, final or out / "model", tokenizer)
    return trainer.state
