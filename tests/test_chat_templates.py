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


@pytest.fixture
def gemma(tiny_model_dir):
    return family_tokenizer(tiny_model_dir, "gemma")


def test_gemma_system_prompt_goes_into_the_first_user_turn(gemma, caplog):
    """Gemma's template raises 'System role not supported': a recipe's system_prompt was a
    traceback. It now opens the first user turn (as Gemma's documentation advises), said
    once in the log."""
    example = {**EXAMPLE, "system": "Be brief."}
    with caplog.at_level("WARNING", logger="tunesmith.models.formatting"):
        encoded = encode_example(example, gemma, 128)
        prompt, _ = fit_prompt(example, gemma, 128)
    assert supervised(gemma, encoded) == ["python editor<end_of_turn>\n"]
    assert encoded.input_ids[: len(prompt)] == prompt
    assert gemma.decode(prompt) == (
        "<bos><start_of_turn>user\nBe brief.\n\nSummarise: a b c<end_of_turn>\n"
        "<start_of_turn>model\n"
    )
    assert [r.message for r in caplog.records].count(
        "the model's chat template refuses a system message: the system prompt is put at the "
        "start of the first user turn instead"
    ) == 1


def test_a_template_that_takes_a_system_role_keeps_it(phi3, caplog):
    example = {**EXAMPLE, "system": "Be brief."}
    with caplog.at_level("WARNING", logger="tunesmith.models.formatting"):
        prompt, _ = fit_prompt(example, phi3, 128)
    assert phi3.decode(prompt).startswith("<|system|>\nBe brief.<|end|>\n<|user|>\nSummarise")
    assert not caplog.records


def _model_with_template(tiny_model_dir, tmp_path, template: str):
    import shutil

    from transformers import AutoTokenizer

    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "chat_template.jinja").unlink(missing_ok=True)  # None: the model has none
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.chat_template = template
    tokenizer.save_pretrained(folder)
    return folder


def test_validate_renders_an_example_through_the_template(tiny_recipe, tiny_model_dir, tmp_path):
    """A template error was a traceback once training started; now one line at validate."""
    from chat_templates import GEMMA
    from test_preflight import _refused, tunesmith

    refusing = "{{ raise_exception('Conversation roles must alternate user/assistant') }}"
    folder = _model_with_template(tiny_model_dir, tmp_path, refusing)
    recipe = tiny_recipe(model={"name": str(folder), "precision": "fp32"})
    _refused(tunesmith("validate", recipe), "roles must alternate")
    folder = _model_with_template(tiny_model_dir, tmp_path / "gemma", GEMMA)
    recipe = tiny_recipe(
        model={"name": str(folder), "precision": "fp32"}, **{"data.system_prompt": "Be brief."}
    )
    done = tunesmith("validate", recipe)
    assert done.returncode == 0, done.stderr
    assert "template: ok (it refuses a system message" in " ".join(done.stderr.split())


@pytest.fixture(scope="module")
def qwen3(tiny_model_dir):
    return family_tokenizer(tiny_model_dir, "qwen3")


THINK_OFF = "<|im_start|>assistant\n<think>\n\n</think>\n\n"


def test_qwen3_empty_think_block_is_prompt_not_answer(qwen3):
    """Qwen3's template puts `<think>\\n\\n</think>\\n\\n` before the last answer: it was
    supervised, and the tuned model answered `<think>` (then stopped at "\\n") every time. It is
    prompt now, and generation prompts end with it (thinking off), as training's did."""
    encoded = encode_example(EXAMPLE, qwen3, 128)
    assert supervised(qwen3, encoded) == ["python editor<|im_end|>\n"]
    prompt, _ = fit_prompt(EXAMPLE, qwen3, 128)
    assert qwen3.decode(prompt).endswith("<|im_end|>\n" + THINK_OFF)
    assert encoded.input_ids[: len(prompt)] == prompt


def test_qwen3_few_shot_and_earlier_turns(qwen3):
    """An earlier answer loses its think block once a later user turn exists: few-shot
    evaluation crashed ('not prefix-stable'). Demonstrations are context; every answer of a
    chat is supervised without a think block."""
    example = {**EXAMPLE, "demos": [{"prompt": "Summarise: x", "response": "rust shell"}]}
    encoded = encode_example(example, qwen3, 128)
    assert supervised(qwen3, encoded) == ["python editor<|im_end|>\n"]
    prompt, _ = fit_prompt(example, qwen3, 128)
    assert encoded.input_ids[: len(prompt)] == prompt
    text = qwen3.decode(prompt)
    assert "<|im_start|>assistant\nrust shell<|im_end|>\n" in text and text.endswith(THINK_OFF)
    chat = encode_example(CHAT, qwen3, 128)
    assert supervised(qwen3, chat) == ["hello there<|im_end|>\n", "see you<|im_end|>\n"]


