"""dedup and the leakage check: planted exact and near duplicates are all found, nothing else."""

from __future__ import annotations

from curation_data import config, context, distinct_texts

from tunesmith.data.curate import post_split, pre_split


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
    assert leak["found"]["val"] == {"exact": 1, "near": 0, "rows": 11}
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
