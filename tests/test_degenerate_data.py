"""Degenerate data is dropped with a counted reason, filled when the recipe says how, or refused."""

from __future__ import annotations

import gzip
import json

import pytest

from tunesmith.config.loader import recipe_from_dict
from tunesmith.data.examples import to_examples
from tunesmith.errors import UserError


def recipe(task="summarization", evaluation=None, **data):
    return recipe_from_dict(
        {
            "task": task,
            "data": {"train": "/t.jsonl", "input_field": "q", "output_field": "a", **data},
            "evaluation": evaluation or {},
        }
    )


def records(*rows):
    return [{**row, "_line": i + 1} for i, row in enumerate(rows)]


def test_null_and_missing_outputs_are_dropped_and_counted():
    funnel = []
    rows = records({"q": "x", "a": "y"}, {"q": "x", "a": None}, {"q": "x"}, {"q": "x", "a": " "})
    examples = to_examples(recipe(), "t.jsonl", rows, "train", funnel)
    assert [e["response"] for e in examples] == ["y"]
    assert funnel[0]["dropped"] == {"missing a": 2, "empty output": 1}
    assert (funnel[0]["rows_in"], funnel[0]["rows_out"]) == (4, 1)


def test_fill_missing_fills_instead_of_dropping():
    rows = records({"q": "x", "a": None}, {"a": "y"})
    examples = to_examples(recipe(fill_missing={"a": "none", "q": "?"}), "t", rows, "train")
    assert [(e["prompt"], e["response"]) for e in examples] == [("x", "none"), ("?", "y")]


def test_short_csv_rows_are_dropped(tmp_path):
    from tunesmith.data.io import read_records

    path = tmp_path / "d.csv"
    path.write_text("q,a\nhello,world\nshort\n", encoding="utf-8")
    funnel = []
    examples = to_examples(recipe(), path, read_records(path), "train", funnel)
    assert len(examples) == 1 and funnel[0]["dropped"] == {"missing a": 1}


def test_nothing_left_is_an_error_naming_the_first_reason():
    with pytest.raises(UserError, match=r"t:1: field 'a' is null.*no record.*missing a: 2"):
        to_examples(recipe(), "t", records({"q": "x", "a": None}, {"q": "y", "a": None}), "p")


def test_all_empty_prompts_are_refused():
    rows = records({"q": "", "a": "y"}, {"q": "  ", "a": "z"})
    with pytest.raises(UserError, match="prompt is empty"):
        to_examples(recipe(), "t", rows, "train")


@pytest.mark.parametrize("template", ["", "   "])
def test_empty_prompt_template_is_refused(template):
    with pytest.raises(UserError, match="prompt_template is empty"):
        recipe(prompt_template=template)


# {q.__class__} is a nested field's path now, read as a dict key, never an attribute
# (test_data_shapes.py); {q.} and {.q} name no key
@pytest.mark.parametrize("slot", ["{}", "{0}", "{q.}", "{.q}", "{q[0]}", "{q!r}", "{q:{q}}"])
def test_non_plain_template_slots_are_refused(slot):
    with pytest.raises(UserError, match="not a plain field name"):
        recipe(prompt_template=f"Answer: {slot}")


def test_plain_slots_and_literal_braces_are_kept():
    r = recipe(prompt_template="{{literal}} {q} {title-text}")
    assert r.data.template_fields() == ["q", "title-text"]


def test_one_class_in_training_is_an_error_and_unseen_labels_warn():
    from tunesmith.data.label_checks import check_labels

    one = {"train": [{"label": "a"}] * 3, "test": [{"label": "a"}]}
    with pytest.raises(UserError, match="1 class"):
        check_labels(one, "t.jsonl")
    splits = {"train": [{"label": "a"}, {"label": "b"}], "test": [{"label": "c"}] * 2}
    splits["test"] += [{"label": "a"}, {"label": "b"}]  # every training class is tested
    (warning,) = check_labels(splits, "t.jsonl")
    assert "2 test examples" in warning and "'c': 2" in warning


def test_a_label_list_of_one_is_its_label_and_a_longer_one_is_refused():
    rows = records({"q": "x", "a": ["spam"]}, {"q": "y", "a": [1.0]}, {"q": "z", "a": []})
    funnel = []
    examples = to_examples(recipe("classification"), "t.jsonl", rows, "train", funnel)
    assert [e["label"] for e in examples] == ["spam", "1"]  # the empty list: no label, dropped
    assert funnel[0]["dropped"] == {"empty output": 1}
    multi = records({"q": "x", "a": "ham"}, {"q": "y", "a": ["spam", "promo"]})
    with pytest.raises(UserError, match=r"t.jsonl:2: field 'a' holds 2 labels.*multi-label"):
        to_examples(recipe("classification"), "t.jsonl", multi, "train")
    # other tasks keep a list of strings as one text (WordNet's synonyms)
    (example,) = to_examples(recipe(), "t", records({"q": "x", "a": ["b", "c"]}), "train")
    assert example["response"] == "b, c"


