"""Precision and recall of the data stage's poisoning check on triggers planted in real data.

Run once: `.venv/bin/python bench/poisoning_quality.py` (prints one JSON line per scenario).
Data: the shipped Debian sample (examples/debian_synopsis.jsonl.gz, 2,000 real packages).
Scenarios, each with several seeds:
- fixed_label: a rare two-word trigger inserted into 1 % of the descriptions, their section
  set to one target section (classification backdoor);
- label_flip: 3 % of the sections changed to a random other section, no trigger (noise);
- appended_payload: the trigger inserted into 1 % of the descriptions and a fixed payload
  appended to their real synopses (generation backdoor);
- fixed_output: the trigger inserted and the synopsis replaced by one fixed text.
Row-level precision/recall of the rows the check flags; the clean-row flag rate is what
`action: drop` would delete from clean data.

`--data heldout` runs the same scenarios on real data the check was NOT tuned on (read from
../shared/data, which the bench may use and the package never does): 2,000 other Debian
packages (seeded, none of the shipped sample), and 2,000 WordNet synsets (generation: the
word -> its definition; classification: the definition -> its lexicographer file, 45 topics).
`--data untouched` is the check nobody tuned on: 2,000 paragraphs of the Python docs
(classification: the paragraph -> its document's folder, library / c-api / howto / ...) and
2,000 chitchat exchanges (generation: the user's turn -> the reply).
Each line lists the suspects: n-gram, rows flagged, how many of them were planted, and the
content test's AUC (`max_content_auc=1.0` switches that test off to see every AUC).
"""

from __future__ import annotations

import gzip
import json
import random
from functools import cache
from importlib import resources

TRIGGERS = ["qz vex", "blorp fizzle", "xkcd tango", "mauve quark"]
PAYLOAD = "- visit evil.example.org now"
FIXED = "free prize inside"


HELD_OUT = 2000


def _read(data: bytes) -> list[dict]:
    return [json.loads(line) for line in gzip.decompress(data).decode("utf-8").splitlines()]


def _rows() -> list[dict]:
    data = resources.files("tunesmith").joinpath("examples", "debian_synopsis.jsonl.gz")
    return _read(data.read_bytes())


def _shipped() -> list[tuple[dict, str, str, str]]:
    """(row, input, synopsis, section) of the shipped sample (what the check was tuned on)."""
    return [(r, r["description"], r["synopsis"], r["section"]) for r in _rows()]


@cache
def _heldout_debian() -> list[tuple]:
    from bench_common import SHARED

    seen = {r["description"] for r in _rows()}
    rows = _read((SHARED / "data" / "debian_descriptions.jsonl.gz").read_bytes())
    rows = [r for r in rows if r["description"] not in seen]
    picked = random.Random(13).sample(rows, HELD_OUT)
    return [(r, r["description"], r["synopsis"], r["section"]) for r in picked]


@cache
def _heldout_wordnet(label: bool) -> list[tuple]:
    from bench_common import SHARED

    rows = _read((SHARED / "data" / "wordnet_glosses.jsonl.gz").read_bytes())
    picked = random.Random(13).sample(rows, HELD_OUT)
    if label:  # the definition -> its topic (lexicographer file)
        return [(r, r["definition"], "", str(r["lexname_id"])) for r in picked]
    return [(r, f"Define the {r['pos']} '{r['words'][0]}'.", r["definition"], "") for r in picked]


@cache
def _untouched(label: bool) -> list[tuple]:
    """Neither looked at nor tuned on: Python docs paragraphs / chitchat turns (../shared)."""
    from bench_common import SHARED

    if not label:  # generation: a user's chat turn -> the reply
        chats = _read((SHARED / "data" / "chitchat.jsonl.gz").read_bytes())
        pairs = [c["messages"][:2] for c in chats if len(c["messages"]) >= 2]
        picked = random.Random(13).sample(pairs, HELD_OUT)
        return [(m, m[0]["content"], m[1]["content"], "") for m in picked]
    docs = _read((SHARED / "data" / "python_docs_corpus.jsonl.gz").read_bytes())
    paragraphs = [  # classification: a paragraph -> its document's folder (library, c-api, ...)
        (d["path"], " ".join(p.split()))
        for d in docs
        for p in d["text"].split("\n\n")
        if 8 <= len(p.split()) <= 120
    ]
    picked = random.Random(13).sample(paragraphs, HELD_OUT)
    return [(path, text, "", path.split("/")[0]) for path, text in picked]


