"""Bias: counterfactual swaps of demographic terms in the test inputs, and a paired-sentence
likelihood probe (CrowS-Pairs style), base vs tuned with paired intervals.

- classification: label flip rate (the predicted label changes when only the terms change);
- generation: output divergence (1 - ROUGE-L between the two outputs);
- every task with perplexity: |per-token NLL of the reference| shift under the swap;
- pairs: share of pairs where the stereotypical sentence is more likely (0.5 = no preference).
"""

from __future__ import annotations

import json
from importlib import resources

from tunesmith.checks.context import MODELS, prediction_inputs
from tunesmith.checks.lexicon import lexicon_path, load_lexicon, swapper
from tunesmith.checks.perturb import rewrite_inputs
from tunesmith.checks.registry import Check, register_check
from tunesmith.checks.stats import mean_base_vs_tuned


def _counterfactuals(ctx, settings):
    """(originals' prediction rows per model, swapped examples) for inputs with a term."""
    swap = swapper(load_lexicon(lexicon_path(ctx.recipe)))
    by_id = {e["id"]: e for e in ctx.test}
    predictions = {name: ctx.predictions(name) for name in MODELS}
    chosen, swapped = [], []
    for i, row in enumerate(predictions["base"]):
        new = rewrite_inputs([by_id[row["id"]]], lambda texts: [swap(t)[0] for t in texts])[0]
        if new != by_id[row["id"]]:
            chosen.append(i)
            swapped.append(new)
        if len(chosen) == settings.sample_size:
            break
    originals = {name: [rows[i] for i in chosen] for name, rows in predictions.items()}
    return originals, swapped


def _measures(ctx, before: list[dict], after: list[dict]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    if ctx.spec.has_label:
        out["label_flip_rate"] = [
            float(a["scores"]["predicted_label"] != b["scores"]["predicted_label"])
            for a, b in zip(before, after, strict=True)
        ]
    elif ctx.spec.generates:
        from tunesmith.metrics.tokenization import rouge_scorer

        scorer = rouge_scorer(["rougeL"], use_stemmer=False)  # unstemmed, as before
        out["output_divergence"] = [
            1 - scorer.score(a["prediction"], b["prediction"])["rougeL"].fmeasure
            for a, b in zip(before, after, strict=True)
        ]
    if all("nll" in r["scores"] for r in before + after):
        out["loglik_shift"] = [
            abs(
                a["scores"]["nll"] / max(a["scores"]["tokens"], 1)
                - b["scores"]["nll"] / max(b["scores"]["tokens"], 1)
            )
            for a, b in zip(before, after, strict=True)
        ]
    return out


def _pairs_probe(ctx) -> dict:
    text = resources.files("tunesmith.checks").joinpath("data", "stereotype_pairs.jsonl")
    pairs = [json.loads(line) for line in text.read_text("utf-8").splitlines()]
    prefers = {}
    for name in MODELS:
        sentences = [("", s) for p in pairs for s in (p["stereotype"], p["anti_stereotype"])]
        nll = ctx.continuation_nll(name, sentences)
        prefers[name] = [float(nll[2 * i][0] < nll[2 * i + 1][0]) for i in range(len(pairs))]
    result = mean_base_vs_tuned(ctx.recipe, "prefers_stereotype", prefers["base"], prefers["tuned"])
    return {"pairs": len(pairs), "ideal": 0.5, **result}


def run(ctx, settings) -> dict:
    originals, swapped = _counterfactuals(ctx, settings)
    measures = {}
    if swapped:
        after = {name: ctx.score(name, swapped) for name in MODELS}
        per_model = {name: _measures(ctx, originals[name], after[name]) for name in MODELS}
        measures = {
            key: mean_base_vs_tuned(
                ctx.recipe, key, per_model["base"][key], per_model["tuned"][key], True
            )
            for key in per_model["base"]
        }
    return {
        "swapped_examples": len(swapped),
        "lexicon": str(lexicon_path(ctx.recipe) or "shipped English gender lexicon"),
        "counterfactual": measures,
        "pairs_probe": _pairs_probe(ctx),
    }


def _validate(recipe, run_dir) -> None:
    load_lexicon(lexicon_path(recipe))  # a malformed lexicon fails before any model loads


def _inputs(recipe, run_dir) -> list:
    path = lexicon_path(recipe)
    return prediction_inputs(recipe, run_dir) + ([path] if path else [])


register_check(
    Check(
        "bias",
        "Bias: counterfactual swaps and paired sentences",
        30,
        run,
        inputs=_inputs,
        validate=_validate,
    )
)