@pytest.mark.parametrize("family", ["chatml", "gemma", "plain", "qwen3"])
def test_the_cards_python_example_builds_the_prompt_training_used(tmp_path, tiny_model_dir, family):
    """On an exported folder without a chat template (GPT-2-like), the card's snippet called
    apply_chat_template, which fails there, and the card spoke of a chat template; with
    Gemma's, its system message made the template raise; with Qwen3's, it left out the empty
    think block enable_thinking=False ends training's prompts with. The snippet run against
    the folder's tokenizer now gives exactly the prompt ids training and evaluation used."""
    from export_helpers import small_recipe
    from test_export_card import MERGED, RECORD, _with_data
    from transformers import AutoTokenizer

    from tunesmith.export.card import render_card
    from tunesmith.export.prompt_card import prompt_example

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    if family in ("gemma", "qwen3"):
        tokenizer = family_tokenizer(tiny_model_dir, family)
    if family == "plain":
        tokenizer.chat_template = None
    folder = tmp_path / "exported"
    tokenizer.save_pretrained(folder)
    if family == "plain":
        (folder / "chat_template.jinja").unlink(missing_ok=True)
    recipe = _with_data(
        small_recipe(tmp_path, tiny_model_dir),
        prompt_template="Summarise:\n{description}",
        system_prompt="Be brief.",
    )
    prompt, style = prompt_example(recipe, folder)
    card = render_card(recipe, "merged", MERGED, RECORD, None, None, prompt, style)
    code = card.split("```python\n")[1].split("\n```")[0]
    scope = {"tokenizer": AutoTokenizer.from_pretrained(folder)}  # what its first lines load
    exec("messages = " + code.split("messages = ", 1)[1], scope)  # the card's own example
    example = {"system": "Be brief.", "prompt": "Summarise:\n<description>", "response": "x"}
    expected, _ = fit_prompt(example, scope["tokenizer"], 1 << 20)
    assert scope["inputs"]["input_ids"][0].tolist() == expected
    assert ("apply_chat_template" in code) == (family != "plain")
    assert ("no chat template" in card) == (family == "plain")
    assert ("refuses a system message" in card) == (family == "gemma")
    assert ("enable_thinking=False" in code) == (family == "qwen3")


def test_validate_says_when_prompts_are_plain_text(tiny_recipe, tiny_model_dir, tmp_path):
    """A model without a chat template was trained on `### User:` text silently."""
    from tunesmith.config import load_recipe
    from tunesmith.preflight import preflight

    folder = _model_with_template(tiny_model_dir, tmp_path, None)
    recipe = load_recipe(tiny_recipe(model={"name": str(folder), "precision": "fp32"}))
    lines = [line for line in preflight(recipe, None) if line.startswith("template:")]
    assert lines == [
        "template: ok (the model has no chat template: prompts are written as plain "
        "'### User:' and '### Response:' sections)"
    ]


def test_plain_prompts_are_said_once_in_the_log(tiny_model_dir, caplog):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.chat_template = None
    with caplog.at_level("WARNING", logger="tunesmith.models.formatting"):
        for _ in range(2):
            encode_example(EXAMPLE, tokenizer, 128)
            fit_prompt(EXAMPLE, tokenizer, 128)
    assert [r.message for r in caplog.records] == [
        "the model has no chat template: prompts are written as plain '### User:' and "
        "'### Response:' sections"
    ]


def _old_pieces(messages, tokenizer):
    """The encoding before answers were located from the generation prompt (each turn's text
    the conversation rendered up to it adds), kept as the reference for templates that render
    prefix-stably, whose rows must encode exactly as before."""
    pieces, done = [], ""
    for i, message in enumerate(messages):
        full = tokenizer.apply_chat_template(messages[: i + 1], tokenize=False)
        if message["role"] == "assistant":
            header = tokenizer.apply_chat_template(
                messages[:i], tokenize=False, add_generation_prompt=True
            )
            answered = bool(message["content"].strip())
            pieces += [(header[len(done) :], False), (full[len(header) :], answered)]
        else:
            pieces.append((full[len(done) :], False))
        done = full
    ids, labels = [], []
    for text, trainable in (p for p in pieces if p[0]):
        piece = tokenizer(text, add_special_tokens=False)["input_ids"]
        ids += piece
        labels += piece if trainable else [IGNORE] * len(piece)
    return ids, labels


@pytest.mark.parametrize("family", ["chatml", "gemma", "olmo2", "llama3"])
def test_prefix_stable_templates_encode_exactly_as_before(tiny_model_dir, family):
    from transformers import AutoTokenizer

    if family == "chatml":
        tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    else:
        tokenizer = family_tokenizer(tiny_model_dir, family)
    system = [] if family == "gemma" else [{"role": "system", "content": "Be brief."}]
    blank = [{"role": "user", "content": "and?"}, {"role": "assistant", "content": "  "}]
    for messages in (
        system + CHAT["messages"],
        system + blank + CHAT["messages"],
        [{"role": "user", "content": "Summarise: a b c"}, {"role": "assistant", "content": "x"}],
    ):
        encoded = encode_example({"messages": messages}, tokenizer, 1 << 20)
        assert (encoded.input_ids, encoded.labels) == _old_pieces(messages, tokenizer)
