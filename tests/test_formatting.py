"""Loss masking: only the answer and its stop token carry labels (pad == eos here)."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from tunesmith.models.formatting import (
    IGNORE,
    KEEP_TAIL,
    encode_example,
    encode_prompt,
    fit_prompt,
    prompt_tail,
)


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


def _old_fit_reference(ids, labels, max_length, tail):
    """`_fit` as it was before answers got their share (kept here as the reference for rows
    whose cut never touched the answer, which must encode exactly as before), keeping the
    prompt's last `tail` tokens (it kept 8, whatever the template's header)."""
    excess = len(ids) - max_length
    if excess <= 0:
        return ids, labels
    first = next((i for i, label in enumerate(labels) if label != IGNORE), len(ids))
    assert first - tail > excess  # only the prompt-only cut is a reference
    keep = first - tail - excess
    return ids[:keep] + ids[keep + excess :], labels[:keep] + labels[keep + excess :]


@pytest.mark.parametrize(("prompt_words", "answer_words"), [(300, 300), (60, 60), (40, 80)])
def test_long_prompt_and_long_answer_each_keep_half(tokenizer, prompt_words, answer_words):
    """The audit's rows: the answer was pushed out entirely (0 labels, loss 0, perplexity 1)."""
    example = {"prompt": "word " * prompt_words, "response": "answer " * answer_words}
    encoded = encode_example(example, tokenizer, 96)
    supervised = [i for i, lab in enumerate(encoded.labels) if lab != IGNORE]
    assert len(encoded.input_ids) == 96 and len(supervised) == 48
    assert labelled_text(tokenizer, encoded).startswith("answer answer")
    # the template's opening and the prompt's tail (the end of the user's turn and the
    # assistant header; this tiny tokenizer spells "assistant" in many pieces) both survive
    head, tail = encode_prompt(example, tokenizer, 1 << 20), prompt_tail(tokenizer)
    assert tokenizer.decode(encoded.input_ids).startswith("<|im_start|>user\nword")
    assert encoded.input_ids[supervised[0] - tail : supervised[0]] == head[-tail:]
    assert supervised[0] == 48
    assert encoded.prompt_cut and encoded.answer_cut and encoded.truncated


def test_a_long_answer_after_a_short_prompt_keeps_the_whole_prompt(tokenizer):
    example = {"prompt": "Summarise: a b c", "response": "answer " * 300}
    encoded = encode_example(example, tokenizer, 96)
    prompt = encode_prompt(example, tokenizer, 96)
    assert encoded.input_ids[: len(prompt)] == prompt and len(encoded.input_ids) == 96
    assert not encoded.prompt_cut and encoded.answer_cut
    assert tokenizer.eos_token_id not in encoded.input_ids[len(prompt) :]  # no stop: it was cut


def test_below_the_template_length_a_row_still_has_an_answer_token(tokenizer):
    encoded = encode_example({"prompt": "word " * 50, "response": "answer " * 50}, tokenizer, 12)
    assert len(encoded.input_ids) == 12
    assert sum(lab != IGNORE for lab in encoded.labels) >= 1


@pytest.mark.parametrize("prompt_words", [1, 5, 20, 40, 80, 300])
@pytest.mark.parametrize("answer", ["python editor", "a b c d e f g h i j k l m n o p"])
def test_rows_whose_answer_fits_encode_exactly_as_before(tokenizer, prompt_words, answer):
    """Fitting rows (the bundled demo's) and prompt-only cuts are byte-identical to the old cut."""
    example = {"prompt": "word " * prompt_words, "response": answer, "system": "Be brief."}
    whole = encode_example(example, tokenizer, 1 << 20)
    encoded = encode_example(example, tokenizer, 96)
    assert (encoded.input_ids, encoded.labels) == _old_fit_reference(
        whole.input_ids, whole.labels, 96, prompt_tail(tokenizer)
    )
    if not encoded.truncated:
        assert (encoded.input_ids, encoded.labels) == (whole.input_ids, whole.labels)
    assert not encoded.answer_cut
    assert encoded.prompt_cut == encoded.truncated == (len(whole.input_ids) > 96)


HEADER = "<|im_end|>\n<|im_start|>assistant\n"  # what ChatML puts after the user's text
# A template that reminds the model of its instructions after the user's text (before each
# answer, so conversations render prefix-stably): more tokens follow the user's text than
# the 8 KEEP_TAIL assumed.
REMIND = "'<|im_start|>system\\nReply in one line.<|im_end|>\\n'"
REMINDER = (
    "{% for message in messages %}{% if message['role'] == 'assistant' %}{{ " + REMIND + " }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ " + REMIND + " + '<|im_start|>assistant\\n' }}{% endif %}"
)


