"""Training stage: encode data/train+val, train with the configured method, write its result
(train/adapter/ or train/model/), summary.json and, with a curriculum, curriculum.json."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tunesmith.artifacts import RunDir, write_json
from tunesmith.artifacts.rank import is_writer
from tunesmith.config.schema import Recipe
from tunesmith.train.encoded import CLASS_WEIGHTS, read_class_weights


@dataclass
class TrainResult:
    steps: int
    best_step: int | None
    best_val_ppl: float | None
    tokens_per_second: float
    resumed: bool


def run(recipe: Recipe, run_dir: RunDir, progress=None) -> TrainResult:
    from tunesmith.methods import method_of
    from tunesmith.models.base import load_base
    from tunesmith.train.distributed import join_data_parallel
    from tunesmith.train.encoded import encoded_split
    from tunesmith.train.plan import plan_batches
    from tunesmith.train.session import (
        make_trainable,
        make_trainer,
        prepare,
        run_trainer,
        save_final,
    )

    cfg = join_data_parallel(recipe.training, recipe.model.device)  # torchrun: distributed.py
    method = method_of(cfg)
    out = run_dir.stage("train")
    device, precision = prepare(recipe, cfg)
    model, tokenizer = load_base(recipe, run_dir, pretrained=True, device=device)
    weights = read_class_weights(run_dir.data)
    examples, train_items = encoded_split(
        run_dir.data / "train.jsonl", tokenizer, cfg.max_seq_length, weights
    )
    examples, train_items, dropped = _supervised_only(examples, train_items)
    _, val_items = encoded_split(run_dir.data / "val.jsonl", tokenizer, cfg.max_seq_length)
    _, val_items, val_dropped = _supervised_only(val_items, val_items)
    val_items = val_items[: cfg.val_max_examples]
    cut = _report_cuts(train_items, cfg.max_seq_length, dropped + val_dropped)
    _say(no_validation_warning(cfg, val_items))
    # Before the adapter: the curriculum's base_loss scorer scores with the base model.
    plan = plan_batches(cfg, model, tokenizer, examples, train_items, out)
    model = make_trainable(model, cfg, precision)
    trainer = make_trainer(model, cfg, plan, val_items, tokenizer, out, precision)
    resumed = run_trainer(trainer, progress)
    state = trainer.state
    if not is_writer():  # multi-process: only rank 0 writes the run folder
        return TrainResult(state.step, state.best_step, state.best_val_ppl, 0.0, resumed)
    summary = {
        "method": method.name,
        "steps": state.step,
        "total_steps": trainer.total_steps,
        "best_step": state.best_step,
        "best_val_ppl": state.best_val_ppl,
        "stopped_early": state.stopped_early,
        "tokens": state.tokens,
        "tokens_run": state.tokens_run,  # computed: shared heads count once per pass
        "seconds": round(state.seconds, 2),
        "tokens_per_second": round(state.tokens / max(state.seconds, 1e-9), 1),
        "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "precision": precision,
        "device": device,
        "train_examples": plan.train_count,
        "clipped_examples": sum(item.clipped for item in train_items),  # cut before tokenising
        "truncation": cut,  # rows max_seq_length cut, and rows dropped with nothing to learn
        "replay_examples": len(plan.items) - plan.train_count,
        "val_examples": len(val_items),
        "tokens_per_pass": trainer.token_budget,  # a batch above it ran as several passes
        "resumed": resumed,
    }
    # The result moves in whole, once all of it is written (RunDir.staged): a failure here
    # leaves no adapter beside a summary of another training (or none); the checkpoints
    # stay in train/, and the same command resumes.
    with run_dir.staged("train") as place:
        if plan.curriculum is not None:
            write_json(place("curriculum.json"), plan.curriculum)
        save_final(model, cfg, out, place(method.artefact), tokenizer)
        write_json(place("summary.json"), summary)
    return TrainResult(
        state.step, state.best_step, state.best_val_ppl, summary["tokens_per_second"], resumed
    )


def _supervised_only(rows: list, items: list) -> tuple[list, list, int]:
    """The rows (and their items) with a token to learn, and how many had none: such a row
    trains on nothing, and a validation set of them would report perplexity 1 over no tokens."""
    from tunesmith.models.truncation import supervised

    keep = [i for i, item in enumerate(items) if supervised(item)]
    return [rows[i] for i in keep], [items[i] for i in keep], len(items) - len(keep)


def no_validation_warning(cfg, val_items: list) -> str | None:
    """A run with early stopping on but no validation row (data.split.validation: 0, or none
    left with an answer token) trains without validation perplexity, early stopping or the
    best-checkpoint choice: said once, not left to a `best_val_ppl: null` in the summary."""
    if val_items or not cfg.early_stopping.enabled:
        return None
    return (
        "training: no validation rows, so no validation perplexity, early stopping or best "
        "checkpoint (set data.split.validation, or training.early_stopping.enabled: false)"
    )


def _say(warning: str | None) -> None:
    from tunesmith.progress import console

    if warning and is_writer():
        console.print(f"[yellow]warning:[/yellow] {warning}")


def _report_cuts(items: list, max_length: int, dropped: int) -> dict:
    """Count the training rows max_seq_length cut and say so once on the console; no row
    left to learn from is an error, not a run that trains on nothing."""
    from tunesmith.errors import UserError
    from tunesmith.models.truncation import cut_counts, cut_warning

    if not items:
        raise UserError(
            f"training: no row has an answer token to learn within max_seq_length {max_length}"
        )
    counts = {**cut_counts(items), "max_seq_length": max_length, "dropped_unsupervised": dropped}
    _say(cut_warning("training", counts, max_length))
    _say(f"training: {dropped} row(s) with no answer token dropped" if dropped else None)
    return counts


def _config(recipe: Recipe) -> tuple:
    return (recipe.task, recipe.model, recipe.training)


def training_data(recipe: Recipe, run_dir: RunDir) -> list[Path]:
    """What training reads besides the model: the splits, the class weights and the replay
    file (shared by every stage that trains with the recipe's training settings)."""
    data = run_dir.data
    files = [data / "train.jsonl", data / "val.jsonl", data / CLASS_WEIGHTS]
    replay = recipe.training.replay
    if replay is not None and replay.file:  # the user's general data mixed into the batches
        files.append(Path(replay.file))
    return files


def _inputs(recipe: Recipe, run_dir: RunDir) -> list[Path]:
    from tunesmith.models.base import base_inputs

    return [*training_data(recipe, run_dir), *base_inputs(recipe, run_dir)]


def _outputs(run_dir: RunDir) -> list[Path]:
    return [run_dir.train / "summary.json"]


def _reset(run_dir: RunDir) -> list[Path]:
    return [run_dir.train]  # a fresh start: old metrics, checkpoints and adapter are stale


def _scratch(run_dir: RunDir) -> list[Path]:
    # resume state: the finished adapter (or model) is saved, and holds the best weights
    return [run_dir.train / "checkpoints", run_dir.train / "best"]


def _centralised(recipe: Recipe) -> bool:
    return recipe.federated is None  # a federated run trains in the federated stage instead


def _run_with_bar(recipe: Recipe, run_dir: RunDir) -> TrainResult:
    from tunesmith.progress import TrainingBar, run_with_bars

    return run_with_bars(TrainingBar(), run, recipe, run_dir)


def _register() -> None:
    from tunesmith.stages import StageSpec, register_stage

    register_stage(
        StageSpec(
            "train",
            30,
            _config,
            _inputs,
            _outputs,
            _run_with_bar,
            _reset,
            _scratch,
            resumes=True,
            applies=_centralised,
        )
    )


_register()
