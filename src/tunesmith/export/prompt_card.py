"""The model card's "Prompt format" section: how the tuned model expects its input, as
training formatted it (models/formatting.py), with an example a user can paste.

The prompt template and system prompt are the recipe's text, and the rendered example holds
them: every piece of it is written inside a code fence longer than any run of backticks in
it (so no text ends the block early, and Markdown and HTML in it stay inert), and into the
Python example as repr() literals (never code).
"""

from __future__ import annotations

import re
from pathlib import Path

# How training wrote its prompts: with the tokenizer's chat template; with it, the system
# prompt opening the first user turn (a template that refuses a system message, Gemma's); or
# as plain text, the model having no chat template (models/formatting.py `_plain_render`)
CHAT, FOLDED, PLAIN = "chat", "folded", "plain"
# a template with Qwen3's thinking switch: training and evaluation rendered prompts with
# enable_thinking=False (models/formatting.py), which ends them with an empty think block
THINKING_OFF = "chat, thinking off"


def prompt_section(
    recipe, rendered: str | None, style: str = CHAT, load: list[str] = ()
) -> list[str]:
    """The section's lines; `rendered` is the example prompt exactly as the model saw its
    prompts (chat template applied, ending where the answer starts), when the tokenizer
    could be read; `style` is how training wrote prompts (`prompt_style`); `load` the Python
    lines loading the export as `tokenizer` and `model` (ExportFormat.load_code)."""
    from tunesmith.config.tasks import task_spec

    spec = task_spec(recipe.task)
    lines = ["", "## Prompt format", ""]
    if not _chat_formatted(spec):
        lines.append(
            "Trained on plain text (no chat template, no prompt): give it the beginning of a "
            "text and it continues it."
        )
        return lines
    messages = example_messages(recipe)
    if style == FOLDED:
        from tunesmith.models.formatting import merge_system

        messages = merge_system(messages)
    lines += _how(recipe, spec.prompted, style)
    if rendered is not None:
        lines += ["", "The text the model reads for such a prompt (it answers after it):", ""]
        lines += fenced(rendered, "text")
    lines += ["", "With transformers:", ""]
    lines += fenced(_python(messages, style, load), "python")
    return lines


def _chat_formatted(spec) -> bool:
    """Trained on chat-formatted examples (a prompt, or messages), not on plain text."""
    return spec.prompted or "messages_field" in spec.record_fields


def _how(recipe, prompted: bool, style: str) -> list[str]:
    data = recipe.data
    if prompted:
        lines = [
            f"Each training example was one user turn, {_written(style)}. The user turn was "
            "this template, each `{field}` filled from a record:",
            "",
            *fenced(data.template(), "text"),
            *_sections_note(data.template()),
        ]
    else:
        lines = [
            f"Trained on conversations, each {_written(style)}. The model writes the next "
            "assistant turn."
        ]
    if data.system_prompt:
        lines += ["", _system_note(style), ""]
        lines += fenced(data.system_prompt, "text")
    return lines


def _sections_note(template: str) -> list[str]:
    from tunesmith.config.template import section_fields

    if not section_fields(template):
        return []
    return [
        "",
        "A `{#field}...{/field}` section was kept only when the record's field was not blank, "
        "a `{^field}...{/field}` one only when it was blank or missing; blank lines left at the "
        "prompt's start or end were removed.",
    ]


def _written(style: str) -> str:
    """How each example was written, up to and with where the answer goes."""
    if style == PLAIN:
        return (
            "written as plain text (the model has no chat template): each message under a "
            "`### System:`, `### User:` or `### Response:` heading line and followed by a "
            "blank line, the prompt ending with a `### Response:` line; the answer follows "
            "it and ends with the end-of-text token"
        )
    return (
        "rendered with the tokenizer's chat template (shipped with this model; a GGUF file "
        "embeds it as `tokenizer.chat_template`, which llama.cpp reads), the answer "
        "following the assistant header"
    )


def _system_note(style: str) -> str:
    if style == FOLDED:
        return (
            "The chat template refuses a system message, so this text opened the first user "
            "turn of every conversation, followed by a blank line:"
        )
    return "Every conversation began with this system message:"


