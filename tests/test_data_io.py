"""Data loading: formats, gzip, field mapping, and one-line errors with file:line."""

from __future__ import annotations

import csv
import gzip

import pytest

from tunesmith.artifacts.files import read_json, read_jsonl
from tunesmith.data.io import decode_text, read_records, record_number
from tunesmith.errors import UserError

DEEP = b"[" * 100_000 + b"]" * 100_000  # deeper than the JSON decoder's recursion reaches


def test_jsonl_gzip_csv_parquet_and_saved_dataset_agree(tmp_path):
    rows = [{"a": "x", "b": "1"}, {"a": "y", "b": "2"}]
    (tmp_path / "d.jsonl").write_text('{"a":"x","b":"1"}\n\n{"a":"y","b":"2"}\n')
    (tmp_path / "d.jsonl.gz").write_bytes(gzip.compress((tmp_path / "d.jsonl").read_bytes()))
    with open(tmp_path / "d.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["a", "b"])
        writer.writeheader()
        writer.writerows(rows)
    import datasets

    datasets.Dataset.from_list(rows).to_parquet(str(tmp_path / "d.parquet"))
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "saved"))
    for name in ("d.jsonl", "d.jsonl.gz", "d.csv", "d.parquet", "saved"):
        got = [{k: v for k, v in r.items() if k != "_line"} for r in read_records(tmp_path / name)]
        assert got == rows, name
    assert [r["_line"] for r in read_records(tmp_path / "d.jsonl")] == [1, 3]


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (b'{"a": 1}\n{"a": 2\n', r"d.jsonl:2: malformed JSON line"),
        (b'{"a": 1}\n{"a": "x\n', r"d.jsonl:2: .*\(Unterminated string starting at: column 7\)"),
        (b'{"a": 1}\n{"a": ' + DEEP + b"}\n", r"d.jsonl:2: JSON nested too deeply"),
        (b'[\n{"a": 1},\n{"a": ' + DEEP + b"}\n]", r"d.jsonl:3: JSON nested too deeply"),
        # half of a UTF-16 pair reads into Python but no UTF-8 file can hold it: `run` used to
        # fail writing the split after `validate` had passed
        (b'{"a": 1}\n{"a": "x \\ud800 y"}\n', r"d.jsonl:2: \\ud800 is half of a UTF-16 surrogate"),
        (b'[{"a": 1},\n {"\\udfff": "key"}]', r"d.jsonl:2: \\udfff is half of a UTF-16 surrogate"),
        (b'{"a": 1}\n[1, 2]\n', r"d.jsonl:2: expected a JSON object"),
        (b'{"a": "ok"}\n{"a": "caf\xe9"}\n', r"d.jsonl:2: not UTF-8"),
        (b"", r"d.jsonl: no records"),
        (b"\n\n", r"d.jsonl: no records"),
    ],
)
def test_bad_jsonl(tmp_path, content, pattern):
    path = tmp_path / "d.jsonl"
    path.write_bytes(content)
    with pytest.raises(UserError, match=pattern):
        read_records(path)


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        # the record's own line, not its position in the array (this is item 2)
        ('[\n  {"a": 1},\n\n  [1, 2]\n]\n', r"d.json:4: expected a JSON object, got list"),
        ('[{"a": 1}, {"a": 2}, 3]', r"d.json:1: expected a JSON object, got int"),
        ('[\n {"a": 1}\n {"a": 2}\n]', r"d.json:3: malformed JSON \(Expecting ',' delimiter\)"),
        ('[\n {"a": 1},\n]', r"d.json:3: malformed JSON \(Expecting value\)"),
        ('[\n {"a": 1}\n]\n]', r"d.json:4: malformed JSON \(Extra data\)"),
        ('[\n {"a": 1},\n {"a": \n', r"d.json:4: malformed JSON \(Expecting value\)"),
    ],
)
def test_a_json_array_error_names_the_line_of_the_record(tmp_path, content, pattern):
    path = tmp_path / "d.json"
    path.write_text(content)
    with pytest.raises(UserError, match=pattern):
        read_records(path)


