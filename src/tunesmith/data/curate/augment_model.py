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
    """The model's sampled answer to each request, asked as a user turn and rendered as
    training and evaluation render prompts (models/formatting.py: Qwen3 without thinking, the
    plain `### User:` format for a model without a chat template), through the one generation
    path evaluation uses (models/generation.py)."""
    from tunesmith.models.formatting import conversation, render
    from tunesmith.models.generation import generate_texts
    from tunesmith.models.sampling import Sampling

    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    asked = [conversation({"prompt": r}, with_answer=False) for r in requests]
    prompts = [render(messages, tokenizer, generation_prompt=True) for messages in asked]
    ids = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    sampling = Sampling(temperature=0.8, top_p=0.9, seed=seed)
    return generate_texts(model, tokenizer, ids, max_new_tokens, BATCH, sampling=sampling)


def usable(answer: str, original: str, prefix: str = "Rewritten text:") -> str | None:
    """The answer without its echoed label; None when empty or the original unchanged."""
    answer = answer.strip().removeprefix(prefix).strip()
    if not answer or answer.casefold() == original.strip().casefold():
        return None
    return answer