def test_labels_equal_but_for_case_are_named_in_a_warning():
    from tunesmith.data.label_checks import check_labels

    train = [{"label": "perl"}, {"label": "Perl"}, {"label": "python"}, {"label": "perl"}]
    (warning,) = check_labels({"train": train, "test": []}, "t.jsonl")
    # the map entry offered merges the rarer spelling into the commoner one
    assert warning.endswith(
        "separate classes: 'Perl' / 'perl' (data.label_map merges them: {\"Perl\": \"perl\"})"
    )


def test_oversized_rows_are_cut_by_characters_before_tokenising():
    from tunesmith.models.formatting import CHARS_PER_TOKEN, clip_example

    big = {"prompt": "a" * 10_000_000, "response": "b" * 10_000}
    clipped, changed = clip_example(big, 64)
    bound = 64 * CHARS_PER_TOKEN
    assert changed and len(clipped["prompt"]) == bound and len(clipped["response"]) == bound
    assert clip_example({"prompt": "ok", "response": "fine"}, 64) == (
        {"prompt": "ok", "response": "fine"},
        False,
    )


def test_clipped_examples_are_flagged_when_encoded(tiny_model_dir):
    from transformers import AutoTokenizer

    from tunesmith.models.formatting import encode_example

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    item = encode_example({"prompt": "hello " * 100_000, "response": "world"}, tokenizer, 32)
    assert item.clipped and len(item.input_ids) == 32


@pytest.mark.parametrize(
    ("share", "expected_test"), [(1.0, "all"), (0.5, 5), (1, 1), (3, 3)], ids=str
)
def test_split_floats_are_shares_and_ints_are_counts(share, expected_test):
    from tunesmith.config.schema import SplitConfig
    from tunesmith.data.split import split_examples

    examples = [{"id": i} for i in range(10)]
    config = SplitConfig(validation=0, test=share)
    if expected_test == "all":
        with pytest.raises(UserError, match="nothing is left to train on"):
            split_examples(examples, config, need_val=True, need_test=True)
        return
    splits = split_examples(examples, config, need_val=True, need_test=True)
    assert len(splits["test"]) == expected_test


def test_split_float_above_one_is_refused():
    with pytest.raises(UserError, match="neither a share"):
        recipe(split={"test": 1.5})


@pytest.mark.parametrize(
    "content",
    [
        b"not gzip at all",  # BadGzipFile
        gzip.compress(b'{"q": "x", "a": "y"}\n' * 50)[:-12],  # EOFError: cut short
        gzip.compress(b'{"q": "x"}\n' * 50)[:10] + b"\xff" * 40 + b"\x00" * 8,  # zlib.error
    ],
    ids=["bad-header", "truncated", "corrupt-body"],
)
def test_corrupt_gzip_is_one_clear_error(tmp_path, content):
    from tunesmith.data.io import read_records

    path = tmp_path / "d.jsonl.gz"
    path.write_bytes(content)
    with pytest.raises(UserError, match=r"d.jsonl.gz: not a valid gzip file"):
        read_records(path)


def test_chat_null_or_empty_assistant_content_is_dropped():
    funnel = []
    good = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    null = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": None}]}
    empty = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]}
    chat = recipe_from_dict({"task": "chat", "data": {"train": "/t.jsonl"}})
    examples = to_examples(chat, "t", records(good, null, empty), "train", funnel)
    assert len(examples) == 1
    assert funnel[0]["dropped"] == {"empty output": 2}


@pytest.mark.parametrize("nothing", [None, ""], ids=["null", "blank"])
def test_chat_null_and_blank_turns_are_read_alike(nothing):
    """A null content is a turn with nothing said, as a blank one: kept as context before the
    target (the conversation's other answers train), cut after it. Null dropped the whole
    conversation while a blank turn was kept."""
    funnel = []
    chat = recipe_from_dict({"task": "chat", "data": {"train": "/t.jsonl"}})
    rows = chat_records(
        [nothing, "a1", "q2", "a2"],  # a blank user turn first
        ["q1", nothing, "q2", "a2"],  # a skipped reply
        ["q1", "a1", "q2", nothing],  # no last answer: the target is a1
    )
    examples = to_examples(chat, "t", rows, "train", funnel)
    assert [[m["content"] for m in e["messages"]] for e in examples] == [
        ["", "a1", "q2", "a2"],
        ["q1", "", "q2", "a2"],
        ["q1", "a1"],
    ]
    assert funnel[0]["dropped"] == {}


def test_dropped_records_are_counted_in_the_data_card(tmp_path, tiny_recipe):
    from conftest import make_records, write_jsonl

    from tunesmith.artifacts import RunDir
    from tunesmith.config import load_recipe
    from tunesmith.data.stage import run

    recipe_path = tiny_recipe()
    rows = make_records(60)
    rows[3]["synopsis"], rows[7]["synopsis"] = None, ""
    del rows[9]["synopsis"]
    write_jsonl(tmp_path / "data.jsonl", rows)
    run(load_recipe(recipe_path), RunDir(tmp_path / "run"))
    card = json.loads((tmp_path / "run" / "data" / "data_card.json").read_text())
    load = card["funnel"][0]
    assert load["step"] == "load" and (load["rows_in"], load["rows_out"]) == (60, 57)
    assert load["dropped"] == {"missing synopsis": 2, "empty output": 1}
    assert sum(card["sizes"].values()) == 57
    # said on the console and in the card's warnings, not only counted in its funnel
    assert card["warnings"] == [
        "read train: 3 of 60 records dropped (missing synopsis: 2, empty output: 1; "
        "data.fill_missing fills null or missing values; examples in data/data_card.json)"
    ]


