"""Encoding with other families' real chat templates (tests/chat_templates.py): the answer
starts where the generation prompt ends, whatever the template appends to a whole
conversation (Phi-3's eos_token), refuses (Gemma's system role) or inserts before the last
answer (Qwen3's empty think block)."""

from __future__ import annotations

import pytest
from chat_templates import family_tokenizer

from tunesmith.errors import UserError
from tunesmith.models.formatting import IGNORE, encode_example, fit_prompt

EXAMPLE = {"prompt": "Summarise: a b c", "response": "python editor"}
CHAT = {
    "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello there"},
        {"role": "user", "content": "bye"},
        {"role": "assistant", "content": "see you"},
    ]
}


def supervised(tokenizer, encoded) -> list[str]:
    """The supervised runs of text, one per answer."""
    runs, run = [], []
    for token, label in [*zip(encoded.input_ids, encoded.labels), (None, IGNORE)]:
        if label != IGNORE:
            run.append(token)
        elif run:
            runs, run = [*runs, tokenizer.decode(run)], []
    return runs


@pytest.fixture(scope="module")
def phi3(tiny_model_dir):
    return family_tokenizer(tiny_model_dir, "phi3")


def test_phi3_answer_follows_its_generation_prompt(phi3):
    """Phi-3's template ends a whole conversation with eos_token: training refused it."""
    encoded = encode_example(EXAMPLE, phi3, 128)
    assert supervised(phi3, encoded) == ["python editor<|end|>\n<|endoftext|>"]
    prompt, _ = fit_prompt(EXAMPLE, phi3, 128)
    assert encoded.input_ids[: len(prompt)] == prompt
    assert phi3.decode(prompt).endswith("<|end|>\n<|assistant|>\n")


def test_phi3_earlier_answers_end_with_their_end_of_turn(phi3):
    """An earlier answer ends with `<|end|>\\n`: not the eos_token a conversation ending there
    would have, nor part of the next `<|user|>` marker."""
    encoded = encode_example(CHAT, phi3, 128)
    assert supervised(phi3, encoded) == [
        "hello there<|end|>\n",
        "see you<|end|>\n<|endoftext|>",
    ]
    whole = phi3.apply_chat_template(CHAT["messages"], tokenize=False)
    assert phi3.decode(encoded.input_ids) == whole


def test_phi3_few_shot_demonstrations_are_context(phi3):
    demos = [{"prompt": "Summarise: x", "response": "rust shell"}]
    example = {**EXAMPLE, "demos": demos}
    encoded = encode_example(example, phi3, 128)
    assert supervised(phi3, encoded) == ["python editor<|end|>\n<|endoftext|>"]
    prompt, _ = fit_prompt(example, phi3, 128)
    assert encoded.input_ids[: len(prompt)] == prompt and "rust shell<|end|>" in phi3.decode(prompt)


def test_a_template_that_rewrites_earlier_turns_is_one_clear_error(tiny_model_dir):
    """No split exists when earlier turns render differently once a later one follows."""
    tokenizer = family_tokenizer(tiny_model_dir, "phi3")
    tokenizer.chat_template = (
        "{% for m in messages %}{% if loop.last %}{{ m['content'] }}{% else %}{{ '...' }}"
        "{% endif %}{% endfor %}{% if add_generation_prompt %}{{ ' A:' }}{% endif %}"
    )
    with pytest.raises(UserError, match="chat template renders a conversation's turns"):
        encode_example(CHAT, tokenizer, 128)
