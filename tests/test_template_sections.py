"""Optional template sections: Dolly's `Context:` block drops out with an empty context, and
a malformed section is one line naming the recipe's file:line and key."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tunesmith.config.loader import load_recipe, recipe_from_dict
from tunesmith.data.examples import to_examples
from tunesmith.errors import UserError

DOLLY = "{instruction}{#context}\n\nContext: {context}{/context}"
# Alpaca's own prompt: another preamble when the record has no input
ALPACA = (
    "Below is an instruction{#input}, paired with an input{/input}.\n\n"
    "### Instruction:\n{instruction}{#input}\n\n### Input:\n{input}{/input}"
)


def recipe(template: str, **data):
    return recipe_from_dict(
        {
            "task": "instruction",
            "data": {
                "train": "/t.jsonl",
                "prompt_template": template,
                "output_field": "response",
                **data,
            },
        }
    )


def prompts(template: str, *rows: dict) -> list[str]:
    records = [{**row, "response": "r", "_line": i + 1} for i, row in enumerate(rows)]
    return [e["prompt"] for e in to_examples(recipe(template), "t", records, "train")]


@pytest.mark.parametrize(
    ("row", "prompt"),
    [
        ({"instruction": "Who?", "context": "Ada wrote it."}, "Who?\n\nContext: Ada wrote it."),
        ({"instruction": "Who?", "context": ""}, "Who?"),
        ({"instruction": "Who?", "context": " \n"}, "Who?"),
        ({"instruction": "Who?", "context": None}, "Who?"),
        ({"instruction": "Who?"}, "Who?"),  # missing in this record (another has it)
    ],
    ids=["present", "empty", "blank", "null", "missing"],
)
def test_a_dolly_context_section_drops_out_when_the_context_is_empty(row, prompt):
    with_context = {"instruction": "x", "context": "y"}
    assert prompts(DOLLY, row, with_context)[0] == prompt


def test_an_inverted_section_and_a_repeated_one_write_alpacas_two_prompts():
    rows = {"instruction": "Add.", "input": "1, 2"}, {"instruction": "Hi.", "input": ""}
    got = prompts(ALPACA, *rows)
    assert got == [
        "Below is an instruction, paired with an input.\n\n### Instruction:\nAdd.\n\n"
        "### Input:\n1, 2",
        "Below is an instruction.\n\n### Instruction:\nHi.",
    ]
    template = "{^input}No input.{/input}{#input}Input: {input}{/input}"
    assert prompts(template, {"input": ""}, {"input": "x"}) == ["No input.", "Input: x"]


def test_slots_of_a_dropped_section_need_not_exist_and_literal_braces_stay():
    template = "{q}{#context} [{source}: {context}]{/context} {{#context}}"
    got = prompts(template, {"q": "Q"}, {"q": "Q", "context": "c", "source": "wiki"})
    assert got == ["Q {#context}", "Q [wiki: c] {#context}"]


@pytest.mark.parametrize(
    ("row", "prompt"),
    [
        ({"q": "Q", "context": "c", "source": "wiki"}, "Q\n\nContext (wiki): c"),
        ({"q": "Q", "context": "c"}, "Q\n\nContext: c"),
        ({"q": "Q", "source": "wiki"}, "Q"),  # the inner section goes with its outer one
        ({"q": "Q", "context": "", "source": "wiki"}, "Q"),
    ],
    ids=["both", "no-source", "no-context", "blank-context"],
)
def test_a_section_inside_a_section_is_kept_only_inside_a_kept_one(row, prompt):
    template = "{q}{#context}\n\nContext{#source} ({source}){/source}: {context}{/context}"
    other = {"q": "x", "context": "y", "source": "z"}
    assert prompts(template, row, other)[0] == prompt


def test_an_inverted_section_inside_a_section():
    template = "{q}{#input} Input: {input}{^source} (unsourced){/source}.{/input}"
    rows = (
        {"q": "Q", "input": "a"},
        {"q": "Q", "input": "b", "source": "s"},
        {"q": "Q", "input": "", "source": "s"},
    )
    assert prompts(template, *rows) == ["Q Input: a (unsourced).", "Q Input: b.", "Q"]


def test_a_section_field_no_record_has_is_a_misspelt_name():
    with pytest.raises(UserError) as caught:
        prompts("{instruction}{#contxt}\n\n{contxt}{/contxt}", {"instruction": "a", "context": "c"})
    assert str(caught.value) == (
        "t: no record has the field 'contxt' that a section of data.prompt_template is kept "
        "or dropped by (fields present: instruction, context, response)"
    )


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        (
            "{q}{#context}\\n\\nContext: {context}",
            "section {#context} is never closed (end it with {/context})",
        ),
        ("{q}{/context}", "{/context} closes no open section"),
        (
            "{#a}{^a}x{/a}{/a}",
            "section {^a} opens inside section {#a} on the same field",
        ),
        (
            "{#a}{#b}{b}{/a}{/b}",
            "{/a} does not close the open section {#b} (end it with {/b})",
        ),
        ("{#a}{a}{/b}", "{/b} does not close the open section {#a} (end it with {/a})"),
    ],
    ids=["unclosed", "unopened", "same-field-nested", "crossed", "mismatched"],
)
def test_a_malformed_section_is_one_line_with_file_line_and_key(tmp_path, template, problem):
    path = tmp_path / "recipe.yaml"
    path.write_text(
        "task: instruction\n"
        "data:\n"
        "  train: t.jsonl\n"
        "  output_field: a\n"
        f'  prompt_template: "{template}"\n'
    )
    with pytest.raises(UserError) as caught:
        load_recipe(path)
    assert str(caught.value) == f"{path}:5: data.prompt_template: prompt_template {problem}"


def test_validate_exits_2_with_one_line_on_a_crossed_section(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text(
        "task: instruction\ndata:\n  train: t.jsonl\n  output_field: a\n"
        '  prompt_template: "{#a}{#b}x{/a}{/b}"\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "tunesmith.cli", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: {path}:5: data.prompt_template: prompt_template {{/a}} does not close the "
        "open section {#b} (end it with {/b})"
    )


def test_training_and_evaluation_read_the_same_prompt(tiny_model_dir):
    """The data stage fills the template once; training encodes that prompt with its answer,
    evaluation generates from it: the ids before the answer are the same."""
    from transformers import AutoTokenizer

    from tunesmith.models.formatting import IGNORE, encode_example, encode_prompt

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    rows = [{"instruction": "Who?", "context": "", "response": "Ada.", "_line": 1}]
    [example] = to_examples(recipe(DOLLY), "t", rows, "train")
    trained = encode_example(example, tokenizer, 128)
    prompt = encode_prompt(example, tokenizer, 128)
    assert trained.input_ids[: len(prompt)] == prompt
    assert all(label == IGNORE for label in trained.labels[: len(prompt)])
    text = tokenizer.decode(prompt)
    assert "Who?" in text and "Context" not in text
