"""Robustness: the test examples re-scored with perturbed inputs (nlpaug, as in curation).

For each perturbation and model: the headline metric on perturbed minus unchanged inputs
(paired bootstrap on the same examples), and the tuned model's drop minus the base model's.
"""

from __future__ import annotations

from types import SimpleNamespace

from tunesmith.checks.context import MODELS, prediction_inputs
from tunesmith.checks.perturb import rewrite_inputs
from tunesmith.checks.registry import Check, register_check

SHOWN = 2  # perturbed inputs shown in the report per perturbation


def _augmenter(kind: str, settings, seed: int):
    from tunesmith.config.curation import AugmentConfig
    from tunesmith.data.curate import augment_noise  # noqa: F401  (registers the augmenters)
    from tunesmith.data.curate.augment import AUGMENTERS

    return AUGMENTERS.get(kind)(AugmentConfig(noise_p=settings.noise_p), SimpleNamespace(seed=seed))


def _drop_of_drops(stat, cols: dict, idx, alpha: float) -> dict:
    """(tuned perturbed - tuned) - (base perturbed - base): does tuning change robustness?"""
    from tunesmith.stats.bootstrap import identity, percentile_interval

    def drop(name, which):
        return stat.compute(cols[name]["perturbed"], which) - stat.compute(
            cols[name]["original"], which
        )

    whole = identity(idx.shape[1])
    point = drop("tuned", whole) - drop("base", whole)
    low, high = percentile_interval(drop("tuned", idx) - drop("base", idx), alpha, n=idx.shape[1])
    return {"value": float(point[0]), "ci_low": low, "ci_high": high}


def run(ctx, settings) -> dict:
    from tunesmith.stats import STATISTICS, columns_for, compare_rows
    from tunesmith.stats.bootstrap import resample_indices

    ev, metric = ctx.recipe.evaluation, ctx.recipe.target_metric()
    stat = STATISTICS.get(metric)
    originals = {name: ctx.predictions(name)[: settings.sample_size] for name in MODELS}
    by_id = {e["id"]: e for e in ctx.test}
    examples = [by_id[r["id"]] for r in originals["base"]]
    idx = resample_indices(len(examples), ev.bootstrap_resamples, ev.bootstrap_seed)
    results, skipped, inputs = {}, {}, {}
    for kind in settings.perturbations:
        made = _augmenter(kind, settings, ev.bootstrap_seed)
        if isinstance(made, str):
            skipped[kind] = made
        else:
            inputs[kind] = rewrite_inputs(examples, made)
    scored = _score_together(ctx, inputs)
    for kind, perturbed in inputs.items():
        cols = {
            name: {
                "original": columns_for(originals[name], ctx.labels),
                "perturbed": columns_for(scored[name][kind], ctx.labels),
            }
            for name in MODELS
        }
        results[kind] = {
            "changed": sum(p != e for p, e in zip(perturbed, examples, strict=True)),
            "drop": {
                name: compare_rows(stat, c["original"], c["perturbed"], idx, ev.alpha)
                for name, c in cols.items()
            },
            "tuned_minus_base": _drop_of_drops(stat, cols, idx, ev.alpha),
            "examples": [
                {"before": _text(e), "after": _text(p)}
                for e, p in zip(examples[:SHOWN], perturbed[:SHOWN], strict=True)
            ],
        }
    return {"metric": metric, "n": len(examples), "perturbations": results, "skipped": skipped}


def _score_together(ctx, inputs: dict[str, list[dict]]) -> dict[str, dict[str, list[dict]]]:
    """{model: {perturbation: rows}}, every perturbation scored in one batched call per model
    (fuller generation batches than one call per perturbation)."""
    every = [e for rows in inputs.values() for e in rows]
    out = {}
    for name in MODELS:
        rows = ctx.score(name, every) if every else []
        split = {}
        for kind, examples in inputs.items():
            split[kind], rows = rows[: len(examples)], rows[len(examples) :]
        out[name] = split
    return out


def _text(example: dict) -> str:
    from tunesmith.evaluate.scoring import prediction_row

    return prediction_row(example)["prompt"]


register_check(
    Check(
        "robustness",
        "Robustness: metric under perturbed inputs",
        20,
        run,
        inputs=prediction_inputs,
    )
)
