"""Loss masking: only the answer and its stop token carry labels (pad == eos here)."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from tunesmith.models.formatting import IGNORE, encode_example, encode_prompt


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


def labelled_text(tokenizer, encoded) -> str:
    return tokenizer.decode(
        [t for t, lab in zip(encoded.input_ids, encoded.labels) if lab != IGNORE]
    )


def test_only_response_and_stop_token_are_labelled(tokenizer):
    assert tokenizer.pad_token_id == tokenizer.eos_token_id  # the SmolLM2 trap
    encoded = encode_example(
        {"prompt": "Summarise: a b c", "response": "python editor"}, tokenizer, 128
    )
    assert labelled_text(tokenizer, encoded) == "python editor<|im_end|>\n"
    stop = tokenizer.eos_token_id
    assert stop in [t for t, lab in zip(encoded.input_ids, encoded.labels) if lab != IGNORE]


def test_prompt_ids_are_a_prefix_of_training_ids(tokenizer):
    example = {"prompt": "Summarise: a b c", "response": "python editor", "system": "Be brief."}
    encoded = encode_example(example, tokenizer, 128)
    prompt = encode_prompt(example, tokenizer, 128)
    assert encoded.input_ids[: len(prompt)] == prompt
    assert all(lab == IGNORE for lab in encoded.labels[: len(prompt)])
    assert tokenizer.decode(prompt).endswith("<|im_start|>assistant\n")


def test_chat_labels_every_assistant_turn(tokenizer):
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello there"},
        {"role": "user", "content": "bye"},
        {"role": "assistant", "content": "see you"},
    ]
    encoded = encode_example({"messages": messages}, tokenizer, 128)
    assert labelled_text(tokenizer, encoded) == "hello there<|im_end|>\nsee you<|im_end|>\n"


def test_a_blank_assistant_turn_in_the_middle_is_context_not_a_label(tokenizer):
    """A skipped reply in a chat log would otherwise train the model to answer with nothing."""
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "  "},
        {"role": "user", "content": "anyone?"},
        {"role": "assistant", "content": "see you"},
    ]
    encoded = encode_example({"messages": messages}, tokenizer, 128)
    assert labelled_text(tokenizer, encoded) == "see you<|im_end|>\n"


def test_long_prompt_is_cut_in_the_middle_keeping_answer_and_stop(tokenizer):
    example = {"prompt": "word " * 300, "response": "python editor"}
    encoded = encode_example(example, tokenizer, 64)
    assert len(encoded.input_ids) == 64 and encoded.truncated
    assert labelled_text(tokenizer, encoded) == "python editor<|im_end|>\n"
    assert tokenizer.decode(encoded.input_ids).startswith("<|im_start|>user")


def test_completion_labels_all_tokens(tokenizer):
    encoded = encode_example({"text": "python editor"}, tokenizer, 64)
    assert encoded.labels == encoded.input_ids
    assert encoded.input_ids[-1] == tokenizer.eos_token_id


def test_few_shot_demonstrations_are_context_not_labels(tokenizer):
    demos = [{"prompt": "Summarise: x", "response": "rust shell"}]
    example = {"prompt": "Summarise: a b c", "response": "python editor", "demos": demos}
    encoded = encode_example(example, tokenizer, 128)
    assert labelled_text(tokenizer, encoded) == "python editor<|im_end|>\n"
    assert "rust shell" in tokenizer.decode(encode_prompt(example, tokenizer, 128))
