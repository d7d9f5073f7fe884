"""Public data sets in the shapes they come in: ShareGPT conversations, TSV files, nested
JSON fields, Alpaca's empty inputs."""

from __future__ import annotations

import pytest

from tunesmith.config.loader import recipe_from_dict
from tunesmith.data.examples import to_examples
from tunesmith.errors import UserError


def recipe(task="instruction", **data):
    base = {"input_field": "q", "output_field": "a"} if task != "chat" else {}
    return recipe_from_dict({"task": task, "data": {"train": "/t.jsonl", **base, **data}})


def records(*rows):
    return [{**row, "_line": i + 1} for i, row in enumerate(rows)]


def test_sharegpt_conversations_map_to_chat_roles():
    conversation = [
        {"from": "system", "value": "Be brief."},
        {"from": "human", "value": "Hi?"},
        {"from": "gpt", "value": None},  # nothing said: a blank turn, as a null content is
        {"from": "human", "value": "Hi??"},
        {"from": "gpt", "value": "Hello."},
    ]
    rows = records({"id": "x", "conversations": conversation})
    [example] = to_examples(recipe("chat", messages_field="conversations"), "t", rows, "train")
    assert example["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi?"},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "Hi??"},
        {"role": "assistant", "content": "Hello."},
    ]


@pytest.mark.parametrize(
    ("message", "pattern"),
    [
        ({"from": "bing", "value": "x"}, r"messages\[1\]\.from 'bing' is not one of human, gpt"),
        ({"speaker": "gpt", "text": "x"}, r"t:1: messages\[1\] must be .*keys: speaker, text$"),
        ({"role": "tool", "content": "x"}, r"t:1: messages\[1\]\.role 'tool' is not one of system"),
        ("hello", r"t:1: messages\[1\] must be an object .*; not one$"),
    ],
)
def test_a_message_of_neither_shape_names_its_place_and_what_is_expected(message, pattern):
    rows = records({"messages": [{"role": "user", "content": "q"}, message]})
    with pytest.raises(UserError, match=pattern):
        to_examples(recipe("chat"), "t", rows, "train")


def test_a_tsv_file_reads_tab_separated_with_a_bom_and_gzip(tmp_path):
    import gzip

    from tunesmith.data.io import read_records

    text = '\ufefftext\tlabel\n"a, quoted text"\t1\nplain; text\t0\n'
    (tmp_path / "d.tsv").write_text(text, encoding="utf-8")
    (tmp_path / "d.tsv.gz").write_bytes(gzip.compress(text.encode("utf-8")))
    for name in ("d.tsv", "d.tsv.gz"):
        got = [(r["text"], r["label"], r["_line"]) for r in read_records(tmp_path / name)]
        assert got == [("a, quoted text", "1", 2), ("plain; text", "0", 3)], name


@pytest.mark.parametrize(
    ("name", "content", "pattern"),
    [
        (
            "d.tsv",
            "text,label\nx,1\n",
            r"d.tsv:1: .*looks ','-separated, not tab-separated \(a .tsv file is read "
            r"tab-separated; set data.csv_delimiter to ',', or save it tab-separated\)$",
        ),
    ],
)
def test_a_tsv_file_with_commas_says_how_to_read_it(tmp_path, name, content, pattern):
    from tunesmith.data.io import read_records

    (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(UserError, match=pattern):
        read_records(tmp_path / name)


NESTED = {"meta": {"title": "T1", "tags": ["a", "b"]}, "text": "body", "a": "sum"}


def test_a_dotted_path_names_a_nested_field_in_templates_and_field_keys():
    r = recipe(prompt_template="{meta.title} ({meta.tags}) {{x}}\n{text}", output_field="a")
    [example] = to_examples(r, "t", records(NESTED), "train")
    assert example["prompt"] == "T1 (a, b) {x}\nbody"
    [example] = to_examples(
        recipe(input_field="meta.title", output_field="a"), "t", records(NESTED), "train"
    )
    assert example == {"prompt": "T1", "response": "sum", "id": "train-1"}


def test_a_field_named_with_a_dot_wins_over_the_nested_path():
    rows = records({"meta.title": "flat", "meta": {"title": "nested"}, "a": "s"})
    [example] = to_examples(recipe(input_field="meta.title"), "t", rows, "train")
    assert example["prompt"] == "flat"


@pytest.mark.parametrize("name", ["meta.titel", "text.title", "q.__class__"])
def test_a_missing_nested_field_is_named_never_an_attribute(name):
    rows = records({**NESTED, "q": "text"})
    with pytest.raises(UserError, match=rf"t:1: missing field '{name}' \(recipe key data"):
        to_examples(recipe(input_field=name, output_field="a"), "t", rows, "train")


def test_a_missing_nested_value_is_filled_like_a_flat_one():
    r = recipe(input_field="meta.author", output_field="a", fill_missing={"meta.author": "anon"})
    [example] = to_examples(r, "t", records(NESTED), "train")
    assert example["prompt"] == "anon"


@pytest.mark.parametrize(
    ("template", "row", "prompt"),
    [
        ("{q}\n\n{i}", {"q": "Name a tool.", "i": ""}, "Name a tool."),  # Alpaca, no input
        ("{i}\n\n{q}", {"q": "  indented", "i": " "}, "  indented"),
        ("{q}\n\n{i}", {"q": "Sum up:", "i": "text \n"}, "Sum up:\n\ntext"),
    ],
)
def test_an_empty_slot_at_an_end_leaves_no_blank_lines(template, row, prompt):
    r = recipe(prompt_template=template)
    [example] = to_examples(r, "t", records({**row, "a": "x"}), "train")
    assert example["prompt"] == prompt


def test_a_text_file_as_data_says_where_plain_text_is_read(tmp_path):
    from tunesmith.data.io import read_records

    (tmp_path / "notes.txt").write_text("some domain text", encoding="utf-8")
    with pytest.raises(UserError, match=r"notes.txt: unsupported .*; plain .* pretrain.corpus"):
        read_records(tmp_path / "notes.txt")


def test_a_record_whose_every_slot_is_blank_is_an_empty_prompt(tmp_path):
    """A CSV export writes a null description as an empty cell: with a template the record
    trained the instruction alone, where data.input_field (or JSON's null) dropped it."""
    from tunesmith.data.io import read_records

    path = tmp_path / "t.csv"
    path.write_text("q,a,c\r\nwhat is x,an x,\r\n,a y,\r\n  ,a z,ctx\r\n", encoding="utf-8")
    rows = read_records(path)
    for template in ["Answer this: {q}", "Answer this: {q}{#c}\n\nContext: {c}{/c}"]:
        funnel: list = []
        examples = to_examples(recipe(prompt_template=template), path, rows, "train", funnel)
        assert [e["response"] for e in examples] == ["an x"]
        assert funnel[0]["dropped"] == {"empty prompt": 2}
    # a blank slot beside a filled one keeps its row
    kept = to_examples(recipe(prompt_template="{q} / {a}"), path, rows, "train")
    assert len(kept) == 3
