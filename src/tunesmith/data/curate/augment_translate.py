"""Back-translation through the model classes (transformers 5 has no `translation` pipeline).

Each direction is a model: a seq2seq translation model (Marian, T5, NLLB... loaded with
AutoModelForSeq2SeqLM, its direction fixed by the model) or any causal chat model prompted
to translate. Without `translation_models` the paraphrase model (the base model) translates
source -> pivot -> source. The fidelity filter (augment_fidelity.py) then drops round trips
that lost the meaning: small chat models translate loosely.
"""

from __future__ import annotations

from collections.abc import Callable

from tunesmith.config.curation import AugmentConfig
from tunesmith.data.curate.augment import AUGMENTERS
from tunesmith.data.curate.augment_model import BATCH, load_rewriter, rewrite, usable
from tunesmith.errors import UserError

TRANSLATE_PROMPT = (
    "Translate the following text into {language}. Answer with the translation only.\n\n"
    "Text: {text}"
)
# texts, target language -> translations
Translate = Callable[[list[str], str], list[str]]


@AUGMENTERS.register("backtranslation")
def backtranslation(config: AugmentConfig, ctx):
    models = config.translation_models  # two, or None (the schema checks)
    if models is None and config.paraphrase_model is None and ctx.load_model is None:
        return "skipped: no model to translate with (no base model in this context)"

    def run(texts: list[str]) -> list[str | None]:
        there_name, back_name = models or [config.paraphrase_model] * 2
        there = translator(there_name, config, ctx)
        back = there if back_name == there_name else translator(back_name, config, ctx)
        middle = there(texts, config.pivot_language)
        returned = back(middle, config.source_language)
        return [
            usable(r, t, prefix="Translation:") if m.strip() else None
            for r, m, t in zip(returned, middle, texts, strict=True)
        ]

    return run


def translator(name: str | None, config: AugmentConfig, ctx) -> Translate:
    """A seq2seq model's translations when `name` is one, else a chat model's, prompted."""
    if name is not None and _is_seq2seq(name):
        return _seq2seq(name, config.paraphrase_max_new_tokens)
    model, tokenizer = load_rewriter(name, ctx)

    def chat(texts: list[str], language: str) -> list[str]:
        prompts = [TRANSLATE_PROMPT.format(language=language, text=t) for t in texts]
        return rewrite(model, tokenizer, prompts, config.paraphrase_max_new_tokens, ctx.seed)

    return chat


def _is_seq2seq(name: str) -> bool:
    from transformers import AutoConfig

    try:
        return bool(AutoConfig.from_pretrained(name).is_encoder_decoder)
    except (OSError, ValueError) as exc:
        raise UserError(f"data.curation.augment.translation_models: {name}: {exc}") from None


def _seq2seq(name: str, max_new_tokens: int) -> Translate:
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    try:  # a slow sentencepiece tokenizer (Marian without tokenizer.json) needs the package
        tokenizer = AutoTokenizer.from_pretrained(name)
    except (ImportError, ValueError, OSError) as exc:
        raise UserError(
            f"data.curation.augment.translation_models: {name}: its tokenizer does not load "
            f"({str(exc).splitlines()[0][:160]}); pip install sentencepiece, or give a model "
            "folder with a tokenizer.json"
        ) from None
    model = AutoModelForSeq2SeqLM.from_pretrained(name).eval()

    def run(texts: list[str], language: str) -> list[str]:  # the model fixes the language
        out: list[str] = []
        for start in range(0, len(texts), BATCH):
            batch = tokenizer(
                texts[start : start + BATCH], return_tensors="pt", padding=True, truncation=True
            )
            with torch.no_grad():  # greedy: a translation, not a sample
                ids = model.generate(**batch, max_new_tokens=max_new_tokens, num_beams=1)
            out += tokenizer.batch_decode(ids, skip_special_tokens=True)
        return out

    return run
