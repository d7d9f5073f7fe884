"""Generation stops at the chat template's end of turn where it is not the tokenizer's EOS
(Qwen2.5 base: EOS `<|endoftext|>`, ChatML turns end with `<|im_end|>`): evaluation's fast
path and its fallback, the playground and the exported generation_config.json."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch

WORDS = (" python", " editor", " player")


@pytest.fixture(scope="module")
def base_chatml_tokenizer(tiny_model_dir):
    """The tiny ChatML tokenizer with Qwen2.5-base's EOS: `<|endoftext|>`, not `<|im_end|>`."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(
        tiny_model_dir, eos_token="<|endoftext|>", pad_token="<|endoftext|>"
    )


def _single_token(tokenizer, text: str) -> int:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == 1, (text, ids)
    return ids[0]


@pytest.fixture(scope="module")
def chained(base_chatml_tokenizer):
    """(model, prompt ids, first word): a model that answers the prompt with one word, then
    `<|im_end|>`, then runs on with other words (as the audit's tuned Qwen2.5-base did).

    Built so the next token depends only on the current one: the layers' output projections
    are zero (the residual stream is the token's embedding), and the untied output head
    points each chain token's row at the embedding of the token before it."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from tunesmith.models.formatting import encode_prompt

    tokenizer = base_chatml_tokenizer
    prompt = encode_prompt({"prompt": "Summarise: hello"}, tokenizer, 64)
    first, then, after = (_single_token(tokenizer, w) for w in WORDS)
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
        initializer_range=0.2,
    )
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        embed, head = model.model.embed_tokens.weight, model.lm_head.weight
        head.zero_()
        chain = [prompt[-1], first, im_end, then, after, then]
        for current, following in zip(chain, chain[1:], strict=False):
            head[following] += 10 * embed[current] / embed[current].norm()
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return model, prompt, WORDS[0].strip()


def test_turn_end_is_found_from_the_template(base_chatml_tokenizer, tiny_model_dir):
    from transformers import AutoTokenizer

    from tunesmith.models.stopping import turn_end_ids

    im_end = base_chatml_tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert turn_end_ids(base_chatml_tokenizer) == [im_end]
    plain = AutoTokenizer.from_pretrained(tiny_model_dir)
    plain.chat_template = None
    assert turn_end_ids(plain) == []  # the plain format ends a turn with EOS


@pytest.mark.parametrize("fast", [True, False])
def test_generation_stops_at_the_turn_end(chained, base_chatml_tokenizer, fast):
    from tunesmith.models.decode import fast_path_refusal
    from tunesmith.models.generation import generate_texts, generate_texts_hf

    model, prompt, word = chained
    assert fast_path_refusal(model) is None
    generate = generate_texts if fast else generate_texts_hf
    assert generate(model, base_chatml_tokenizer, [prompt], 8) == [word]


def test_playground_stops_at_the_turn_end(chained, base_chatml_tokenizer, tmp_path):
    from tunesmith.ui import playground

    model, _, word = chained
    recipe = SimpleNamespace(
        data=SimpleNamespace(system_prompt=None), training=SimpleNamespace(max_seq_length=64)
    )
    key = (str(tmp_path), "tuned")
    playground._MODELS[key] = (model, base_chatml_tokenizer, recipe)
    try:
        pieces = list(playground.stream(tmp_path, "tuned", "Summarise: hello", 8))
    finally:
        del playground._MODELS[key]
    assert "".join(pieces).strip() == word


def test_export_generation_config_lists_the_turn_end(chained, base_chatml_tokenizer, tmp_path):
    from tunesmith.export.build import stop_at_turn_end

    model, _, _ = chained
    stop_at_turn_end(model, base_chatml_tokenizer)
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "generation_config.json").read_text())
    eos, im_end = base_chatml_tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|im_end|>"])
    assert saved["eos_token_id"] == [eos, im_end]
    model.generation_config.eos_token_id = eos  # the module's model, as the other tests had it


def test_export_generation_config_unchanged_when_eos_ends_the_turn(tiny_model_dir):
    """SmolLM2-like (EOS is `<|im_end|>`): the saved file stays as transformers writes it."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunesmith.export.build import stop_at_turn_end

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    before = model.generation_config.eos_token_id
    stop_at_turn_end(model, tokenizer)
    assert model.generation_config.eos_token_id == before == tokenizer.eos_token_id
