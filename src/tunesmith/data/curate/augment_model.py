"""Model-written rows: paraphrases by a causal LM (the base model by default), and the
generation helper back-translation shares (augment_translate.py)."""

from __future__ import annotations

from tunesmith.config.curation import AugmentConfig
from tunesmith.data.curate.augment import AUGMENTERS

PARAPHRASE_PROMPT = (
    "Rewrite the following text with different wording but exactly the same meaning. "
    "Answer with the rewritten text only.\n\nText: {text}"
)
BATCH = 8


@AUGMENTERS.register("paraphrase")
def paraphrase(config: AugmentConfig, ctx):
    if config.paraphrase_model is None and ctx.load_model is None:
        return "skipped: no model to paraphrase with (no base model in this context)"

    def run(texts: list[str]) -> list[str | None]:
        model, tokenizer = load_rewriter(config.paraphrase_model, ctx)
        prompts = [PARAPHRASE_PROMPT.format(text=t) for t in texts]
        answers = rewrite(model, tokenizer, prompts, config.paraphrase_max_new_tokens, ctx.seed)
        return [usable(a, t) for a, t in zip(answers, texts, strict=True)]

    return run


def load_rewriter(name: str | None, ctx):
    """(model, tokenizer) of a causal LM: `name`, else the context's base model."""
    if name is None:
        return ctx.load_model()
    from tunesmith.config.schema import ModelConfig
    from tunesmith.models import load_model_and_tokenizer

    return load_model_and_tokenizer(ModelConfig(name=name))


def rewrite(model, tokenizer, requests: list[str], max_new_tokens: int, seed: int) -> list[str]:
    """The model's answer to each request (chat-formatted when it has a template), batched."""
    out: list[str] = []
    for start in range(0, len(requests), BATCH):
        batch = requests[start : start + BATCH]
        out += _generate(model, tokenizer, batch, max_new_tokens, seed + start)
    return out


def _generate(model, tokenizer, requests, max_new_tokens: int, seed: int) -> list[str]:
    import torch

    prompts = [_prompt(tokenizer, r) for r in requests]
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    try:
        batch = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        batch = {k: v.to(model.device) for k, v in batch.items()}
        torch.manual_seed(seed)
        with torch.no_grad():
            generated = model.generate(
                **batch,
                max_new_tokens=max_new_tokens,
                do_sample=True,
                top_p=0.9,
                temperature=0.8,
                pad_token_id=tokenizer.pad_token_id,
            )
    finally:
        tokenizer.padding_side = side
    new_tokens = generated[:, batch["input_ids"].shape[1] :]
    return tokenizer.batch_decode(new_tokens, skip_special_tokens=True)


def _prompt(tokenizer, text: str) -> str:
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
        )
    return text + "\n\nRewritten text:"


def usable(answer: str, original: str, prefix: str = "Rewritten text:") -> str | None:
    """The answer without its echoed label; None when empty or the original unchanged."""
    answer = answer.strip().removeprefix(prefix).strip()
    if not answer or answer.casefold() == original.strip().casefold():
        return None
    return answer
