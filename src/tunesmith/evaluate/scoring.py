"""Score one model on examples: each example's own scores (NLL, generation, task metrics)."""

from __future__ import annotations

import hashlib
import json

from tunesmith.config.schema import Recipe
from tunesmith.errors import UserError
from tunesmith.metrics.per_example import example_scores
from tunesmith.models.formatting import conversation, encode_example, fit_prompt, reference
from tunesmith.models.truncation import mark_cuts


def score_model(
    model,
    tokenizer,
    examples,
    recipe: Recipe,
    generate: bool,
    labels,
    on_batch,
    reuse=None,
    *,
    stop: tuple[str, ...],
):
    """Prediction rows for `model` on `examples` (demos, if any, are in the examples);
    `reuse` (evaluate/reuse.py) holds earlier generations of the same model to take again;
    `stop`: the run's stop strings (evaluate/stop.py `stop_strings`)."""
    names = recipe.metrics()
    cfg, gen = recipe.training, recipe.evaluation.generation
    rows = [prediction_row(e) for e in examples]
    items = (
        [encode_example(e, tokenizer, cfg.max_seq_length, last_answer=True) for e in examples]
        if "perplexity" in names
        else None
    )
    by_label = labels and recipe.evaluation.classification.scoring == "likelihood"
    answers = None
    if generate and not by_label:
        from tunesmith.evaluate.reuse import generate_reusing
        from tunesmith.models.joint import answers_after

        fitted = [answered_prompt(e, tokenizer, recipe) for e in examples]
        prompts = [ids for ids, _ in fitted]
        mark_cuts(rows, [cut for _, cut in fitted], "prompt")
        # the references' perplexity from the generation's own prefill where the tokens agree
        answers = answers_after(prompts, items) if items is not None else None
        outputs, keys, sources = generate_reusing(
            model,
            tokenizer,
            prompts,
            gen.max_new_tokens,
            gen.batch_size,
            on_batch,
            reuse,
            answers,
            stop,
        )
        for row, key, source in zip(rows, keys, sources, strict=True):
            if key:
                row["generation_key"] = key
            if source:
                row["reused"] = source  # "run" (this folder) or "machine" (an earlier run)
    if items is not None:
        mark_cuts(rows, [item.prompt_cut for item in items], "scored_prompt")
        mark_cuts(rows, [item.answer_cut for item in items], "scored_answer")
        for row, (nll, tokens) in zip(
            rows, _nll(model, items, answers, recipe, tokenizer, reuse), strict=True
        ):
            row["scores"].update(nll=nll, tokens=tokens)
        _require_scored_tokens(rows, cfg.max_seq_length)
    if not generate:
        return rows
    if by_label:
        outputs = _most_likely_labels(model, tokenizer, examples, recipe, labels, rows, on_batch)
    references = [row["reference"] for row in rows]
    scores = example_scores(names, outputs, references, labels)
    for row, output, extra in zip(rows, outputs, scores, strict=True):
        row["prediction"] = output
        row["scores"].update(extra)
    return rows


def answered_prompt(example: dict, tokenizer, recipe: Recipe, labels=None) -> tuple[list, bool]:
    """The prompt ids a model answers `example` from, and whether they were cut: at most
    max_seq_length tokens (a longer prompt loses its middle), less the longest label's tokens
    when classes are scored by likelihood (`labels`)."""
    length = recipe.training.max_seq_length
    if labels and recipe.evaluation.classification.scoring == "likelihood":
        from tunesmith.models.label_scoring import label_room

        return fit_prompt(example, tokenizer, length, label_room(example, labels, tokenizer))
    room = recipe.evaluation.generation.max_new_tokens
    return fit_prompt(example, tokenizer, length + room, room)


def _require_scored_tokens(rows: list[dict], max_length: int) -> None:
    """Perplexity over no token is exp(0 / 0), not 1: an error rather than a perfect score."""
    if not sum(row["scores"]["tokens"] for row in rows):
        raise UserError(
            f"evaluation: no reference token was scored within max_seq_length {max_length}; "
            "perplexity is undefined (raise training.max_seq_length or drop 'perplexity')"
        )


def _nll(model, items, answers, recipe, tokenizer, reuse) -> list[tuple[float, int]]:
    """Each item's (NLL sum, tokens): those the generation scored (or a saved record of it),
    the rest in their own pass, unless the same model scored them before (`reuse`)."""
    from tunesmith.evaluate.reuse import nll_reusing

    scored = answers.nll if answers is not None else {}
    rest = [i for i in range(len(items)) if i not in scored]
    batch, pad = recipe.training.batch_size, tokenizer.pad_token_id
    computed = nll_reusing(model, [items[i] for i in rest], batch, pad, reuse)
    found = dict(zip(rest, computed, strict=True))
    return [scored[i] if i in scored else found[i] for i in range(len(items))]


def _most_likely_labels(model, tokenizer, examples, recipe, labels, rows, on_batch) -> list[str]:
    """Label-likelihood classification: each row gets every label's probability, and the
    "prompt" cut mark where its prompt was cut to leave room for the longest label."""
    from tunesmith.evaluate.classify import label_predictions

    scored = label_predictions(
        model,
        tokenizer,
        examples,
        labels,
        recipe.training.max_seq_length,
        recipe.evaluation.classification,
        on_batch,
    )
    for row, result in zip(rows, scored, strict=True):
        row["probabilities"] = result["probabilities"]
    mark_cuts(rows, [result["prompt_cut"] for result in scored], "prompt")
    return [result["prediction"] for result in scored]


def prediction_row(example: dict) -> dict:
    """The fields of a predictions file row that do not depend on the model."""
    plain = {k: v for k, v in example.items() if k not in ("demos", "id", "meta")}
    prompt = _prompt_text(example)
    return {
        "id": example["id"],
        # content key: matches the same test example across runs whose ids differ
        "key": example_key(plain),
        "prompt": prompt,
        "reference": reference(example),
        "input_words": len(prompt.split()),
        "meta": example.get("meta", {}),
        "prediction": "",
        "scores": {},
    }


def example_key(example: dict) -> str:
    content = example["text"] if "text" in example else conversation(example)
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]


def _prompt_text(example: dict) -> str:
    """The input shown beside the reference: for chat, the last user turn of the context the
    model answers from (before the reference turn, not any unanswered turn after it)."""
    if "messages" in example:
        context = conversation(example, with_answer=False)
        users = [m["content"] for m in context if m["role"] == "user"]
        return users[-1] if users else ""
    return example.get("prompt", example.get("text", ""))
