"""Score one model on examples: perplexity, generations, task metrics; and base-vs-tuned deltas."""

from __future__ import annotations

from tunesmith.config.schema import Recipe
from tunesmith.metrics import compute_metrics
from tunesmith.models.formatting import encode_example, encode_prompt, reference
from tunesmith.models.nll import perplexity


def score_model(model, tokenizer, examples, recipe: Recipe, generate: bool, labels, on_batch):
    """(metrics, predictions or None) for `model` on `examples`."""
    metrics_wanted = recipe.metrics()
    cfg, gen = recipe.training, recipe.evaluation.generation
    metrics: dict[str, float] = {}
    if "perplexity" in metrics_wanted:
        items = [encode_example(e, tokenizer, cfg.max_seq_length) for e in examples]
        metrics["perplexity"] = perplexity(model, items, cfg.batch_size, tokenizer.pad_token_id)
    if not generate:
        return metrics, None
    from tunesmith.models.generation import generate_texts

    prompts = [
        encode_prompt(e, tokenizer, cfg.max_seq_length + gen.max_new_tokens, gen.max_new_tokens)
        for e in examples
    ]
    outputs = generate_texts(
        model, tokenizer, prompts, gen.max_new_tokens, gen.batch_size, on_batch
    )
    references = [reference(e) for e in examples]
    metrics.update(compute_metrics(metrics_wanted, outputs, references, labels=labels))
    predictions = [
        {"id": e["id"], "prompt": _prompt_text(e), "reference": ref, "prediction": out}
        for e, ref, out in zip(examples, references, outputs, strict=True)
    ]
    return metrics, predictions


def _prompt_text(example: dict) -> str:
    if "messages" in example:
        users = [m["content"] for m in example["messages"] if m["role"] == "user"]
        return users[-1] if users else ""
    return example.get("prompt", "")


def compare(base: dict, tuned: dict, n: int) -> dict:
    """Absolute and relative change of every metric, with the sample size."""
    rows = {}
    for name, before in base.items():
        after = tuned.get(name)
        if after is None:
            continue
        rows[name] = {
            "base": before,
            "tuned": after,
            "delta": after - before,
            "relative": (after - before) / abs(before) if before else None,
            "better": (after < before) if name == "perplexity" else (after > before),
        }
    return {"sample_size": n, "metrics": rows}
