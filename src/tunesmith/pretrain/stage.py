"""Pretrain stage: pack the domain corpus, continue pre-training, write pretrain/weights/.

Same loop, checkpoints, resume and batch plan (curriculum, replay) as fine-tuning
(train/loop.py, train/plan.py); early stopping and the best checkpoint are chosen on the
held-out domain perplexity (held-out blocks checked for copies of trained documents by
dedup.leakage, pretrain/leakage.py). Writes pretrain/weights/ (a PEFT adapter on the plain
base, or a full transformers model), pretrain/metrics.jsonl (curves), pretrain/metrics.json
(domain perplexity of the base and of the pre-trained model, funnel, leakage),
pretrain/curriculum.json (with a curriculum) and pretrain/held_out.jsonl (the held-out blocks'
token ids, for later stages to score on).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tunesmith.artifacts import RunDir, write_json, write_jsonl
from tunesmith.config.schema import Recipe
from tunesmith.models.base import PRETRAINED_WEIGHTS


@dataclass
class PretrainResult:
    steps: int
    base_perplexity: float
    pretrained_perplexity: float | None
    tokens_per_second: float
    resumed: bool


def run(recipe: Recipe, run_dir: RunDir, progress=None) -> PretrainResult:
    from tunesmith.models.base import load_base
    from tunesmith.pretrain.blocks import build_blocks
    from tunesmith.pretrain.packing import as_items
    from tunesmith.train.plan import plan_batches
    from tunesmith.train.session import (
        make_trainable,
        make_trainer,
        prepare,
        run_trainer,
        save_final,
    )

    cfg = recipe.pretrain
    out = run_dir.stage("pretrain")
    device, precision = prepare(recipe, cfg)
    model, tokenizer = load_base(recipe, device=device)  # the plain base, always
    blocks = build_blocks(cfg, tokenizer)
    write_jsonl(out / "held_out.jsonl", [{"input_ids": b} for b in blocks.held_out])
    # Fine-tuning's batch plan (curriculum over the blocks, replay rows mixed in), planned
    # before the adapter: the base_loss scorer scores with the base model. Blocks carry no
    # data fields (the config refuses the `field` scorer), hence the empty example rows.
    train_items = as_items(blocks.train)
    plan = plan_batches(cfg, model, tokenizer, [{}] * len(train_items), train_items, out)
    if plan.curriculum is not None:
        write_json(out / "curriculum.json", plan.curriculum)
    model = make_trainable(model, cfg, precision)  # peft refusing the settings: UserError
    held = as_items(blocks.held_out)[: cfg.val_max_examples]
    trainer = make_trainer(model, cfg, plan, held, tokenizer, out, precision)
    # Before any checkpoint is loaded the model is the base (a fresh LoRA adds zero).
    base_ppl = trainer.val_perplexity()
    resumed = run_trainer(trainer, progress)
    state = trainer.state
    save_final(model, cfg, out, run_dir.root / PRETRAINED_WEIGHTS, tokenizer)
    tokens_per_second = round(state.tokens / max(state.seconds, 1e-9), 1)
    metrics = {
        "domain_perplexity": {"base": base_ppl, "pretrained": state.best_val_ppl},
        "steps": state.step,
        "total_steps": trainer.total_steps,
        "best_step": state.best_step,
        "stopped_early": state.stopped_early,
        "method": cfg.method,
        "tokens_trained": state.tokens,
        "tokens_per_second": tokens_per_second,
        "precision": precision,
        "resumed": resumed,
        "replay_examples": len(plan.items) - plan.train_count,
        **blocks.stats,
    }
    write_json(out / "metrics.json", metrics)
    return PretrainResult(state.step, base_ppl, state.best_val_ppl, tokens_per_second, resumed)


def _applies(recipe: Recipe) -> bool:
    return recipe.pretrain is not None


def _config(recipe: Recipe) -> tuple:
    # compare_without only adds a sibling run; it does not change what this stage trains.
    return (recipe.model, recipe.pretrain.model_copy(update={"compare_without": False}))


def _inputs(recipe: Recipe, run_dir: RunDir) -> list[Path]:
    corpus = [Path(p) for p in recipe.pretrain.corpus]
    replay = recipe.pretrain.replay
    if replay is not None and replay.file:  # the user's general data mixed into the batches
        corpus.append(Path(replay.file))
    return corpus


def _outputs(run_dir: RunDir) -> list[Path]:
    return [run_dir.root / "pretrain" / "metrics.json", run_dir.root / PRETRAINED_WEIGHTS]


def _reset(run_dir: RunDir) -> list[Path]:
    return [run_dir.root / "pretrain"]


def _scratch(run_dir: RunDir) -> list[Path]:
    # resume state: pretrain/weights/ holds the best weights once the stage finished
    return [run_dir.root / "pretrain" / name for name in ("checkpoints", "best")]


def _run_with_bar(recipe: Recipe, run_dir: RunDir) -> PretrainResult:
    from tunesmith.progress import TrainingBar, run_with_bars

    return run_with_bars(TrainingBar("pretrain"), run, recipe, run_dir)


def _register() -> None:
    from tunesmith.pretrain import row  # noqa: F401  (registers the "pretrained" row)
    from tunesmith.stages import StageSpec, register_stage

    register_stage(
        StageSpec(
            "pretrain",
            20,
            _config,
            _inputs,
            _outputs,
            _run_with_bar,
            _reset,
            _scratch,
            resumes=True,
            applies=_applies,
            # 2: curriculum/replay train as configured; dedup.leakage checks the held-out set.
            revision=2,
        )
    )


_register()
