"""Read records from JSONL, CSV, TSV, Parquet (optionally gzipped) or a saved `datasets` folder.

Every problem is a UserError naming the file and, for text formats, the line.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import zlib
from pathlib import Path

from tunesmith.artifacts.files import decode_text
from tunesmith.config.saved_splits import train_split
from tunesmith.errors import UserError

TEXT_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv")
SOURCE_KEYS = ("_line", "_item")  # where a record came from; not fields of the user's data
# The separators spreadsheets export (`;` where the decimal mark is a comma), by name.
SEPARATORS = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}
JSON_SPACE = re.compile(r"[ \t\n\r]*")  # the whitespace JSON allows between values


def read_records(path: str | Path, csv_delimiter: str = "auto") -> list[dict]:
    """All records of a data file as dicts (each remembers its source line in `_line`, and a
    JSON array's item its position in `_item`). A CSV file's separator is `csv_delimiter`
    (data.csv_delimiter), or with `auto` tab for .tsv and the one its header shows for .csv."""
    path = Path(path)
    if not path.exists():
        dangling = " (a symbolic link to nothing, or a loop)" if path.is_symlink() else ""
        raise UserError(f"{path}: data file not found{dangling}")
    if path.is_dir():
        rows = _read_saved_dataset(path)
    else:
        kind = _kind(path)
        if kind == "parquet":
            rows = _read_parquet(path)
        else:
            text = read_text(path)
            rows = (
                _parse_jsonl(path, text)
                if kind == "jsonl"
                else _parse_table(path, text, kind, csv_delimiter)
            )
    if not rows:
        raise UserError(f"{path}: no records (the dataset is empty)")
    return rows


def _kind(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    for suffix, kind in ((".jsonl", "jsonl"), (".json", "jsonl"), (".csv", "csv"), (".tsv", "tsv")):
        if name.endswith(suffix):
            return kind
    if name.endswith(".parquet"):
        return "parquet"
    # plain text has no records: say where it is read instead of only what is not
    prose = name.endswith((".txt", ".md"))
    raise UserError(
        f"{path}: unsupported data format; use .jsonl, .json (an array), .csv, .tsv, .parquet "
        "(optionally .gz) or a folder saved with datasets' save_to_disk"
        + (
            "; plain .txt/.md text is read by pretrain.corpus, and the completion task reads "
            "one text per record from data.text_field"
            if prose
            else ""
        )
    )


def read_text(path: Path) -> str:
    """A text file (gzip by its name) as str; bytes that are not UTF-8 are a file:line error."""
    return decode_text(read_data_bytes(path), str(path))


def read_data_bytes(path: Path, what: str = "") -> bytes:
    """A data file's bytes, unpacked (bounded) when its name ends in .gz. A device or pipe is
    refused: a data.train linked to /dev/zero read until memory ran out, a FIFO until its
    writer closed it. `what` starts the error line (the recipe key)."""
    if path.exists() and not path.is_file():
        raise UserError(f"{what}{path}: not a regular file (a device, pipe or socket)")
    raw = path.read_bytes()
    return gunzip(path, raw, what) if path.name.lower().endswith(".gz") else raw


# A few MB of gzip can unpack to terabytes (a "gzip bomb"); data is read whole into memory,
# so the unpacked size is bounded rather than discovered by running out of it: at 1 GB, or
# at MAX_GZIP_RATIO times the packed size for a larger file. Text and JSON lines pack 3-10x
# (a large corpus then reads whole); a bomb packs a thousandfold and more.
MAX_GUNZIPPED_BYTES = 1 << 30
MAX_GZIP_RATIO = 100


def gunzip(path: Path, raw: bytes, what: str = "") -> bytes:
    # gzip raises BadGzipFile (an OSError) for a bad header, EOFError when cut short and
    # zlib.error for a corrupt body: all three are the user's file, not our bug.
    bound = max(MAX_GUNZIPPED_BYTES, MAX_GZIP_RATIO * len(raw))
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as handle:
            data = handle.read(bound + 1)  # inflates in chunks, stops there
    except (OSError, EOFError, zlib.error) as exc:
        raise UserError(f"{what}{path}: not a valid gzip file ({exc or 'truncated'})") from None
    if len(data) > bound:
        raise UserError(
            f"{what}{path}: unpacks to more than {bound >> 20} MB (from {len(raw):,} bytes, "
            f"over {MAX_GZIP_RATIO}x); refused as a possible gzip bomb"
        )
    return data


def _parse_jsonl(path: Path, text: str) -> list[dict]:
    if text.lstrip().startswith("["):  # a JSON array file is accepted too
        rows = [
            {**_as_record(path, line, item), "_item": number}
            for number, (line, item) in enumerate(_array_items(path, text), start=1)
        ]
    else:
        rows = [
            _as_record(path, number, _loads(path, line, number))
            for number, line in enumerate(text.splitlines(), start=1)
            if line.strip()
        ]
    if "\\u" in text:  # only a \u escape can make a lone surrogate: skip the check without one
        for row in rows:
            _require_unicode(path, row)
    return rows


def _loads(path: Path, text: str, line: int) -> object:
    """`json.loads` of one line of a JSONL file."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(
            f"{path}:{line}: malformed JSON line ({exc.msg}: column {exc.colno})"
        ) from None
    except RecursionError:  # the decoder recurses once per level of nesting
        raise UserError(f"{path}:{line}: JSON nested too deeply to read") from None


