"""Explainability: captum token attributions for k test examples and one attention map.

Feature ablation (captum's FeatureAblation, as its LLMAttribution does it, but batched): each
prompt token is replaced in turn by token id 0 and the drop in the log-likelihood of the
tuned model's own answer (its predicted label, or the first tokens of its generation) is that
token's attribution. Only the messages' own text is attributed, not the chat scaffolding
(special tokens, role markers, a default system prompt the template adds): it is the same for
every example, and ablating it was a fifth of the demo's passes (116 tokens, 91 its own
text). The prompt is the one the tuned model answered from: evaluation cuts an over-long
prompt in its middle to `training.max_seq_length` (a long chat is most of its turns), and
ablating every token of the whole conversation instead took minutes per example for a model
that never saw most of them. Saved as data; the report only reads it.
"""

from __future__ import annotations

from tunesmith.checks.context import prediction_inputs
from tunesmith.checks.registry import Check, register_check
from tunesmith.errors import UserError

ABLATIONS_PER_PASS = 16  # ablated copies of the prompt scored in one batched forward pass


def _prompt(ctx, example: dict) -> tuple[str, list[tuple[int, int]] | None]:
    """The chat-formatted prompt, and the character spans of its messages' own text."""
    from tunesmith.models.formatting import conversation, render

    messages = conversation(example, with_answer=False)
    prompt = render(messages, ctx.tokenizer, generation_prompt=True)
    return prompt, message_spans(prompt, [m["content"] for m in messages])


def message_spans(prompt: str, contents: list[str]) -> list[tuple[int, int]] | None:
    """Where each message's text sits in the rendered prompt, found in order; None when one
    is not there verbatim (a template that rewrites text: every token is attributed then)."""
    spans, start = [], 0
    for content in contents:
        found = prompt.find(content, start)
        if found < 0:
            return None
        spans.append((found, found + len(content)))
        start = found + len(content)
    return spans


def _target(ctx, row: dict, max_new_tokens: int) -> str:
    answer = row["scores"].get("predicted_label") or row["prediction"] or row["reference"]
    ids = ctx.tokenizer(answer, add_special_tokens=False)["input_ids"][:max_new_tokens]
    return ctx.tokenizer.decode(ids)


def attribute(
    model,
    tokenizer,
    prompt: str,
    target: str,
    batch: int = ABLATIONS_PER_PASS,
    spans: list[tuple[int, int]] | None = None,
    seen: list[int] | None = None,
) -> dict:
    """{tokens, attributions (one per attributed prompt token), target} by captum feature
    ablation; with `spans` (character ranges of the messages' own text) only the tokens in
    them are attributed, not the template's role markers or default system prompt; with
    `seen` (the prompt's token ids with its middle cut, as the model answered from) only
    those tokens are the prompt."""
    import torch
    from captum.attr import FeatureAblation

    tokens, offsets = _encode(tokenizer, prompt, spans)
    inside = _in_spans(offsets, spans, len(tokens))
    if seen is not None:
        tokens, inside = seen, _inside_kept(tokens, seen, inside)
    ids = torch.tensor([tokens])
    answer = tokenizer(target, add_special_tokens=False, return_tensors="pt")["input_ids"]
    special = set(tokenizer.all_special_ids)
    chosen = [i for i, t in enumerate(tokens) if t not in special and inside[i]]
    where = torch.tensor(chosen or [i for i, t in enumerate(tokens) if t not in special])

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


def _encode(tokenizer, prompt: str, spans) -> tuple[list[int], list | None]:
    """The prompt's token ids, and each token's character offsets where spans need them (a
    fast tokenizer; a slow one has none, and every token is attributed)."""
    if spans is not None and getattr(tokenizer, "is_fast", False):
        encoded = tokenizer(prompt, add_special_tokens=False, return_offsets_mapping=True)
        return encoded["input_ids"], encoded["offset_mapping"]
    return tokenizer(prompt, add_special_tokens=False)["input_ids"], None


def _in_spans(offsets, spans, length: int) -> list[bool]:
    """Per token: does its text overlap one of `spans` (all True without spans/offsets)?"""
    if spans is None or offsets is None:
        return [True] * length
    return [any(start < high and low < end for low, high in spans) for start, end in offsets]


def _inside_kept(full: list[int], kept: list[int], inside: list[bool]) -> list[bool]:
    """`inside` for the tokens of `kept`, the `full` prompt with its middle cut: its beginning
    and end are the full prompt's; tokens between them that differ (a cut by characters
    retokenised at the seam) lie inside the cut message's text."""
    head = next((i for i, (a, b) in enumerate(zip(full, kept)) if a != b), len(kept))
    room = min(len(full), len(kept)) - head
    tail = next((i for i in range(room) if full[-1 - i] != kept[-1 - i]), room)
    return inside[:head] + [True] * (len(kept) - head - tail) + inside[len(full) - tail :]


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


def attention_map(model, tokenizer, prompt: list[int]) -> dict:
    """Last layer's attention from the final prompt position (token ids) to every token,
    per head."""
    import torch

    ids = torch.tensor([prompt])
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
    examples, seen_by = [], []
    for row in rows:
        example = by_id[row["id"]]
        prompt, spans = _prompt(ctx, example)
        seen_by.append(_seen(ctx, example))
        target = _target(ctx, row, settings.max_new_tokens)
        found = _attributed(model, ctx.tokenizer, (prompt, seen_by[-1]), target, reuse, spans)
        examples.append({"id": row["id"], "reference": row["reference"], **found})
    return {
        "model": "tuned",
        "method": "feature ablation (captum FeatureAblation, batched)",
        "examples": examples,
        "attention": attention_map(model, ctx.tokenizer, seen_by[0]),
    }


def _seen(ctx, example: dict) -> list[int]:
    """The prompt ids the tuned model answered `example` from (cut as evaluation cuts it)."""
    from tunesmith.evaluate.scoring import answered_prompt

    return answered_prompt(example, ctx.tokenizer, ctx.recipe, ctx.labels)[0]


def _attributed(model, tokenizer, prompt: tuple[str, list[int]], target: str, reuse, spans):
    """`attribute` of the prompt (its text, and the ids the model saw), or the attributions
    an earlier run on this machine computed for the same model, prompt ids, target and
    attributed spans (evaluate/reuse.py: the same key rules as a generation)."""
    text, seen = prompt
    if reuse is None:
        return attribute(model, tokenizer, text, target, spans=spans, seen=seen)
    key = reuse.key([seen], [target], {"explain": "feature ablation", "spans": spans})
    hit = reuse.find(key)
    if hit is not None and "attribution" in hit[0]:
        return hit[0]["attribution"]
    found = attribute(model, tokenizer, text, target, spans=spans, seen=seen)
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

    _fits_test(recipe, len(read_jsonl(run_dir.data / "test.jsonl")))


def _fits_test(recipe, test_count: int) -> None:
    """k examples are explained among the test examples evaluation scores."""
    size = recipe.evaluation.sample_size
    n = test_count if size is None else min(test_count, size)
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
        fits_test=_fits_test,
    )
)