def test_json_array_records_remember_their_lines(tmp_path):
    path = tmp_path / "d.json"
    path.write_text('  [\n{"a": "x"},\n\n{"a": "y,\\n ]"}, {"a": "z"}\n]  \n')
    got = [(r["a"], r["_line"]) for r in read_records(path)]
    assert got == [("x", 2), ("y,\n ]", 4), ("z", 4)]
    (tmp_path / "e.json").write_text("[]")
    with pytest.raises(UserError, match="e.json: no records"):
        read_records(tmp_path / "e.json")


def test_records_of_a_one_line_json_array_keep_distinct_ids(tmp_path):
    from tunesmith.data.curate.adhoc import rows_from_file

    path = tmp_path / "d.json"
    path.write_text('[{"a": "x"}, {"a": "y"}, {"a": "z"}]')  # json.dump's usual output
    records = read_records(path)
    assert [record_number(r, i) for i, r in enumerate(records)] == [1, 2, 3]
    rows, _, _ = rows_from_file(path, None, None)
    assert rows == [
        {"a": "x", "id": "line-1"},
        {"a": "y", "id": "line-2"},
        {"a": "z", "id": "line-3"},
    ]


def test_a_bad_byte_after_a_bom_names_its_own_line_and_value():
    # utf-8-sig reports offsets past the BOM: the line was counted 3 bytes short (line 2
    # here) and the byte shown was another one (0x0a)
    with pytest.raises(UserError) as info:
        decode_text(b"\xef\xbb\xbfa\nbc\n\xe9t\xe9\n", "d.csv")
    assert str(info.value) == "d.csv:3: not UTF-8 text (byte 0xe9); re-encode as UTF-8"
    assert decode_text(b"\xef\xbb\xbfa,b\n", "d.csv") == "a,b\n"


def test_run_files_and_data_files_keep_their_own_decoding_message(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": 2}\n{"a": "\xff"}\n')
    with pytest.raises(UserError) as info:
        read_jsonl(path)
    assert str(info.value) == f"{path}:3: damaged run file, not UTF-8 text (byte 0xff)"
    with pytest.raises(UserError) as info:
        read_json(path)
    assert str(info.value) == f"{path}:3: damaged run file, not UTF-8 text (byte 0xff)"
    with pytest.raises(UserError) as info:
        read_records(path)
    assert str(info.value) == f"{path}:3: not UTF-8 text (byte 0xff); re-encode as UTF-8"


def test_escapes_of_whole_characters_still_read(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"a": "\\ud83d\\ude00 caf\\u00e9", "b": "\\\\ud800 is text"}\n')
    record = read_records(path)[0]
    assert record["a"] == "\U0001f600 caf\u00e9" and record["b"] == "\\ud800 is text"


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        # an unclosed quote used to swallow every later row into one field, silently
        ('a,b\nx,1\n"open,2\ny,3\nz,4\n', r"d.csv:3: malformed CSV \(a quoted field"),
        ('a,b\nx,1\ny,"2"3\n', r"d.csv:3: malformed CSV \(',' expected after"),
        ("a,b\nx,1,extra\n", r"d.csv:2: more values than header columns$"),
        # a separator named by data.csv_delimiter that the header does not use: refused at
        # the header (every row would read as one text column, silently)
        (
            "name;section\nvim;editors\ned, the editor;editors\n",
            r"d.csv:1: the header 'name;section' reads as one column: the file looks "
            r"';'-separated, not ','-separated \(data.csv_delimiter is ','; set "
            r"data.csv_delimiter to ';', or save it ','-separated\)$",
        ),
        # several separators in the header: asked, not guessed
        (
            "name;price, EUR\nvim;0\n",
            r"^\S*d.csv:1: the header 'name;price, EUR' could be separated by ',' or ';'; set "
            r"data.csv_delimiter to the one this file uses$",
        ),
    ],
)
def test_bad_csv_names_the_record_it_starts_on(tmp_path, content, pattern):
    path = tmp_path / "d.csv"
    path.write_text(content)
    chosen = "," if content.startswith("name;section") else "auto"
    with pytest.raises(UserError, match=pattern):
        read_records(path, chosen)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a European spreadsheet's export: ';', commas inside the values
        ("text;label\ngood, fun film;pos\nbad film;neg\n", ["good, fun film", "bad film"]),
        ("text\tlabel\ngood, fun film\tpos\nbad film\tneg\n", ["good, fun film", "bad film"]),
        ("text|label\ngood; fun film|pos\nbad film|neg\n", ["good; fun film", "bad film"]),
        # a quoted header name may hold another separator
        ('"text;body",label\ngood; film,pos\nbad,neg\n', ["good; film", "bad"]),
    ],
    ids=["semicolon", "tab", "pipe", "quoted-header"],
)
def test_a_csv_separator_is_read_from_its_header(tmp_path, text, expected):
    path = tmp_path / "d.csv"
    path.write_text(text)
    rows = read_records(path)
    assert [next(iter(r.values())) for r in rows] == expected
    assert [r["label"] for r in rows] == ["pos", "neg"]


