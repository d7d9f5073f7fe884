"""What a trial is judged by. Each objective reads the validation split only.

An objective has a direction and turns the validation perplexity the training loop logs into
the pruner's intermediate value (pruners compare in the study's direction).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from tunesmith.artifacts import RunDir, read_jsonl
from tunesmith.config import Recipe
from tunesmith.errors import UserError


@dataclass(frozen=True)
class Objective:
    direction: str
    intermediate: Callable[[float], float]
    value: Callable[[Recipe, RunDir], float]
    # (recipe) -> the recipe sections `value` reads besides the trial's stages' (tune/reads.py)
    reads: Callable[[Recipe], tuple] = lambda recipe: ()


def _best_val_ppl(recipe: Recipe, run_dir: RunDir) -> float:
    summary = json.loads((run_dir.train / "summary.json").read_text(encoding="utf-8"))
    if summary.get("best_val_ppl") is None:
        raise UserError("data.split.validation: the validation split is empty; a search needs it")
    return float(summary["best_val_ppl"])


def metric_name(recipe: Recipe) -> str:
    """The val_metric objective's metric: search.metric or the task's first non-perplexity."""
    if recipe.search and recipe.search.metric:
        return recipe.search.metric
    others = [m for m in recipe.metrics() if m != "perplexity"]
    if not others:
        raise UserError(f"search.objective: task '{recipe.task}' has no metric besides perplexity")
    return others[0]


def _val_metric(recipe: Recipe, run_dir: RunDir) -> float:
    """The task metric of the tuned model generating on validation examples."""
    from tunesmith.config.overrides import override_recipe
    from tunesmith.evaluate.comparison import statistics_of
    from tunesmith.evaluate.labels import recipe_labels
    from tunesmith.evaluate.scoring import score_model
    from tunesmith.evaluate.stage import with_adapter
    from tunesmith.evaluate.stop import stop_strings
    from tunesmith.models import resolve_device
    from tunesmith.models.base import load_base

    name = metric_name(recipe)
    examples = read_jsonl(run_dir.data / "val.jsonl")[: recipe.training.val_max_examples]
    if not examples:
        raise UserError("data.split.validation: the validation split is empty; a search needs it")
    # the base the trial fine-tuned: with the run's pre-training applied, as evaluate loads it
    device = resolve_device(recipe.model.device)
    model, tokenizer = load_base(recipe, run_dir, pretrained=True, device=device)
    model = with_adapter(model, run_dir, recipe.training)
    only = override_recipe(recipe, {"evaluation.metrics": [name]})
    labels = recipe_labels(recipe, run_dir)  # data.labels, else those seen in train
    stop = stop_strings(recipe, run_dir.data)
    rows = score_model(model, tokenizer, examples, only, True, labels, None, stop=stop)
    metrics = statistics_of(only, {"tuned": rows}, labels)["rows"]["tuned"]
    from tunesmith.config.tasks import METRIC_KEYS, task_spec

    keys = [k for k in METRIC_KEYS.get(name, (name,)) if k in metrics]
    if not keys:
        raise UserError(f"search.metric: '{name}' gave no value ({', '.join(metrics)})")
    headline = task_spec(recipe.task).headline  # rouge -> rougeL, the task's headline
    key = headline if headline in keys else keys[0]
    return float(metrics[key]["value"])


OBJECTIVES = {
    "val_perplexity": Objective("minimize", lambda ppl: ppl, _best_val_ppl),
    # generated on validation with the evaluation's settings (generation, stop, metrics)
    "val_metric": Objective(
        "maximize", lambda ppl: -ppl, _val_metric, lambda recipe: (recipe.evaluation,)
    ),
}


def objective_value(recipe: Recipe, run_dir: RunDir, objective: str) -> float:
    """The trial's figure for `objective` (validation split only)."""
    return OBJECTIVES[objective].value(recipe, run_dir)
