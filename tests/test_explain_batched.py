"""The batched feature ablation equals captum's own LLMAttribution (one token per pass)."""

from __future__ import annotations

import pytest


def test_batched_attributions_equal_captum_llm_attribution(tiny_model_dir):
    import torch
    from captum.attr import FeatureAblation, LLMAttribution, TextTokenInput
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunesmith.checks.explain import attribute

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    messages = [{"role": "user", "content": "Summarise: a small tool for the shell"}]
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ours = attribute(model, tokenizer, prompt, " tool for", batch=5)
    inputs = TextTokenInput(prompt, tokenizer, skip_tokens=list(tokenizer.all_special_ids))
    with torch.no_grad():
        reference = LLMAttribution(FeatureAblation(model), tokenizer).attribute(
            inputs, target=" tool for", forward_in_tokens=False
        )
    assert len(ours["attributions"]) == len(reference.seq_attr) > 5
    assert ours["attributions"] == pytest.approx(reference.seq_attr.tolist(), abs=1e-4)
    assert "".join(ours["tokens"]).strip().startswith("user")
