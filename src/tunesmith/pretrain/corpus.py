"""Read a pre-training corpus into documents: text files, folders of them, JSONL/Parquet fields.

A file that is not UTF-8 text (a binary, a Latin-1 export) is skipped with a counted warning
rather than stopping the run: domain folders often hold a stray PDF or image, and losing one
file of many is better than no run. The skipped names are listed in pretrain/metrics.json.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from tunesmith.errors import UserError

TEXT_SUFFIXES = (".txt", ".md")
RECORD_SUFFIXES = (".jsonl", ".json", ".parquet")
log = logging.getLogger(__name__)


@dataclass
class Corpus:
    documents: list[str] = field(default_factory=list)
    files: int = 0
    skipped: list[str] = field(default_factory=list)  # not UTF-8 text


def read_corpus(paths: list[str], text_field: str, limit: int | None = None) -> Corpus:
    """Every document of the corpus, in a stable order."""
    corpus = Corpus()
    for entry in paths:
        for file in _files(Path(entry)):
            corpus.files += 1
            _read_file(file, text_field, corpus)
    if corpus.skipped:
        log.warning("pretrain: skipped %d file(s) that are not UTF-8 text", len(corpus.skipped))
    corpus.documents = [d for d in corpus.documents if d.strip()][:limit]
    if not corpus.documents:
        raise UserError(f"pretrain.corpus: no text in {', '.join(paths)} (the corpus is empty)")
    return corpus


def _stem(path: Path) -> str:
    return path.name.lower().removesuffix(".gz")


def _files(path: Path) -> list[Path]:
    if not path.exists():
        raise UserError(f"pretrain.corpus: {path} not found")
    if path.is_file():
        if not _stem(path).endswith(TEXT_SUFFIXES + RECORD_SUFFIXES):
            raise UserError(
                f"pretrain.corpus: {path}: unsupported file; use .txt, .md, .jsonl or .parquet "
                "(optionally .gz), or a folder of .txt/.md files"
            )
        return [path]
    if not path.is_dir():
        raise UserError(f"pretrain.corpus: {path}: not a regular file (a device, pipe or socket)")
    found = sorted(p for p in path.rglob("*") if p.is_file() and _stem(p).endswith(TEXT_SUFFIXES))
    if not found:
        raise UserError(f"pretrain.corpus: {path}: the folder has no .txt or .md files")
    return found


def _read_file(path: Path, text_field: str, corpus: Corpus) -> None:
    if not _stem(path).endswith(TEXT_SUFFIXES):
        corpus.documents += _record_texts(path, text_field)
        return
    raw = _read_bytes(path)
    try:
        if b"\0" in raw:
            raise UnicodeDecodeError("utf-8", raw, raw.index(b"\0"), raw.index(b"\0") + 1, "NUL")
        corpus.documents.append(raw.decode("utf-8"))
    except UnicodeDecodeError:
        corpus.skipped.append(str(path))


def _read_bytes(path: Path) -> bytes:
    from tunesmith.data.io import read_data_bytes

    return read_data_bytes(path, "pretrain.corpus: ")


def _record_texts(path: Path, text_field: str) -> list[str]:
    from tunesmith.data.examples import field_value
    from tunesmith.data.io import read_records

    texts = []
    for row in read_records(path):
        # as the data stage reads a field: a dotted path (meta.body) names a nested one
        _found, text = field_value(row, text_field)
        if not isinstance(text, str):
            where = f"{path}:{row['_line']}" if "_line" in row else str(path)
            raise UserError(
                f"{where}: pretrain.text_field '{text_field}' is missing or not text; "
                f"fields: {', '.join(k for k in row if not k.startswith('_'))}"
            )
        texts.append(text)
    return texts
