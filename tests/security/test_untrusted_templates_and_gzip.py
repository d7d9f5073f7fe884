"""A recipe's input_field is a str.format slot like prompt_template's; a .gz data file's
unpacked size is bounded (a gzip bomb is one line, not all the memory)."""

from __future__ import annotations

import gzip

import pytest

from tunesmith.config.loader import recipe_from_dict
from tunesmith.data import io as data_io
from tunesmith.errors import UserError


def _recipe(input_field: str):
    data = {"train": "/x.jsonl", "input_field": input_field, "output_field": "summary"}
    return recipe_from_dict({"task": "summarization", "data": data})


@pytest.mark.parametrize(
    "field",
    # a format spec padded every prompt to 50 MB; index, conversion and positional slots
    # reached into objects or crashed on every record (a dotted name is a nested field's
    # path, looked up as dict keys, never as attributes: test_data_shapes)
    ["body:>50000000", "body[0]", "body!r", "0", "bo{dy", "body.", ".body"],
)
def test_input_field_that_is_not_a_plain_slot_is_refused(field):
    with pytest.raises(UserError, match="data.input_field"):
        _recipe(field)


@pytest.mark.parametrize("field", ["{0}", "{body}", "{{body}}", "body}}"])
def test_input_field_with_braces_is_refused_not_read_as_literal_text(field):
    """'{0}' or '{body}' made the prompt template '{{0}}' / '{{body}}': every prompt was the
    literal text, and validate said ok."""
    with pytest.raises(UserError) as error:
        _recipe(field)
    assert f"data.input_field: '{field}' is a field name, not a template" in str(error.value)


def test_a_missing_input_field_names_the_key_the_user_wrote():
    from tunesmith.data.examples import to_examples

    with pytest.raises(UserError) as error:
        to_examples(_recipe("body"), "x.jsonl", [{"text": "a", "summary": "b"}], "train")
    assert "missing field 'body' (recipe key data.input_field;" in str(error.value)


def test_plain_input_field_is_kept():
    recipe = _recipe("body_text-2")
    assert recipe.data.template() == "{body_text-2}"


def test_gzip_bomb_is_refused_before_it_is_unpacked(tmp_path, monkeypatch):
    monkeypatch.setattr(data_io, "MAX_GUNZIPPED_BYTES", 1 << 20)
    bomb = tmp_path / "train.jsonl.gz"
    bomb.write_bytes(gzip.compress(b" " * (64 << 20)))  # 64 MB of spaces in ~64 KB
    with pytest.raises(UserError, match=r"unpacks to more than \d+ MB .*over 100x") as error:
        data_io.read_records(bomb)
    assert str(bomb) in str(error.value)


def test_gzip_under_the_bound_reads(tmp_path, monkeypatch):
    monkeypatch.setattr(data_io, "MAX_GUNZIPPED_BYTES", 1 << 20)
    path = tmp_path / "train.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"a": "b"}\n' * 1000) + gzip.compress(b'{"a": "c"}\n'))
    rows = data_io.read_records(path)
    assert len(rows) == 1001 and rows[-1]["a"] == "c"  # a second gzip member is read too


def test_a_large_file_packed_as_text_packs_reads_past_the_bound(tmp_path, monkeypatch):
    """The bound grows with the packed size (MAX_GZIP_RATIO): a corpus larger than it that
    packs as text does (3-10x) is read, where a fixed bound refused every large corpus."""
    import random

    monkeypatch.setattr(data_io, "MAX_GUNZIPPED_BYTES", 1 << 16)
    rng = random.Random(0)
    words = [f"w{rng.randrange(10**6)}" for _ in range(30000)]
    lines = "".join(f'{{"text": "{" ".join(words[i : i + 10])}"}}\n' for i in range(0, 30000, 10))
    path = tmp_path / "corpus.jsonl.gz"
    path.write_bytes(gzip.compress(lines.encode()))
    assert len(lines) > 1 << 16  # past the fixed bound
    assert len(data_io.read_records(path)) == 3000


def test_gzip_bomb_as_the_replay_file_is_refused(tmp_path, monkeypatch):
    from tunesmith.train.replay import _read

    monkeypatch.setattr(data_io, "MAX_GUNZIPPED_BYTES", 1 << 20)
    bomb = tmp_path / "replay.jsonl.gz"
    bomb.write_bytes(gzip.compress(b"\n" * (64 << 20)))
    with pytest.raises(UserError, match=r"training.replay.file: .*unpacks to more than \d+ MB"):
        _read(bomb)


@pytest.mark.parametrize("name", ["train.jsonl", "corpus.txt", "replay.jsonl"])
def test_a_data_file_that_is_a_device_or_a_pipe_is_refused(tmp_path, name):
    """A data.train linked to /dev/zero read until memory ran out, and a FIFO until its writer
    closed it (forever, with none): both are now one line naming the file."""
    import os

    from tunesmith.pretrain.corpus import read_corpus
    from tunesmith.train.replay import _read

    device = tmp_path / name
    device.symlink_to("/dev/zero")
    pipe = tmp_path / f"pipe-{name}"
    os.mkfifo(pipe)
    read = {
        "train.jsonl": data_io.read_records,
        "corpus.txt": lambda p: read_corpus([str(p)], "text"),
        "replay.jsonl": _read,
    }[name]
    for path in (device, pipe):
        with pytest.raises(UserError, match="not a regular file") as error:
            read(path)
        assert str(path) in str(error.value)


def test_recipe_paths_keep_their_symbolic_links(tmp_path):
    """The loader made data paths absolute with Path.resolve(), which follows links: a
    train.jsonl linked to a content store's blob (the Hugging Face hub cache, git-annex) was
    read as '<hash>: unsupported data format', and one linked to /dev/zero as '/dev/zero:
    unsupported data format' instead of the device refusal naming the user's file."""
    from tunesmith.config.loader import load_recipe

    blob = tmp_path / "blobs" / "0a1b2c3d"
    blob.parent.mkdir()
    blob.write_text('{"body": "a text", "summary": "short"}\n', encoding="utf-8")
    (tmp_path / "train.jsonl").symlink_to(blob)
    (tmp_path / "zero.jsonl").symlink_to("/dev/zero")
    (tmp_path / "recipe.yaml").write_text(
        "task: summarization\n"
        "data: {train: train.jsonl, input_field: body, output_field: summary}\n",
        encoding="utf-8",
    )
    recipe = load_recipe(tmp_path / "recipe.yaml")
    assert recipe.data.train == str(tmp_path / "train.jsonl")
    assert data_io.read_records(recipe.data.train)[0]["body"] == "a text"
    zero = load_recipe(tmp_path / "recipe.yaml", ["data.train=zero.jsonl"])
    with pytest.raises(UserError) as error:
        data_io.read_records(zero.data.train)
    assert (
        str(error.value)
        == f"{tmp_path / 'zero.jsonl'}: not a regular file (a device, pipe or socket)"
    )
    (tmp_path / "loop.jsonl").symlink_to(tmp_path / "loop.jsonl")  # Path.resolve(): RuntimeError
    loop = load_recipe(tmp_path / "recipe.yaml", ["data.train=loop.jsonl"])
    with pytest.raises(UserError, match=r"loop.jsonl: data file not found \(a symbolic link"):
        data_io.read_records(loop.data.train)
