"""The evaluate stage's own rows: the plain base, the few-shot base and the tuned model."""

from __future__ import annotations

from tunesmith.evaluate.rows import ModelRow, register_row
from tunesmith.models.base import apply_pretraining, base_inputs


def _always(recipe, run_dir) -> bool:
    return True


def _nothing(recipe, run_dir) -> list:
    return []


def _as_given(recipe, run_dir, model):
    return model


def _has_demos(recipe, run_dir) -> bool:
    from tunesmith.config.tasks import task_spec

    return bool(recipe.evaluation.few_shot) and task_spec(recipe.task).few_shot


def _train_split(recipe, run_dir) -> list:
    return [run_dir.data / "train.jsonl"]


def _demos(recipe, run_dir) -> list[dict]:
    from tunesmith.evaluate.stage import few_shot_demos

    return few_shot_demos(recipe, run_dir)


def _tuned_inputs(recipe, run_dir) -> list:
    from tunesmith.methods import method_of

    artefact = run_dir.train / method_of(recipe.training).artefact
    return [artefact, *base_inputs(recipe, run_dir)]


def _tuned(recipe, run_dir, model):
    from tunesmith.evaluate.stage import with_adapter

    return with_adapter(apply_pretraining(model, recipe, run_dir), run_dir, recipe.training)


register_row(ModelRow("base", "base model (zero-shot)", 0, _always, _nothing, _as_given))
register_row(
    ModelRow("few_shot", "base model (few-shot)", 10, _has_demos, _train_split, _as_given, _demos)
)
register_row(ModelRow("tuned", "tuned model", 100, _always, _tuned_inputs, _tuned))


def _classic_applies(recipe, run_dir) -> bool:
    from tunesmith.config.tasks import task_spec

    return task_spec(recipe.task).has_label and recipe.evaluation.classification.classic_baseline


def _classic_rows(recipe, run_dir, examples, labels):
    from tunesmith.evaluate.classic import classic_rows

    return classic_rows(recipe, run_dir, examples, labels)


def _no_model(recipe, run_dir, model):
    raise TypeError("the classic baseline scores examples itself; it has no model to load")


register_row(
    ModelRow(
        "classic",
        "TF-IDF + logistic regression",
        5,
        _classic_applies,
        _train_split,
        _no_model,
        score=_classic_rows,
    )
)
