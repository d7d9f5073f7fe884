"""Phone numbers the pii step finds: Presidio's PhoneRecognizer against tunesmith's, one JSON line
per data set.

Run: `.venv/bin/python bench/pii_phones.py [--files wordnet,debian,chitchat,python_docs]
[--examples N]`. `before` is Presidio's PhoneRecognizer as installed (what the pii step used
before), `after` is the same results minus ids (tunesmith.data.curate.pii_phone), counted over
every text field of each shared data file (what `tunesmith data inspect` counts), over the
hand-written phone sentences and ids of tests/pii_phone_cases.py (`found` / `of`), and up to
N example matches each way (`dropped`: before only; `kept`: after).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import Counter
from pathlib import Path

from bench_common import SHARED

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

FILES = {
    "wordnet": ("wordnet_glosses.jsonl.gz", ["synset", "pos", "words", "definition", "examples"]),
    "debian": (
        "debian_descriptions.jsonl.gz",
        ["package", "source", "section", "synopsis", "description"],
    ),
    "chitchat": ("chitchat.jsonl.gz", ["messages"]),
    "python_docs": ("python_docs_corpus.jsonl.gz", ["text"]),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", default=",".join(FILES))
    parser.add_argument("--examples", type=int, default=10)
    args = parser.parse_args()
    from pii_phone_cases import IDS, PHONES
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    from tunesmith.data.curate.pii_phone import _edges, not_a_phone, phones_only
    from tunesmith.data.curate.rows import texts_of

    recognizer = PhoneRecognizer()

    def both(text: str) -> tuple[list, list]:
        before = recognizer.analyze(text, ["PHONE_NUMBER"])
        return before, phones_only(text, before)

    hits = [(text, phone, both(text)) for text, phone in PHONES]
    for side in (0, 1):
        found = sum(
            any(text[r.start : r.end] == phone for r in res[side]) for text, phone, res in hits
        )
        print(
            json.dumps(
                {
                    "set": "phones",
                    "side": ["before", "after"][side],
                    "found": found,
                    "of": len(PHONES),
                }
            )
        )
    for side in (0, 1):
        found = sum(bool(both(text)[side]) for text in IDS)
        print(
            json.dumps(
                {"set": "ids", "side": ["before", "after"][side], "found": found, "of": len(IDS)}
            )
        )
    for name in args.files.split(","):
        file, fields = FILES[name]
        counts, reasons, dropped, kept = Counter(), Counter(), [], []
        with gzip.open(SHARED / "data" / file, "rt", encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                for text in (t for field in fields for t in texts_of(row.get(field))):
                    before, after = both(text)
                    counts["texts"] += 1
                    counts["before"] += len(before)
                    counts["after"] += len(after)
                    for r in before:
                        why = not_a_phone(text, r.start, r.end, _edges(before, r))
                        reasons[why or "kept"] += 1
                        shown = kept if not why else dropped
                        if len(shown) < args.examples:
                            shown.append(
                                _excerpt(text, r.start, r.end) + (f" ({why})" if why else "")
                            )
        print(
            json.dumps(
                {
                    "set": name,
                    **counts,
                    "why_dropped": dict(reasons),
                    "dropped": dropped,
                    "kept": kept,
                },
                ensure_ascii=False,
            )
        )


def _excerpt(text: str, start: int, end: int) -> str:
    return (
        text[max(0, start - 25) : start] + "[" + text[start:end] + "]" + text[end : end + 15]
    ).replace("\n", " ")


if __name__ == "__main__":
    main()