@pytest.mark.parametrize(
    ("raw", "first"),
    [
        (b"\xef\xbb\xbftext;label\ngood, film;pos\nbad;neg\n", "good, film"),  # BOM
        (b"text;label\r\ngood, film;pos\r\nbad;neg\r\n", "good, film"),  # CRLF
        (b'text;label\n"good;\nfilm";pos\nbad;neg\n', "good;\nfilm"),  # quoted newline
        (b'\xef\xbb\xbf"te\nxt";label\r\n"a\r\nb";pos\r\nbad;neg\r\n', "a\r\nb"),  # all three
    ],
    ids=["bom", "crlf", "quoted-newline", "bom-crlf-quoted-header"],
)
def test_a_semicolon_csv_reads_with_a_bom_crlf_and_quoted_newlines(tmp_path, raw, first):
    path = tmp_path / "d.csv"
    path.write_bytes(raw)
    rows = read_records(path)
    assert [list(r.values())[:2] for r in rows] == [[first, "pos"], ["bad", "neg"]]
    assert [r["_line"] for r in rows][-1] == raw.count(b"\n")


def test_data_csv_delimiter_reads_an_ambiguous_header(tmp_path, tiny_recipe):
    from tunesmith.config import load_recipe
    from tunesmith.data.stage import load_examples

    path = tmp_path / "d.csv"
    path.write_text("description;synopsis, short\nvim, the editor;an editor\n")
    with pytest.raises(UserError, match="could be separated by ',' or ';'"):
        read_records(path)
    assert read_records(path, ";") == [
        {"description": "vim, the editor", "synopsis, short": "an editor", "_line": 2}
    ]
    recipe = load_recipe(
        tiny_recipe(**{"data.csv_delimiter": ";", "data.output_field": "synopsis, short"})
    )
    [example] = load_examples(recipe, str(path), "train", None)
    assert (example["prompt"], example["response"]) == ("Summarise:\nvim, the editor", "an editor")
    # tab may be written by name
    assert load_recipe(tiny_recipe(**{"data.csv_delimiter": "tab"})).data.csv_delimiter == "\t"


def test_a_csv_header_naming_a_column_twice_is_refused(tmp_path):
    # DictReader kept only the last 'text' column: the first one's values vanished silently
    path = tmp_path / "d.csv"
    path.write_text("text,label,text\ngood film,pos,x\n")
    with pytest.raises(UserError) as caught:
        read_records(path)
    assert str(caught.value) == (
        f"{path}:1: the header names column 'text' twice; rename one "
        "(only the last one's values would be read)"
    )


def test_a_one_column_csv_still_reads(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("text\ngood; film\nbad\tfilm\n")
    assert [r["text"] for r in read_records(path)] == ["good; film", "bad\tfilm"]


def test_csv_quotes_that_are_well_formed_still_read(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text('a,b\n"two\nlines",1\nsays 5" wide,2\n')
    got = [(r["a"], r["b"], r["_line"]) for r in read_records(path)]
    assert got == [("two\nlines", "1", 3), ('says 5" wide', "2", 4)]


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(UserError, match="data file not found"):
        read_records(tmp_path / "nope.jsonl")
    (tmp_path / "d.txt").write_text("x")
    with pytest.raises(UserError, match="unsupported data format"):
        read_records(tmp_path / "d.txt")


def test_missing_field_names_file_line_and_key(tmp_path, tiny_recipe):
    from tunesmith.config import load_recipe
    from tunesmith.data.stage import load_examples

    recipe = load_recipe(tiny_recipe())
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"description": "d", "summary": "s"}\n{"description": "d"}\n')
    with pytest.raises(UserError, match=r"bad.jsonl:1: missing field 'synopsis'.*output_field"):
        load_examples(recipe, str(bad), "train", None)
