"""dedup and the leakage check: planted exact and near duplicates are all found, nothing else."""

from __future__ import annotations

import random

from curation_data import config, context, distinct_texts

from tunesmith.data.curate import post_split, pre_split
from tunesmith.data.curate.minhash import strip_common


def _rows(texts: list[str], prefix: str = "r") -> list[dict]:
    return [{"id": f"{prefix}{i}", "prompt": t, "response": "ok"} for i, t in enumerate(texts)]


def _near(text: str) -> str:
    """Change the last of 12 words: 9 of 10 word 3-grams shared, Jaccard 9/11 = 0.82."""
    words = text.split()
    return " ".join(words[:-1] + ["changed"])


def test_planted_exact_and_near_duplicates_are_all_found_and_distinct_rows_kept():
    base = distinct_texts(300)
    exact = [base[i].upper() + "  " for i in range(0, 40, 2)]  # same after normalisation
    near = [_near(base[i]) for i in range(1, 40, 2)]  # 9 of 10 trigrams shared
    rows = _rows(base) + _rows(exact, "exact") + _rows(near, "near")
    kept, funnel = pre_split(rows, config(dedup={"threshold": 0.7}), context())
    dedup = funnel[-1]
    assert dedup["dropped"] == {"exact_duplicate": 20, "near_duplicate": 20}
    assert sorted(r["id"] for r in kept) == sorted(f"r{i}" for i in range(300))
    example = dedup["examples"]["near_duplicate"][0]
    assert example["duplicate_of"].startswith("r") and 0.7 <= example["similarity"] < 1


def test_threshold_decides_what_is_near():
    base = distinct_texts(50)
    rows = _rows(base) + _rows([_near(base[0])], "near")
    strict, _ = pre_split(rows, config(dedup={"threshold": 0.95}), context())
    loose, _ = pre_split(rows, config(dedup={"threshold": 0.7}), context())
    assert len(strict) == 51 and len(loose) == 50


def test_leakage_across_splits_is_found_and_dropped_by_default():
    texts = distinct_texts(120, seed=3)
    train = _rows(texts[:100], "train")
    test = _rows(texts[100:110] + [texts[5], _near(texts[6])], "test")
    val = _rows(texts[110:] + [texts[7].upper()], "val")
    ctx = context()
    splits, funnel, card = post_split(
        {"train": train, "val": val, "test": test}, config(dedup={"threshold": 0.7}), ctx
    )
    leak = card["leakage"]
    assert leak["found"]["test"] == {"exact": 1, "near": 1, "rows": 12}
    assert leak["found"]["val"] == {
        "exact": 1,
        "near": 0,
        "rows": 11,
        "exact_in_test": 0,
        "near_in_test": 0,
    }
    assert leak["dropped"] == 3 and leak["clean_after"] is True
    assert len(splits["test"]) == 10 and len(splits["val"]) == 10 and len(splits["train"]) == 100
    assert {e["reason"] for e in ctx.log} == {"leakage_exact", "leakage_near"}
    assert {e["train_id"] for e in ctx.log} == {"train5", "train6", "train7"}


def test_leakage_report_mode_keeps_rows():
    texts = distinct_texts(30, seed=4)
    splits = {"train": _rows(texts[:20]), "val": [], "test": _rows([texts[0]], "t")}
    out, _, card = post_split(splits, config(dedup={"leakage": "report"}), context())
    assert card["leakage"]["leaking_rows"] == 1 and card["leakage"]["clean_after"] is False
    assert len(out["test"]) == 1


def _dedup(texts: list[str], **dedup) -> tuple[list[str], dict]:
    kept, funnel = pre_split(_rows(texts), config(dedup=dedup), context())
    return [r["id"] for r in kept], funnel[-1]["dropped"]


def test_combining_marks_belong_to_their_word():
    # "he eats" / "she eats": only a vowel sign (a combining mark) differs
    he, she = "वह खाना खाता है", "वह खाना खाती है"
    assert _dedup([he, she]) == (["r0", "r1"], {})
    ctx = context(label=True)
    rows = [
        {"id": "he", "prompt": he, "response": "m", "label": "m"},
        {"id": "she", "prompt": she, "response": "f", "label": "f"},
    ]
    pre_split(rows, config(checks={"quality": None, "poisoning": None}), ctx)
    assert ctx.card["checks"]["conflicts"]["groups"] == 0


def test_unicode_forms_and_zero_width_characters_do_not_hide_an_exact_duplicate():
    nfc = "caf\u00e9 au lait with a croissant on the terrace"
    nfd = "cafe\u0301 au lait with a croissant on the terrace"
    hidden = "caf\u00e9 au la\u200bit with a crois\u00adsant on the terrace"
    wide = "\uff23af\u00e9 au lait with a croissant on the terrace"  # full-width C
    assert _dedup([nfc, nfd, hidden, wide], near=False) == (["r0"], {"exact_duplicate": 3})


def _han(rng: random.Random, n: int) -> str:
    return "".join(chr(0x4E00 + rng.randrange(20000)) for _ in range(n))


def test_near_duplicates_in_a_script_without_spaces_are_found():
    rng = random.Random(0)
    texts = [_han(rng, 40) for _ in range(30)]
    changed = texts[3][:20] + "\u597d" + texts[3][21:]  # one character of 40 changed
    ids, dropped = _dedup(texts + [changed])
    assert dropped == {"near_duplicate": 1} and len(ids) == 30


def test_rows_sharing_most_of_their_words_are_near_duplicates():
    rng = random.Random(1)
    shared = " ".join(f"word{i}" for i in range(20))
    texts = [f"{shared} extra{rng.randrange(10**6)}" for _ in range(20)]  # Jaccard 18/20
    assert _dedup(texts) == (["r0"], {"near_duplicate": 19})


def test_a_shared_prompt_template_does_not_make_rows_alike():
    template = (
        "Please read the following customer message carefully, decide what the customer "
        "needs from us and then write a short reply: "
    )
    texts = [template + t for t in distinct_texts(50, seed=5)]
    # unstripped, two rows share 18 of their 30 word 3-grams each: Jaccard 0.43
    assert _dedup(texts, threshold=0.4) == ([f"r{i}" for i in range(50)], {})


def test_a_common_prefix_is_cut_between_words():
    rows = ["Summarise this: apple pie with cream and cinnamon", "Summarise this: apricot jam"]
    assert strip_common(rows) == ["apple pie with cream and cinnamon", "apricot jam"]
