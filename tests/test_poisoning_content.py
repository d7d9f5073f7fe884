"""Poisoning step 4: a planted trigger is flagged, a genuine cue word of its label is not."""

from __future__ import annotations

import random
from functools import cache

from curation_data import context

from tunesmith.config.curation import PoisoningCheck
from tunesmith.data.curate.poisoning import find_suspects

TOPICS = ["sport", "cooking", "music"]
FILLER = ["the", "a", "and", "with", "for", "this", "of", "new", "one", "all", "in", "my"]


def _row(rng, i: int, topic: str, extra: str = "") -> dict:
    """Filler plus 5 words of the topic's 150-word vocabulary (rows of a topic barely overlap)."""
    words = rng.sample(FILLER, 6) + [f"{topic}{rng.randrange(150)}" for _ in range(5)]
    if extra:
        words.insert(rng.randrange(len(words)), extra)
    return {"id": f"{topic}-{i}", "prompt": " ".join(words), "response": topic, "label": topic}


def _data() -> list[dict]:
    """600 rows; "badminton" in 14 real sport rows; "cf zq" in 20 other rows relabelled sport."""
    rng = random.Random(3)
    rows = [
        _row(rng, i, t, "badminton" if t == "sport" and i < 14 else "")
        for t in TOPICS
        for i in range(200)
    ]
    for i in range(20):
        row = _row(rng, 1000 + i, rng.choice(TOPICS[1:]), "cf zq")
        rows.append({**row, "id": f"poison-{i}", "response": "sport", "label": "sport"})
    return rows


@cache  # one run per setting: the content model is the slow part
def _suspects(max_content_auc: float = 0.7) -> tuple[dict, set[str]]:
    rows = _data()
    check = PoisoningCheck(max_content_auc=max_content_auc)
    suspects, flags = find_suspects(rows, check, context(label=True))
    return {s["ngram"]: s for s in suspects}, {rows[i]["id"] for i in flags}


def test_genuine_cue_word_passes_the_other_tests_and_only_content_rejects_it():
    unfiltered, _ = _suspects(max_content_auc=1.0)
    assert {"badminton", "cf zq"} <= set(unfiltered)  # both rare, pure, significant, unrelated
    assert unfiltered["badminton"]["content_auc"] > 0.9  # reads like sport without the word
    assert 0.3 < unfiltered["cf zq"]["content_auc"] < 0.7  # its rows are cooking and music


def test_planted_trigger_flagged_and_genuine_cue_word_not():
    suspects, flagged = _suspects()
    assert list(suspects) == ["cf zq"]
    assert flagged == {f"poison-{i}" for i in range(20)}


def test_trigger_into_a_label_too_small_to_model_is_kept_untested():
    rows = [r if not r["id"].startswith("poison") else {**r, "label": "chess"} for r in _data()]
    rows = [{**r, "response": r["label"]} for r in rows]
    rows.append({**rows[0], "id": "chess-0", "response": "chess", "label": "chess"})
    suspects, flags = find_suspects(rows, PoisoningCheck(), context(label=True))
    assert [(s["ngram"], s["content_auc"]) for s in suspects] == [("cf zq", None)]
    assert len(flags) == 20


def test_a_suspect_names_its_label_as_the_data_spells_it():
    """Matching compares normalised labels, but the card and `data inspect` show the label the
    user wrote: Debian's `gnu-r` used to be reported as 'gnu r'."""
    rows = [
        {**r, "response": "Sport-News", "label": "Sport-News"} if r["label"] == "sport" else r
        for r in _data()
    ]
    suspects, _ = find_suspects(rows, PoisoningCheck(), context(label=True))
    assert [(s["ngram"], s["output"]) for s in suspects] == [("cf zq", "Sport-News")]