@pytest.fixture
def reminding(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.chat_template = REMINDER
    return tokenizer


def test_the_tail_a_cut_keeps_is_the_templates_own(tokenizer, reminding):
    """KEEP_TAIL = 8 cut into ChatML's header here (12 tokens) and into a reminder."""
    assert prompt_tail(tokenizer) == len(tokenizer(HEADER)["input_ids"]) == 12
    reminder = "<|im_end|>\n<|im_start|>system\nReply in one line." + HEADER
    assert prompt_tail(reminding) == len(reminding(reminder)["input_ids"]) > KEEP_TAIL


@pytest.mark.parametrize("which", ["tokenizer", "reminding"])
def test_a_cut_prompt_keeps_everything_after_the_users_text(request, which):
    tokenizer = request.getfixturevalue(which)
    example = {"prompt": "word " * 300, "response": "python editor"}
    after = tokenizer.apply_chat_template(
        [{"role": "user", "content": "x"}], tokenize=False, add_generation_prompt=True
    ).split("x", 1)[1]
    for max_length in (64, 96):  # 36 tokens follow the reminder's user text
        ids, cut = fit_prompt(example, tokenizer, max_length)
        assert cut and len(ids) == max_length and tokenizer.decode(ids).endswith(after)
        encoded = encode_example(example, tokenizer, max_length)
        first = encoded.labels.index(next(lab for lab in encoded.labels if lab != IGNORE))
        assert tokenizer.decode(encoded.input_ids[:first]).endswith(after)
        assert labelled_text(tokenizer, encoded) == "python editor<|im_end|>\n"


def test_a_template_that_cannot_be_measured_keeps_eight_tokens(tokenizer):
    refusing = AutoTokenizer.from_pretrained(tokenizer.name_or_path)
    refusing.chat_template = "{{ raise_exception('system message first') }}"
    assert prompt_tail(refusing) == KEEP_TAIL
    refusing.chat_template = "{% for m in messages %}{{ m['content'] | upper }}{% endfor %}"
    assert prompt_tail(refusing) == KEEP_TAIL  # the user's text is not in the prompt as given


def test_a_short_header_still_keeps_eight_tokens(tokenizer):
    """A template whose tail is shorter than KEEP_TAIL (SmolLM2's ChatML header is 5 tokens)
    keeps KEEP_TAIL: the end of the user's text stays too, and such runs cut as before."""
    short = AutoTokenizer.from_pretrained(tokenizer.name_or_path)
    short.chat_template = (
        "{% for m in messages %}{{ m['content'] }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '\\nA:' }}{% endif %}"
    )
    from tunesmith.models.formatting import _measure_tail

    assert _measure_tail(short) < KEEP_TAIL
    assert prompt_tail(short) == KEEP_TAIL


def test_a_long_chat_is_answered_from_its_latest_turns(tokenizer):
    """A cut chat prompt keeps its opening (the system prompt) and drops its OLDEST turns: the
    middle cut kept the first turns and the last 8 tokens, so on real chit-chat (SmolLM2,
    max_seq_length 256) 119 of 222 chats were answered without the question being answered."""
    old = " ".join(f"old{i}" for i in range(80))
    messages = [
        {"role": "system", "content": "Be casual."},
        {"role": "user", "content": old},
        {"role": "assistant", "content": "sure"},
        {"role": "user", "content": "what is your favourite game?"},
        {"role": "assistant", "content": "chess"},
    ]
    ids, cut = fit_prompt({"messages": messages}, tokenizer, 96)
    text = tokenizer.decode(ids)
    assert cut and len(ids) == 96
    assert text.startswith("<|im_start|>system\nBe casual.<|im_end|>")
    assert text.endswith("what is your favourite game?<|im_end|>\n<|im_start|>assistant\n")
    assert "old79" in text and "old1 " not in text
    # a one-turn prompt is still cut in its middle: its opening often says what to do
    single = fit_prompt({"prompt": f"Summarise: {old}", "response": "x"}, tokenizer, 64)[0]
    assert tokenizer.decode(single).startswith("<|im_start|>user\nSummarise: old0")


def test_evaluation_scores_a_chats_last_answer_from_its_latest_turns(tokenizer):
    """The reference of a chat is its last answer: perplexity was taken over every assistant
    turn that fitted from the conversation's start (on real chit-chat, 39 tokens of a 90-token
    reference, or 78 tokens for a 50-token one)."""
    old = " ".join(f"old{i}" for i in range(80))
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello there"},
        {"role": "user", "content": old},
        {"role": "assistant", "content": "sure"},
        {"role": "user", "content": "what is your favourite game?"},
        {"role": "assistant", "content": "chess"},
    ]
    short = encode_example({"messages": messages[:2] + messages[4:]}, tokenizer, 512, True)
    assert labelled_text(tokenizer, short) == "chess<|im_end|>\n"
    assert not short.truncated
    cut = encode_example({"messages": messages}, tokenizer, 96, last_answer=True)
    assert labelled_text(tokenizer, cut) == "chess<|im_end|>\n"
    assert cut.prompt_cut and len(cut.input_ids) == 96
    text = tokenizer.decode(cut.input_ids)
    assert text.startswith("<|im_start|>user\nold7")  # the opening, then the latest turns
    assert "old79" in text and "hi" not in text
    assert "favourite game?<|im_end|>\n<|im_start|>assistant\nchess" in text
    # training still labels every answer and keeps the conversation's start
    trained = encode_example({"messages": messages}, tokenizer, 96)
    assert labelled_text(tokenizer, trained).startswith("hello there<|im_end|>\n")
