"""Explainability: captum token attributions for k test examples and one attention map.

Feature ablation (captum's FeatureAblation, as its LLMAttribution does it, but batched): each
prompt token is replaced in turn by token id 0 and the drop in the log-likelihood of the
tuned model's own answer (its predicted label, or the first tokens of its generation) is that
token's attribution. The chat scaffolding (special tokens) is not attributed. Saved as data;
the report only reads it.
"""

from __future__ import annotations

from tunesmith.checks.context import prediction_inputs
from tunesmith.checks.registry import Check, register_check
from tunesmith.errors import UserError

ABLATIONS_PER_PASS = 16  # ablated copies of the prompt scored in one batched forward pass


def _prompt(ctx, example: dict) -> str:
    from tunesmith.models.formatting import conversation, render

    return render(conversation(example, with_answer=False), ctx.tokenizer, generation_prompt=True)


def _target(ctx, row: dict, max_new_tokens: int) -> str:
    answer = row["scores"].get("predicted_label") or row["prediction"] or row["reference"]
    ids = ctx.tokenizer(answer, add_special_tokens=False)["input_ids"][:max_new_tokens]
    return ctx.tokenizer.decode(ids)


def attribute(model, tokenizer, prompt: str, target: str, batch: int = ABLATIONS_PER_PASS) -> dict:
    """{tokens, attributions (one per prompt token), target} by captum feature ablation."""
    import torch
    from captum.attr import FeatureAblation

    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    answer = tokenizer(target, add_special_tokens=False, return_tensors="pt")["input_ids"]
    special = set(tokenizer.all_special_ids)
    where = torch.tensor([i for i, t in enumerate(ids[0].tolist()) if t not in special])

    def answer_log_prob(features):  # (B, F) prompt tokens, ablated ones set to id 0
        full = ids.repeat(len(features), 1)
        full[:, where] = features
        return _answer_log_probs(model, full, answer)

    # captum's LLMAttribution ablates one token per forward pass (batch size 1); the same
    # feature ablation through FeatureAblation itself batches `batch` ablations per pass.
    values = FeatureAblation(answer_log_prob).attribute(
        ids[0, where].unsqueeze(0), baselines=0, perturbations_per_eval=batch
    )
    tokens = tokenizer.convert_ids_to_tokens(ids[0, where].tolist())
    return {
        "tokens": [tokenizer.convert_tokens_to_string([t]) for t in tokens],
        "attributions": [float(v) for v in values[0].tolist()],
        "target": target,
    }


def _answer_log_probs(model, prompts, answer):
    """log P(answer | prompt) per row of `prompts` (B, T), through the supervised-logits path.

    Why not `model(...).logits`: that projects every position onto the vocabulary, and one
    pass's ablated copies share everything before their first ablated token; scoring only the
    answer positions, with that shared head run once (models/shared_head.py), halves the work.
    """
    import torch

    from tunesmith.models.formatting import IGNORE
    from tunesmith.models.nll import to_device
    from tunesmith.models.shared_head import supervised_logits_shared

    rows = len(prompts)
    answers = answer.repeat(rows, 1)
    seq = torch.cat([prompts, answers], dim=1)
    labels = torch.cat([torch.full_like(prompts, IGNORE), answers], dim=1)
    batch = {"input_ids": seq, "attention_mask": torch.ones_like(seq), "labels": labels}
    batch = to_device(batch, model)
    with torch.no_grad():
        chosen, targets = supervised_logits_shared(model, batch)
    picked = chosen.float().log_softmax(-1).gather(1, targets.unsqueeze(-1))
    return picked.view(rows, -1).sum(1).cpu()


def attention_map(model, tokenizer, prompt: str) -> dict:
    """Last layer's attention from the final prompt position to every token, per head."""
    import torch

    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    before = model.config._attn_implementation
    model.set_attn_implementation("eager")  # sdpa returns no attention weights
    try:
        with torch.no_grad():
            out = model(input_ids=ids.to(model.device), output_attentions=True)
    finally:
        model.set_attn_implementation(before)
    last = out.attentions[-1][0, :, -1, :]  # (heads, tokens)
    tokens = tokenizer.convert_ids_to_tokens(ids[0].tolist())
    return {
        "layer": len(out.attentions) - 1,
        "tokens": [tokenizer.convert_tokens_to_string([t]) for t in tokens],
        "heads": [[round(float(v), 4) for v in row] for row in last.tolist()],
    }


def run(ctx, settings) -> dict:
    rows = ctx.predictions("tuned")[: settings.k]
    by_id = {e["id"]: e for e in ctx.test}
    model = ctx.model("tuned")
    reuse = ctx.saved_outputs("tuned")
    examples = []
    for row in rows:
        prompt = _prompt(ctx, by_id[row["id"]])
        target = _target(ctx, row, settings.max_new_tokens)
        found = _attributed(model, ctx.tokenizer, prompt, target, reuse)
        examples.append({"id": row["id"], "reference": row["reference"], **found})
    first = _prompt(ctx, by_id[rows[0]["id"]])
    return {
        "model": "tuned",
        "method": "feature ablation (captum FeatureAblation, batched)",
        "examples": examples,
        "attention": attention_map(model, ctx.tokenizer, first),
    }


def _attributed(model, tokenizer, prompt: str, target: str, reuse) -> dict:
    """`attribute`, or the attributions an earlier run on this machine computed for the same
    model, prompt and target (evaluate/reuse.py: the same key rules as a generation)."""
    if reuse is None:
        return attribute(model, tokenizer, prompt, target)
    key = reuse.key([prompt], [target], {"explain": "feature ablation"})
    hit = reuse.find(key)
    if hit is not None and "attribution" in hit[0]:
        return hit[0]["attribution"]
    found = attribute(model, tokenizer, prompt, target)
    reuse.keep({key: {"attribution": found}})
    return found


def _skip(recipe) -> str | None:
    from importlib.util import find_spec

    from tunesmith.config.tasks import task_spec

    if not task_spec(recipe.task).generates:
        return f"not applicable to the {recipe.task} task: nothing is generated to attribute"
    if find_spec("captum") is None:
        return "captum is not installed (pip install 'tunesmith[checks]')"
    return None


def _validate(recipe, run_dir) -> None:
    from tunesmith.artifacts import read_jsonl

    n = len(read_jsonl(run_dir.data / "test.jsonl")[: recipe.evaluation.sample_size])
    if recipe.checks.explain.k > n:
        raise UserError(
            f"checks.explain.k: {recipe.checks.explain.k} examples asked, the test set has {n}"
        )


register_check(
    Check(
        "explain",
        "Explainability: token attributions and attention",
        40,
        run,
        skip_reason=_skip,
        inputs=prediction_inputs,
        validate=_validate,
    )
)
