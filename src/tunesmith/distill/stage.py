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
    """Distil, leaving distill/ as it was on a failure (Ctrl-C, an error, bad input found
    late) unless a student saved a checkpoint to resume from: nothing is written before the
    refusals, an earlier distill/ holding no resume state is set aside until this one
    finishes (files.resumable_into), and the students and summary.json move in together once
    all are written (RunDir.staged)."""
    from tunesmith.artifacts.files import resumable_into
    from tunesmith.distill.student import check_before_loading, make_student
    from tunesmith.methods.tuned import merged_tuned

    check_before_loading(recipe)
    teacher, tokenizer, _ = merged_tuned(recipe, run_dir, "distill")
    student = make_student(recipe.distill, teacher, tokenizer)  # refuses before any work
    with resumable_into(run_dir.root / "distill", lambda: _resume_state(run_dir)):
        return _distil(recipe, run_dir, teacher, student, tokenizer)


def _distil(recipe: Recipe, run_dir: RunDir, teacher, student, tokenizer) -> dict:
    import copy

    from tunesmith.distill.losses import soft_targets
    from tunesmith.distill.targets import TARGETS, attach, load_targets
    from tunesmith.distill.train import student_plan, student_training, train_student
    from tunesmith.models.truncation import cut_record

    config, out = recipe.distill, run_dir.stage("distill")
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
    with run_dir.staged("distill") as place:
        for name, soft in plans.items():
            if soft is not None:
                attach(items, load_targets(out / TARGETS))
            else:
                for item in items:
                    item.soft = None
            model, final = copy.deepcopy(student), place(f"{name}/model")
            state = train_student(
                recipe, cfg, model, plan, val_items, tokenizer, out / name, soft, final
            )
            summary[name] = _describe(model, tokenizer, recipe, run_dir, final)
            summary[name].update(steps=state.step, best_val_ppl=state.best_val_ppl)
        summary["settings"] = config.model_dump()
        write_json(place("summary.json"), summary)
    return {name: summary[name]["blocks"] for name in plans}


def scratch(run_dir: RunDir) -> list[Path]:
    """The students' resume state and best weights: removed once the stage finished."""
    folder = run_dir.root / "distill"
    return [folder / name / part for name in STUDENTS for part in ("checkpoints", "best")]


def _resume_state(run_dir: RunDir) -> bool:
    """A student saved a checkpoint: a failed distillation keeps it to resume from."""
    return any((run_dir.root / "distill" / name / "checkpoints").exists() for name in STUDENTS)


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


def _student_fits(recipe: Recipe, facts) -> list[str]:
    """A student copied from the model no deeper than it, from the model's config (no
    weights); a given student_model is checked as it loads."""
    folder = facts.model_folder()
    if recipe.distill is None or recipe.distill.student_model or folder is None:
        return []
    from tunesmith.distill.student import student_depth
    from tunesmith.methods.base import folder_depth

    depth = folder_depth(folder)  # None: unknown here, not a 0-block teacher
    if not depth:
        return []
    return [f"distill: ok (student of {student_depth(recipe.distill, depth)} blocks)"]


def _register() -> None:
    from tunesmith.distill import rows  # noqa: F401  (registers the students' rows)
    from tunesmith.stages import PreflightHook, StageSpec, register_stage

    register_stage(
        StageSpec(
            "distill",
            36,
            _config,
            _inputs,
            lambda run_dir: [run_dir.root / "distill" / "summary.json"],
            run,
            reset=lambda run_dir: [run_dir.root / "distill"],
            scratch=scratch,
            resumes=True,
            applies=lambda recipe: recipe.distill is not None,
            # 2: the students train with the class weights, curriculum and replay
            revision=2,
            preflight=(PreflightHook("model", _student_fits),),
        )
    )


_register()
