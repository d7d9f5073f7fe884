"""Model-based augmenters: paraphrases by a causal LM (the base model by default) and
back-translation through two translation models (only when configured)."""

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
        model, tokenizer = _load(config, ctx)
        out: list[str | None] = []
        for start in range(0, len(texts), BATCH):
            out += generate_paraphrases(
                model,
                tokenizer,
                texts[start : start + BATCH],
                config.paraphrase_max_new_tokens,
                ctx.seed + start,
            )
        return out

    return run


def _load(config: AugmentConfig, ctx):
    if config.paraphrase_model is None:
        return ctx.load_model()
    from tunesmith.config.schema import ModelConfig
    from tunesmith.models import load_model_and_tokenizer

    return load_model_and_tokenizer(ModelConfig(name=config.paraphrase_model))


def generate_paraphrases(model, tokenizer, texts, max_new_tokens: int, seed: int):
    """One sampled paraphrase per text; None where the model returned nothing new."""
    from tunesmith.models.generation import generate_texts
    from tunesmith.models.sampling import Sampling

    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    prompts = [_prompt(tokenizer, PARAPHRASE_PROMPT.format(text=t)) for t in texts]
    ids = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    sampling = Sampling(temperature=0.8, top_p=0.9, seed=seed)
    answers = generate_texts(model, tokenizer, ids, max_new_tokens, len(ids), sampling=sampling)
    return [_usable(a, t) for a, t in zip(answers, texts, strict=True)]


def _prompt(tokenizer, text: str) -> str:
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
        )
    return text + "\n\nRewritten text:"


def _usable(answer: str, original: str) -> str | None:
    answer = answer.strip().removeprefix("Rewritten text:").strip()
    if not answer or answer.casefold() == original.strip().casefold():
        return None
    return answer


@AUGMENTERS.register("backtranslation")
def backtranslation(config: AugmentConfig, ctx):
    models = config.translation_models or []
    if len(models) != 2:
        return (
            "skipped: back-translation needs augment.translation_models = [there, back] "
            "(two translation models); none configured"
        )

    def run(texts: list[str]) -> list[str | None]:
        from transformers import pipeline

        there, back = (pipeline("translation", model=name) for name in models)
        middle = [r["translation_text"] for r in there(texts, batch_size=BATCH)]
        return [
            _usable(r["translation_text"], t)
            for r, t in zip(back(middle, batch_size=BATCH), texts, strict=True)
        ]

    return run