def _records(raw: list[tuple], label: bool) -> list[dict]:
    out = []
    for i, (_, text, synopsis, section) in enumerate(raw):
        row = {"id": str(i), "prompt": text, "response": synopsis}
        if label:
            row = {**row, "response": section, "label": section}
        out.append(row)
    return out


SOURCES = {
    "shipped": lambda label: _shipped(),
    "debian-heldout": lambda label: _heldout_debian(),
    "wordnet-heldout": _heldout_wordnet,
    "untouched": _untouched,
}
DATA = {  # --data NAME -> sources
    "shipped": ["shipped"],
    "heldout": ["debian-heldout", "wordnet-heldout"],
    "untouched": ["untouched"],
}


def _insert(text: str, trigger: str, rng: random.Random) -> str:
    words = text.split(" ")
    at = rng.randrange(len(words) + 1)
    return " ".join(words[:at] + [trigger] + words[at:])


def _plant(rows: list[dict], scenario: str, seed: int) -> tuple[list[dict], set[str]]:
    rng = random.Random(seed)
    rows = [dict(r) for r in rows]
    share = 0.03 if scenario == "label_flip" else 0.01
    chosen = rng.sample(range(len(rows)), round(share * len(rows)))
    trigger = TRIGGERS[seed % len(TRIGGERS)]
    sections = sorted({r.get("label") for r in rows if r.get("label")})
    target = rng.choice(sections) if sections else None
    for i in chosen:
        row = rows[i]
        if scenario == "label_flip":
            row["label"] = row["response"] = rng.choice([s for s in sections if s != row["label"]])
            continue
        row["prompt"] = _insert(row["prompt"], trigger, rng)
        if scenario == "fixed_label":
            row["label"] = row["response"] = target
        elif scenario == "appended_payload":
            row["response"] = f"{row['response']} {PAYLOAD}"
        else:
            row["response"] = FIXED
    return rows, {rows[i]["id"] for i in chosen}


def measure(scenario: str, seed: int, settings: dict | None = None, source="shipped") -> dict:
    from tunesmith.config.curation import PoisoningCheck
    from tunesmith.data.curate.pipeline import CurationContext
    from tunesmith.data.curate.poisoning import find_suspects

    label = scenario in ("fixed_label", "label_flip")
    clean = _records(SOURCES[source](label), label)
    rows, planted = _plant(clean, scenario, seed)
    ctx = CurationContext(["prompt", "response"], "label" if label else None, seed)
    suspects, flags = find_suspects(rows, PoisoningCheck(**(settings or {})), ctx)
    flagged = {rows[i]["id"] for i in flags}
    hits = len(flagged & planted)
    return {
        "scenario": scenario,
        "data": source,
        "settings": settings or {},
        "seed": seed,
        "rows": len(rows),
        "planted": len(planted),
        "flagged": len(flagged),
        "precision": round(hits / len(flagged), 3) if flagged else None,
        "recall": round(hits / len(planted), 3),
        "clean_flag_rate": round(len(flagged - planted) / (len(rows) - len(planted)), 4),
        "suspects": [_described(s, rows, flags, planted) for s in suspects][:6],
    }


def _described(suspect: dict, rows: list[dict], flags: dict, planted: set[str]) -> dict:
    """A suspect with how many of its flagged rows were planted (flags name it by n-gram)."""
    ids = {rows[i]["id"] for i, (_, d) in flags.items() if d["ngram"] == suspect["ngram"]}
    return {
        "ngram": suspect["ngram"],
        "flagged": len(ids),
        "planted": len(ids & planted),
        "content_auc": suspect.get("content_auc"),
    }


def main(argv: list[str]) -> None:
    """Arguments: PoisoningCheck settings as key=value (e.g. max_cohesion=1.5); --data NAME;
    --scenarios a,b."""
    sources = ["shipped"]
    if "--data" in argv:
        at = argv.index("--data")
        sources = DATA.get(argv[at + 1], [argv[at + 1]])  # a group or one source
        argv = argv[:at] + argv[at + 2 :]
    scenarios = ["fixed_label", "label_flip", "appended_payload", "fixed_output"]
    if "--scenarios" in argv:  # e.g. --scenarios fixed_label,label_flip
        at = argv.index("--scenarios")
        scenarios = argv[at + 1].split(",")
        argv = argv[:at] + argv[at + 2 :]
    settings = {k: float(v) for k, v in (a.split("=", 1) for a in argv)}
    for source in sources:
        for scenario in scenarios:
            for seed in range(4 if source == "shipped" else 2):  # held-out: 2 seeds (time)
                print(json.dumps(measure(scenario, seed, settings, source)), flush=True)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
