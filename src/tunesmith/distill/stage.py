"""Distill stage (only with a `distill:` recipe section; after train, before evaluate so the
students get evaluation rows): teacher top-k targets once, then the distilled student and,
for the table, the same student trained on labels alone.

Writes distill/teacher_topk.safetensors, distill/<student>/model/ and distill/summary.json
(per model: blocks, parameters, size on disk, generation tokens/s).
"""

from __future__ import annotations

from pathlib import Path

from tunesmith.artifacts import RunDir, write_json
from tunesmith.config.schema import Recipe

STUDENTS = ("distilled", "labels_only")


def run(recipe: Recipe, run_dir: RunDir) -> dict:
    import copy

    from tunesmith.distill.losses import soft_targets
    from tunesmith.distill.student import check_before_loading, make_student
    from tunesmith.distill.targets import TARGETS, attach, load_targets
    from tunesmith.distill.train import student_plan, student_training, train_student
    from tunesmith.methods.tuned import merged_tuned
    from tunesmith.models.truncation import cut_record

    check_before_loading(recipe)
    config, out = recipe.distill, run_dir.stage("distill")
    teacher, tokenizer, _ = merged_tuned(recipe, run_dir, "distill")
    student = make_student(config, teacher, tokenizer)  # refuses before any work
    cfg = student_training(recipe)
    plan, val_items = student_plan(cfg, student, tokenizer, run_dir.data, out)
    items = plan.items  # training rows, then replay rows: the teacher gives targets for both
    train_items = items[: plan.train_count]
    cut = cut_record("distillation", train_items, cfg.max_seq_length)
    _ensure_targets(teacher, items, config.top_k, cfg.batch_size, tokenizer, out / TARGETS)
    summary = {
        "teacher": _describe(teacher, tokenizer, recipe, run_dir, None),
        "truncation": cut,
        "train_examples": plan.train_count,
        "replay_examples": len(items) - plan.train_count,
        "curriculum": plan.curriculum,
    }
    plans = {"distilled": soft_targets(config)}
    if config.compare_labels_only:
        plans["labels_only"] = None
    for name, soft in plans.items():
        if soft is not None:
            attach(items, load_targets(out / TARGETS))
        else:
            for item in items:
                item.soft = None
        model = copy.deepcopy(student)
        state = train_student(recipe, cfg, model, plan, val_items, tokenizer, out / name, soft)
        summary[name] = _describe(model, tokenizer, recipe, run_dir, out / name / "model")
        summary[name].update(steps=state.step, best_val_ppl=state.best_val_ppl)
    summary["settings"] = config.model_dump()
    write_json(out / "summary.json", summary)
    return {name: summary[name]["blocks"] for name in plans}


def _ensure_targets(teacher, items, k: int, batch_size: int, tokenizer, path: Path) -> None:
    """Computed once: a resumed or re-run stage with the same inputs reuses the file."""
    from tunesmith.distill.targets import save_targets, teacher_topk

    if not path.is_file():
        save_targets(teacher_topk(teacher, items, k, batch_size, tokenizer.pad_token_id), path)


def _describe(model, tokenizer, recipe, run_dir, folder: Path | None) -> dict:
    from tunesmith.artifacts.files import size_on_disk
    from tunesmith.models.speed import SPEED_TOKENS, speed_prompt, tokens_per_second

    parameters = sum(p.numel() for p in model.parameters())
    weights = folder / "model.safetensors" if folder else None
    return {
        "blocks": model.config.num_hidden_layers,
        "parameters": parameters,
        "bytes": size_on_disk(weights) if weights else parameters * 4,
        "tokens_per_second": tokens_per_second(
            model.eval(), tokenizer, speed_prompt(recipe, run_dir, tokenizer), SPEED_TOKENS
        ),
    }


def _config(recipe: Recipe) -> tuple:
    return (recipe.task, recipe.model, recipe.training, recipe.pretrain, recipe.distill)


def _inputs(recipe: Recipe, run_dir: RunDir) -> list[Path]:
    from tunesmith.methods import method_of
    from tunesmith.models.base import base_inputs
    from tunesmith.train.stage import training_data

    artefact = run_dir.train / method_of(recipe.training).artefact
    files = [artefact, *training_data(recipe, run_dir), run_dir.data / "test.jsonl"]
    return [*files, *base_inputs(recipe, run_dir)]


def _register() -> None:
    from tunesmith.distill import rows  # noqa: F401  (registers the students' rows)
    from tunesmith.stages import StageSpec, register_stage

    register_stage(
        StageSpec(
            "distill",
            36,
            _config,
            _inputs,
            lambda run_dir: [run_dir.root / "distill" / "summary.json"],
            run,
            reset=lambda run_dir: [run_dir.root / "distill"],
            scratch=lambda run_dir: [
                run_dir.root / "distill" / n / part
                for n in STUDENTS
                for part in ("checkpoints", "best")
            ],
            resumes=True,
            applies=lambda recipe: recipe.distill is not None,
            # 2: the students train with the class weights, curriculum and replay
            revision=2,
        )
    )


_register()
