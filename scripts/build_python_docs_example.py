"""Build the bundled python-docs example from ../shared (run once, by a developer; never at run
or test time): a small pre-training sample and a task built from OTHER documents.

Source: Debian's python3.11-doc reST sources (PSF-2.0), ../shared/data/python_docs_corpus.jsonl.gz.
Task: "what does <module>.<function>(<args>) do?" -> the first sentence of its documentation.
The documents the task's examples come from are never in the pre-training sample, so the
pre-training cannot have seen an answer; it can only have learned the domain's language.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[2] / "shared/data/python_docs_corpus.jsonl.gz"
OUT = Path(__file__).resolve().parents[1] / "src/tunesmith/examples"
CORPUS_CHARS = 700_000  # ~190k tokens: a few minutes of CPU pre-training per pass
DIRECTIVE = re.compile(r"^\.\. (function|method|class):: (.+)$", re.M)
MODULE = re.compile(r"^\.\. (?:module|currentmodule):: (\S+)", re.M)
ROLE = re.compile(r":[\w:]+:`~?!?([^`<]*?)(?:\s*<[^>]*>)?`")


def main() -> None:
    with gzip.open(SOURCE, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    library = sorted((r for r in rows if r["path"].startswith("library/")), key=lambda r: r["path"])
    random.Random(0).shuffle(library)
    task_docs, corpus_docs = library[: len(library) // 2], library[len(library) // 2 :]
    corpus_docs += [r for r in rows if not r["path"].startswith(("library/", "whatsnew/"))]
    random.Random(1).shuffle(corpus_docs)
    sample, size = [], 0
    for row in corpus_docs:
        if size >= CORPUS_CHARS:
            break
        sample.append({"path": row["path"], "text": row["text"][:20_000]})
        size += len(sample[-1]["text"])
    examples = [e for row in task_docs for e in _examples(row)]
    _write(OUT / "python_docs_corpus.jsonl.gz", sample)
    _write(OUT / "python_docs_api.jsonl.gz", examples)
    print(f"corpus: {len(sample)} documents, {size} chars; task: {len(examples)} examples")


def _examples(row: dict):
    text = row["text"]
    for match in DIRECTIVE.finditer(text):
        before = MODULE.findall(text[: match.start()])
        module = before[-1] if before else ""
        signature = match.group(2).strip().rstrip(" \\")
        body = _body(text[match.end() :])
        sentence = _first_sentence(body)
        if sentence and 25 <= len(sentence) <= 200 and len(signature) <= 80:
            qualified = "." in signature.split("(")[0] or not module
            name = signature if qualified else f"{module}.{signature}"
            yield {
                "kind": match.group(1),
                "signature": name,
                "doc": row["path"],
                "summary": sentence,
            }


def _body(rest: str) -> str:
    """The directive's content: after the blank line that ends its signatures and options."""
    lines, started = [], False
    for line in rest.split("\n")[1:]:
        if line.strip() and not line.startswith((" ", "\t")):
            break
        if not started:
            started = not line.strip()
            continue
        if lines and not line.strip():
            break  # the first paragraph is enough
        if line.strip() and not line.strip().startswith(".."):
            lines.append(line.strip())
    return " ".join(" ".join(lines).split())


def _first_sentence(body: str) -> str:
    plain = ROLE.sub(r"\1", body).replace("``", "").replace("*", "")
    match = re.match(r"(.+?[.!?])(\s|$)", plain)
    return match.group(1) if match else ""


def _write(path: Path, rows: list[dict]) -> None:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    path.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))


if __name__ == "__main__":
    main()
