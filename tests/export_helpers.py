"""A small finished-run recipe for the export and distillation tests (tiny random Llama)."""

from __future__ import annotations

from conftest import make_records, write_recipe

from tunesmith.config import load_recipe

SMALL_SETTINGS = {
    "training": {"max_steps": 4, "batch_size": 4, "max_seq_length": 96, "eval_every": 2},
    # bleu off: its paired bootstrap is the slowest statistic, and rouge + perplexity suffice
    "evaluation": {"generation": {"max_new_tokens": 4}, "metrics": ["perplexity", "rouge"]},
}


# Llama 3.2's scaling; with head_dim 64 and base 5e5 the rotary wavelengths run from 2*pi to
# ~1.3M positions, so some are shorter than 8192 / 4 (kept), some longer than 8192 / 1 (slowed
# 32x) and three fall between (blended): every branch of the scaling is checked
LLAMA3 = {
    "rope_type": "llama3",
    "rope_theta": 500000.0,
    "factor": 32.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 8192,
}


def small_recipe(folder, model_dir, **sections):
    """40 synthetic records, 4 training steps, 8 test examples; `sections` added as given."""
    split = {"validation": 4, "test": 8}
    settings = {**SMALL_SETTINGS, **sections}
    return load_recipe(write_recipe(folder, model_dir, make_records(40), split, **settings))


def split_bpe_tokenizer(folder, pattern: str, ignore_merges: bool = False, nfc: bool = False):
    """A byte-level BPE tokenizer saved in `folder` that splits with `pattern` first, the way
    Llama 3's and Qwen2's tokenizer.json do (Split, then ByteLevel without its own regex);
    Qwen2's also NFC-normalises. Trained on the synthetic records, ChatML specials."""
    from conftest import save_chatml_tokenizer
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

    tok = Tokenizer(models.BPE(unk_token=None, ignore_merges=ignore_merges))
    if nfc:
        tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    pattern_cases = "I've 12345 it's 3.14\n\n  spaced\ttabs don't"  # what the patterns split
    return save_chatml_tokenizer(folder, tok, [pattern_cases, "hello"])


def tiny_causal_lm(
    folder, model_type: str, tokenizer, tied: bool = True, extra_rows: int = 0, **config
):
    """A tiny random llama or qwen2 model saved in `folder` for `tokenizer`; `extra_rows`
    embedding rows beyond the tokenizer's ids (Qwen2 pads its vocabulary so), biases random;
    `config`: config keywords added or replaced (rope settings, head_dim)."""
    import torch
    from conftest import tiny_decoder_config
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    config_class, model_class = {
        "llama": (LlamaConfig, LlamaForCausalLM),
        "qwen2": (Qwen2Config, Qwen2ForCausalLM),
    }[model_type]
    config = {**tiny_decoder_config(tokenizer, extra_rows), "tie_word_embeddings": tied, **config}
    torch.manual_seed(0)
    model = model_class(config_class(**config))
    with torch.no_grad():  # every weight (q/k/v biases too) away from its zero / one init
        for parameter in model.parameters():
            parameter.normal_(std=0.2)
    model.save_pretrained(folder)
    return model.eval()
