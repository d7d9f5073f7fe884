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


def test_only_the_messages_own_text_is_attributed(tiny_model_dir):
    """With the messages' spans, the template's role markers are left out and every token
    kept has the attribution it has when all tokens are ablated (one token per feature)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunesmith.checks.explain import attribute, message_spans

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    contents = ["Be brief.", "Summarise: a small tool for the shell"]
    messages = [
        {"role": "system", "content": contents[0]},
        {"role": "user", "content": contents[1]},
    ]
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    spans = message_spans(prompt, contents)
    assert [prompt[a:b] for a, b in spans] == contents
    every = attribute(model, tokenizer, prompt, " tool for", batch=5)
    own = attribute(model, tokenizer, prompt, " tool for", batch=5, spans=spans)
    assert "".join(own["tokens"]).replace(" ", "") == "".join(contents).replace(" ", "")
    encoded = tokenizer(prompt, add_special_tokens=False, return_offsets_mapping=True)
    special = set(tokenizer.all_special_ids)
    attributed = [  # positions among every["tokens"] (the non-special ones) inside a span
        n
        for n, (_token, (start, end)) in enumerate(
            (t, o)
            for t, o in zip(encoded["input_ids"], encoded["offset_mapping"], strict=True)
            if t not in special
        )
        if any(start < high and low < end for low, high in spans)
    ]
    assert len(every["tokens"]) > len(attributed) == len(own["tokens"])
    expected = [every["attributions"][n] for n in attributed]
    assert own["attributions"] == pytest.approx(expected, abs=1e-5)


def test_a_message_the_template_rewrote_attributes_every_token():
    from tunesmith.checks.explain import message_spans

    assert message_spans("<s>user: hello</s>", ["hello"]) == [(9, 14)]
    assert message_spans("<s>user: HELLO</s>", ["hello"]) is None


@pytest.mark.parametrize("task", ["chat", "classification"])
def test_a_long_prompt_is_attributed_as_evaluation_cut_it(tiny_model_dir, task):
    """A long chat (or text) is answered from its prompt cut to max_seq_length: the check
    ablates those tokens, not the whole conversation (minutes per example on real chats)."""
    from types import SimpleNamespace

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tunesmith.checks import explain
    from tunesmith.config.schema import Recipe
    from tunesmith.evaluate.scoring import answered_prompt

    data = {"train": "train.jsonl", "input_field": "x", "output_field": "y"}
    recipe = Recipe.model_validate(
        {
            "task": task,
            "model": {"name": str(tiny_model_dir), "precision": "fp32"},
            "data": {"train": "train.jsonl"} if task == "chat" else data,
            "training": {"max_seq_length": 40},
        }
    )
    words = " ".join(f"word{i}" for i in range(60))
    if task == "chat":
        turns = [("user", "hello there"), ("assistant", words), ("user", "and then?")]
        messages = [{"role": r, "content": c} for r, c in turns + [("assistant", "ok")]]
        example = {"id": "a", "messages": messages}
    else:
        example = {"id": "a", "prompt": f"Which section? {words} end", "response": "devel"}
    row = {"id": "a", "prediction": "ok", "reference": "ok", "scores": {}}
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    ctx = SimpleNamespace(
        recipe=recipe,
        tokenizer=tokenizer,
        test=[example],
        labels=["devel", "utils"] if task == "classification" else None,
        predictions=lambda name: [row],
        model=lambda name: AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval(),
        saved_outputs=lambda name: None,
    )
    settings = SimpleNamespace(k=1, max_new_tokens=2)
    found = explain.run(ctx, settings)
    seen, cut = answered_prompt(example, tokenizer, recipe, ctx.labels)
    assert cut and len(seen) <= 40
    assert len(found["attention"]["tokens"]) == len(seen)
    attributed = found["examples"][0]["tokens"]
    # the messages' own text of the cut prompt: fewer tokens than the prompt, none of them special
    assert 10 < len(attributed) < len(seen)
    text = "".join(attributed)
    if task == "chat":  # the latest turns, the question answered whole
        assert text.endswith("word59and then?") and "hello" not in text and "word0 " not in text
    else:  # the opening and the end, not the middle
        assert text.startswith("Which section? word0") and "word30" not in text