def example_messages(recipe) -> list[dict]:
    """The messages of one prompt as training built them, each template slot shown as
    <field>: the system message (if any), then the user turn."""
    from tunesmith.config.tasks import task_spec

    data = recipe.data
    messages = [{"role": "system", "content": data.system_prompt}] if data.system_prompt else []
    if not task_spec(recipe.task).prompted:  # chat: the user's own conversation
        return [*messages, {"role": "user", "content": "Your message"}]
    return [*messages, {"role": "user", "content": filled_template(data.template())}]


def filled_template(template: str) -> str:
    """`template` with every {field} written as <field>, its optional sections kept (as for a
    record that has every field): filled as training filled it (config/template.py), never
    str.format on the recipe's text ({{ and }} become the braces they stand for)."""
    from tunesmith.config.template import fill_template

    return fill_template(template, lambda field: f"<{field}>", lambda field: True)


def _python(messages: list[dict], style: str = CHAT, load: list[str] = ()) -> str:
    """The prompt built as training built it, from the export loaded by `load`: the block
    runs as it stands (before, it used a `tokenizer` it never defined)."""
    listed = ",\n".join(f"    {message!r}" for message in messages)
    loading = (
        ["from transformers import AutoModelForCausalLM, AutoTokenizer", "", *load, ""]
        if load
        else []
    )
    if style == PLAIN:  # apply_chat_template fails on a tokenizer without a template
        build = [
            "# no chat template: the prompt is plain text, written as training wrote it",
            'text = "".join(',
            "    f\"### {m['role'].capitalize()}:\\n{m['content']}\\n\\n\" for m in messages",
            ")",
            'text += "### Response:\\n"',
        ]
    elif style == THINKING_OFF:  # without the switch the prompt lacks training's think block
        build = [
            "# as training: the prompt ends with an empty think block, and the model answers",
            "text = tokenizer.apply_chat_template(",
            "    messages, tokenize=False, add_generation_prompt=True, enable_thinking=False",
            ")",
            "# the template writes the special tokens itself: add none a second time",
        ]
    else:
        build = [
            "text = tokenizer.apply_chat_template(messages, tokenize=False, "
            "add_generation_prompt=True)",
            "# the template writes the special tokens itself: add none a second time",
        ]
    return "\n".join(
        [
            *loading,
            f"messages = [\n{listed},\n]",
            *build,
            'inputs = tokenizer(text, add_special_tokens=False, return_tensors="pt")',
        ]
    )


def fenced(text: str, language: str) -> list[str]:
    """`text` as a fenced code block whose fence no backtick run inside it can close."""
    fence = "`" * max(3, _longest_backticks(text) + 1)
    return [fence + language, *text.split("\n"), fence]


def code_span(text: str) -> str:
    """One line of `text` as an inline code span no backtick run inside it can close (the
    spaces keep a backtick at either end from joining the delimiter; CommonMark strips them)."""
    ticks = "`" * (_longest_backticks(text) + 1)
    return f"{ticks} {text} {ticks}" if "`" in text else f"{ticks}{text}{ticks}"


def _longest_backticks(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def rendered_prompt(recipe, tokenizer_dir: Path) -> str | None:
    """The example prompt through the run's tokenizer, as training rendered prompts; None
    when that folder has no tokenizer."""
    return prompt_example(recipe, tokenizer_dir)[0]


def prompt_example(recipe, tokenizer_dir: Path) -> tuple[str | None, str]:
    """`rendered_prompt`, and how training wrote prompts (`prompt_style`; CHAT without a
    tokenizer to ask)."""
    from tunesmith.config.tasks import task_spec

    if not _chat_formatted(task_spec(recipe.task)):
        return None, CHAT
    if not (Path(tokenizer_dir) / "tokenizer_config.json").is_file():
        return None, CHAT
    from tunesmith.models.formatting import render
    from tunesmith.models.safe_files import load_saved_tokenizer

    tokenizer = load_saved_tokenizer(Path(tokenizer_dir))
    rendered = render(example_messages(recipe), tokenizer, generation_prompt=True)
    return rendered, prompt_style(recipe, tokenizer)


def prompt_style(recipe, tokenizer) -> str:
    from tunesmith.models.formatting import _options as template_options
    from tunesmith.models.formatting import refuses_system

    if not getattr(tokenizer, "chat_template", None):
        return PLAIN
    if recipe.data.system_prompt and refuses_system(tokenizer):
        return FOLDED  # no known template both refuses a system message and has the switch
    return THINKING_OFF if template_options(tokenizer) else CHAT