def _array_items(path: Path, text: str) -> list[tuple[int, object]]:
    """(line the item starts on, item) for each item of a JSON array file: errors about a
    record then name its line, not its position in the array."""
    try:
        return _decode_array(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{exc.lineno}: malformed JSON ({exc.msg})") from None
    except RecursionError:  # the decoder recurses once per level of nesting
        raise UserError(f"{path}:{_deepest_line(text)}: JSON nested too deeply to read") from None


def _decode_array(text: str) -> list[tuple[int, object]]:
    """Items of a JSON array decoded one by one (json.loads would not say where each began);
    a malformed text raises json's own JSONDecodeError, with its line."""
    decoder = json.JSONDecoder()
    items: list[tuple[int, object]] = []
    pos = _skip_space(text, text.index("[") + 1)
    line, counted = 1, 0  # newlines are counted once, from the previous item on
    closed = text.startswith("]", pos)
    while not closed:
        value, end = decoder.raw_decode(text, pos)
        line, counted = line + text.count("\n", counted, pos), pos
        items.append((line, value))
        pos = _skip_space(text, end)
        closed = text.startswith("]", pos)
        if not closed:
            if not text.startswith(",", pos):
                raise json.JSONDecodeError("Expecting ',' delimiter", text, pos)
            pos = _skip_space(text, pos + 1)
    pos = _skip_space(text, pos + 1)  # past the closing ]
    if pos != len(text):
        raise json.JSONDecodeError("Extra data", text, pos)
    return items


def _skip_space(text: str, pos: int) -> int:
    return JSON_SPACE.match(text, pos).end()


def _deepest_line(text: str) -> int:
    """The line where the nesting of a JSON text is deepest (brackets in strings skipped)."""
    depth = deepest = 0
    line = found = 1
    for token in re.finditer(r'"(?:[^"\\\n]|\\.)*"|[\[{\]}\n]', text):
        char = token.group()
        if char == "\n":
            line += 1
        elif char in "[{":
            depth += 1
            if depth > deepest:
                deepest, found = depth, line
        elif char in "]}":
            depth -= 1
    return found


def _require_unicode(path: Path, row: dict) -> None:
    """A JSON escape such as \\ud800 is half of a UTF-16 pair: Python holds it, but no UTF-8
    file can, so the data stage would fail writing it long after `validate` passed."""
    bad = lone_surrogate(row)
    if bad is not None:
        raise UserError(
            f"{where(path, row)}: \\u{bad:04x} is half of a UTF-16 surrogate pair, not a "
            "character; write the whole character or remove it"
        )


def lone_surrogate(value) -> int | None:
    """The first code point in `value`'s strings that no UTF-8 text can hold (half of a
    UTF-16 surrogate pair, which a JSON escape such as \\ud800 makes), or None."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        return ord(exc.object[exc.start])
    return None


def _as_record(path: Path, line: int, value: object) -> dict:
    if not isinstance(value, dict):
        raise UserError(f"{path}:{line}: expected a JSON object, got {type(value).__name__}")
    return {**value, "_line": line}


def _parse_table(path: Path, text: str, kind: str, chosen: str) -> list[dict]:
    """Rows of a .csv or .tsv file, split by the separator the recipe chose, else by the
    file's kind (.tsv: tab) or its header (.csv)."""
    if chosen != "auto":
        return parse_csv(path, text, chosen, f"data.csv_delimiter is {SEPARATORS[chosen]}")
    if kind == "tsv":
        return parse_csv(path, text, "\t", "a .tsv file is read tab-separated")
    return parse_csv(path, text, header_delimiter(path, text))


# Why the header and not csv.Sniffer: Sniffer judges by how evenly each character recurs over
# the first rows, so the commas of free text in a ';' file's rows (a review, a description)
# mislead it, and it raises on a one-column file. A header holds column names, which seldom
# hold a separator: the one separator found in it decides; several is a question for the
# user (data.csv_delimiter), not a guess; none is one column.
def header_delimiter(path: Path, text: str) -> str:
    """The separator of a CSV file, read from its header line (quoted names skipped)."""
    header = _unquoted_header(text)
    found = [sep for sep in SEPARATORS if sep in header]
    if len(found) > 1:
        line = text.split("\n", 1)[0].rstrip("\r")
        shown = line if len(line) <= 80 else line[:77] + "..."
        raise UserError(
            f"{path}:1: the header {shown!r} could be separated by "
            f"{' or '.join(SEPARATORS[sep] for sep in found)}; set data.csv_delimiter to the "
            "one this file uses"
        )
    return found[0] if found else ","


def _unquoted_header(text: str) -> str:
    """The header line without its quoted parts (a quoted name may hold a separator, or a
    line break)."""
    kept, quoted = [], False
    for char in text:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "\r\n":
            break
        elif not quoted:
            kept.append(char)
    return "".join(kept)


def parse_csv(path: Path, text: str, delimiter: str = ",", chosen_by: str = "") -> list[dict]:
    """CSV rows (TSV with delimiter tab) as dicts by the header; a malformed record is a
    file:line error. `chosen_by` says why this delimiter, for a header that looks otherwise."""
    # strict: a quote never closed is an error, not the rest of the file read into one field
    # (which then looked like one record with a missing field, every later row lost)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows, start = [], 2  # the line the next record starts on (after the header)
    try:
        _require_delimiter(path, reader.fieldnames or [], reader.line_num, delimiter, chosen_by)
        _require_unique(path, reader.fieldnames or [], reader.line_num)
        for row in reader:
            if None in row:
                raise UserError(f"{path}:{reader.line_num}: more values than header columns")
            rows.append({**row, "_line": reader.line_num})
            start = reader.line_num + 1
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            raise UserError(
                f"{path}:{start}: malformed CSV (a quoted field opened in the record starting "
                "here is never closed)"
            ) from None
        raise UserError(f"{path}:{start}: malformed CSV ({exc})") from None
    return rows


def _require_unique(path: Path, columns: list[str], line: int) -> None:
    """Refuse a header naming a column twice: DictReader keeps only the last column of that
    name, so the first one's values would vanish without a word."""
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            raise UserError(
                f"{path}:{line}: the header names column {column!r} twice; rename one "
                "(only the last one's values would be read)"
            )
        seen.add(column)


def _require_delimiter(
    path: Path, columns: list[str], line: int, delimiter: str, chosen_by: str
) -> None:
    """Refuse a header read as one column that holds another separator people export (`;`,
    tab, comma, `|`): every row would read without error as one text column, the fields never
    found or, worse, the whole line taken as the text."""
    if len(columns) != 1:
        return
    for separator, name in SEPARATORS.items():
        if separator != delimiter and separator in columns[0]:
            read_as = SEPARATORS[delimiter]
            advice = f"save it {read_as}-separated"
            if chosen_by:  # a data file: the recipe can name its separator
                advice = f"{chosen_by}; set data.csv_delimiter to {name}, or {advice}"
            raise UserError(
                f"{path}:{line}: the header {columns[0]!r} reads as one column: the file looks "
                f"{name}-separated, not {read_as}-separated ({advice})"
            )


def _read_parquet(path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    try:
        if path.name.lower().endswith(".gz"):
            table = pq.read_table(io.BytesIO(read_data_bytes(path)))
        else:
            table = pq.read_table(path)
    except UserError:
        raise
    except Exception as exc:  # pyarrow raises several types for a bad file
        raise UserError(f"{path}: not a readable Parquet file ({exc})") from None
    return [{**r, "_line": i + 1} for i, r in enumerate(table.to_pylist())]


def _read_saved_dataset(path: Path) -> list[dict]:
    from datasets import DatasetDict, load_from_disk

    try:
        data = load_from_disk(str(path))
    except Exception as exc:
        raise UserError(f"{path}: not a folder saved with datasets' save_to_disk ({exc})") from None
    if isinstance(data, DatasetDict):
        data = data[train_split(list(data))]
    return [{**r, "_line": i + 1} for i, r in enumerate(data)]


def record_number(record: dict, index: int) -> int:
    """A record's number, unique in its file (example ids are made of it): a JSON array item's
    position (several items may share a line), else its line, else its `index` + 1."""
    return record.get("_item") or record.get("_line") or index + 1


def where(path: str | Path, record: dict) -> str:
    """'file:line' of a record, for error messages."""
    line = record.get("_line")
    return f"{path}:{line}" if line else str(path)
