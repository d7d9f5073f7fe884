"""Forgetting: general ability of base vs tuned on the shipped probe (nothing task-specific).

Two measures, each with a paired bootstrap interval of tuned minus base:
- multiple choice: "which of four words does this definition define?", the choice with the
  highest length-normalised log-likelihood after the question is the model's answer;
- perplexity of general English usage sentences (WordNet examples).
"""

from __future__ import annotations

from tunesmith.checks.context import MODELS
from tunesmith.checks.probe import held_out_items, question
from tunesmith.checks.registry import Check, register_check
from tunesmith.checks.stats import mean_base_vs_tuned, perplexity_base_vs_tuned


def _train_texts(ctx) -> list[str]:
    """Every string of every training row (prompt, response, message contents, text)."""
    from tunesmith.artifacts import read_jsonl
    from tunesmith.data.curate.rows import texts_of

    rows = read_jsonl(ctx.run_dir.data / "train.jsonl")
    return [t for r in rows for v in r.values() if isinstance(v, str | list) for t in texts_of(v)]


def _choices_correct(ctx, name: str, items) -> list[float]:
    pairs = [(question(i), " " + choice) for i in items for choice in i["choices"]]
    scores = ctx.continuation_nll(name, pairs)
    correct = []
    for n, item in enumerate(items):
        per_choice = scores[4 * n : 4 * n + 4]
        mean_nll = [nll / max(tokens, 1) for nll, tokens in per_choice]
        correct.append(float(mean_nll.index(min(mean_nll)) == item["answer"]))
    return correct


def _sentence_nll(ctx, name: str, items) -> list[tuple[float, int]]:
    return ctx.continuation_nll(name, [("", i["text"]) for i in items])


def run(ctx, settings) -> dict:
    items, dropped = held_out_items(_train_texts(ctx), settings.items)
    correct, nll = {}, {}
    for name in MODELS:
        correct[name] = _choices_correct(ctx, name, items)
        nll[name] = _sentence_nll(ctx, name, items)
    choice = mean_base_vs_tuned(ctx.recipe, "accuracy", correct["base"], correct["tuned"])
    perplexity = perplexity_base_vs_tuned(ctx.recipe, nll["base"], nll["tuned"])
    return {
        "items": len(items),
        "left_out_in_training": dropped,
        "chance": 0.25,
        "measures": {"multiple_choice_accuracy": choice, "general_perplexity": perplexity},
        "source": "WordNet 3.0 definitions and usage examples (checks/data/general_probe.jsonl.gz)",
    }


register_check(Check("forgetting", "Forgetting: general ability, base vs tuned", 10, run))