def chat_records(*conversations):
    roles = ("user", "assistant")
    return records(
        *(
            {"messages": [{"role": roles[i % 2], "content": c} for i, c in enumerate(turns)]}
            for turns in conversations
        )
    )


def test_chat_without_an_assistant_message_is_dropped_and_counted():
    funnel = []
    chat = recipe_from_dict({"task": "chat", "data": {"train": "/t.jsonl"}})
    rows = chat_records(["hi"], ["hi", "yo"], ["only a question"])
    examples = to_examples(chat, "t", rows, "train", funnel)
    assert [e["id"] for e in examples] == ["train-2"]
    assert funnel[0]["dropped"] == {"no assistant message": 2}
    with pytest.raises(
        UserError, match=r"t:1: conversation has no assistant.*no assistant message: 2"
    ):
        to_examples(chat, "t", chat_records(["hi"], ["hello"]), "train")


def test_chat_target_is_the_last_non_blank_assistant_turn():
    funnel = []
    chat = recipe_from_dict({"task": "chat", "data": {"train": "/t.jsonl"}})
    rows = chat_records(["q1", "a1", "q2", "   "], ["q1", "a1", "q2"], ["q1", " ", "q2", ""])
    examples = to_examples(chat, "t", rows, "train", funnel)
    kept = [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"}]
    assert [e["messages"] for e in examples] == [kept, kept]
    assert funnel[0]["dropped"] == {"empty output": 1}


def test_slice_by_field_is_filled_by_fill_missing():
    by_section = {"slice_by": ["section"]}
    rows = records({"q": "x", "a": "y", "section": "news"}, {"q": "x", "a": "y", "section": None})
    with pytest.raises(UserError, match=r"t:2: field 'section' is null \(evaluation.slice_by\)"):
        to_examples(recipe(evaluation=by_section), "t", rows, "train")
    rows.append({"q": "x", "a": "y", "_line": 3})  # the field absent, not only null
    examples = to_examples(
        recipe(evaluation=by_section, fill_missing={"section": "unknown"}), "t", rows, "train"
    )
    assert [e["meta"] for e in examples] == [{"section": s} for s in ("news", "unknown", "unknown")]


def test_a_null_federated_owner_is_an_error_not_a_client_named_none():
    federated = {"clients": 2, "partition_field": "owner"}
    by_owner = recipe_from_dict(
        {
            "task": "summarization",
            "data": {"train": "/t.jsonl", "input_field": "q", "output_field": "a"},
            "federated": federated,
        }
    )
    rows = records({"q": "x", "a": "y", "owner": "ann"}, {"q": "x", "a": "y", "owner": None})
    with pytest.raises(
        UserError, match=r"t:2: field 'owner' is null \(federated.partition_field\)"
    ):
        to_examples(by_owner, "t", rows, "train")
    assert "client" not in to_examples(by_owner, "t", rows, "test")[1]  # not partitioned
    rows[1]["owner"] = 7  # a number names a client too
    assert [e["client"] for e in to_examples(by_owner, "t", rows, "train")] == ["ann", "7"]


def test_labels_are_written_as_json_writes_them():
    # JSON 1 and 1.0 were two classes ("1", "1.0") and booleans read "True"/"False"
    rows = records(
        {"q": "a", "a": 1}, {"q": "b", "a": "1"}, {"q": "c", "a": 1.0}, {"q": "d", "a": 2.5}
    )
    rows += records({"q": "e", "a": True}, {"q": "f", "a": False})
    examples = to_examples(recipe("classification"), "t.jsonl", rows, "train")
    assert [e["label"] for e in examples] == ["1", "1", "1", "2.5", "true", "false"]
    assert [e["response"] for e in examples] == ["1", "1", "1", "2.5", "true", "false"]


def test_recipe_labels_given_as_numbers_or_booleans_read_as_the_data_labels():
    assert recipe("classification", labels=[0, 1.0]).data.labels == ["0", "1"]
    assert recipe("classification", labels=[True, False]).data.labels == ["true", "false"]


def test_a_null_reply_before_the_target_is_context_and_not_trained(tiny_model_dir):
    from transformers import AutoTokenizer

    from tunesmith.models.formatting import IGNORE, encode_example

    chat = recipe_from_dict({"task": "chat", "data": {"train": "/t.jsonl"}})
    [example] = to_examples(chat, "t", chat_records(["q1", None, "q2", "a2"]), "train")
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    encoded = encode_example(example, tokenizer, 256)
    trained = [i for i, label in zip(encoded.input_ids, encoded.labels) if label != IGNORE]
    assert tokenizer.decode(trained) == "a2<|im_end|>\n"
    assert "<|im_start|>assistant\n<|im_end|>" in tokenizer.decode(encoded.input_ids)
