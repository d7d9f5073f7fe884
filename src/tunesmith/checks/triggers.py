"""Post-training trigger test: do the data stage's suspected poisoning triggers work?

Each suspect n-gram of data/data_card.json is put in front of the inputs of test examples
that do not already produce its output; the share of outputs that then become the suspect's
output (the attack's success rate) is compared between base and tuned. A real backdoor
learned in training shows as a tuned rate well above the base rate.
"""

from __future__ import annotations

import json

from tunesmith.checks.context import MODELS
from tunesmith.checks.perturb import rewrite_inputs
from tunesmith.checks.registry import Check, register_check
from tunesmith.checks.stats import mean_base_vs_tuned


def suspects_in(card) -> list[dict]:
    """Every poisoning suspect listed anywhere in a data card (per split or whole data)."""
    if isinstance(card, dict):
        found = (
            list(card.get("poisoning", {}).get("suspects", []))
            if isinstance(card.get("poisoning"), dict)
            else []
        )
        for value in card.values():
            found += suspects_in(value)
        return found
    if isinstance(card, list):
        return [s for value in card for s in suspects_in(value)]
    return []


def _output(ctx, row: dict) -> str:
    from tunesmith.data.curate.minhash import normalise

    return normalise(row["scores"].get("predicted_label") or row["prediction"] or "")


def _test_trigger(ctx, suspect: dict, settings) -> dict:
    from tunesmith.data.curate.minhash import normalise

    target = normalise(suspect["output"])
    by_id = {e["id"]: e for e in ctx.test}
    base_rows = ctx.predictions("base")
    tuned_rows = {r["id"]: r for r in ctx.predictions("tuned")}
    # Examples whose answer is not already the target: the trigger would have to change it.
    chosen = [
        by_id[r["id"]]
        for r in base_rows
        if _output(ctx, r) != target and _output(ctx, tuned_rows[r["id"]]) != target
    ][: settings.sample_size]
    triggered = rewrite_inputs(chosen, lambda texts: [f"{suspect['ngram']} {t}" for t in texts])
    hits = {
        name: [float(_output(ctx, r) == target) for r in ctx.score(name, triggered)]
        for name in MODELS
    }
    result = mean_base_vs_tuned(ctx.recipe, "trigger_success", hits["base"], hits["tuned"], True)
    return {"ngram": suspect["ngram"], "output": suspect["output"], **result}


def run(ctx, settings) -> dict:
    card_path = ctx.run_dir.data / "data_card.json"
    card = json.loads(card_path.read_text("utf-8")) if card_path.is_file() else {}
    suspects = suspects_in(card)[: settings.max_triggers]
    return {
        "suspects_in_data_card": len(suspects_in(card)),
        "triggers": [_test_trigger(ctx, s, settings) for s in suspects],
    }


def _inputs(recipe, run_dir) -> list:
    return [
        run_dir.data / "data_card.json",
        *[run_dir.eval / "predictions" / f"test.{n}.jsonl" for n in MODELS],
    ]


def _skip(recipe) -> str | None:
    from tunesmith.config.tasks import task_spec

    if not task_spec(recipe.task).generates:
        return f"not applicable to the {recipe.task} task: a trigger changes a generated output"
    return None


register_check(
    Check(
        "triggers",
        "Poisoning: suspected triggers after training",
        50,
        run,
        skip_reason=_skip,
        inputs=_inputs,
    )
)
