"""Data-poisoning suspects: rare word n-grams strongly tied to one output or label.

A backdoor trigger is a rare phrase whose rows (almost) all carry the attacker's target output,
whatever the rest of the text says. A candidate n-gram must
1. appear in few rows (`min_count` .. `max_share`) and contain a word that is rare outside it;
2. have one output in at least `min_purity` of its rows, significant under a one-sided
   binomial test against that output's base rate (Bonferroni-corrected);
3. sit in otherwise unrelated rows: rows sharing a template ("debug symbols for X") are far
   more alike than random rows and are not suspects;
4. for labels, disagree with the content: with the n-gram removed, its rows read no more like
   their label than other labels' rows do (cross-validated, `poisoning_content.py`; a
   genuine cue word such as "golang" agrees with the rest of its rows' text).
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict

from tunesmith.config.curation import PoisoningCheck
from tunesmith.data.curate.minhash import normalise
from tunesmith.data.curate.poisoning_content import against_content
from tunesmith.data.curate.rows import input_text, output_text

MAX_REPORTED = 20
MAX_LABELS_FOR_CONTENT_CHECK = 500
TAIL_WORDS = 2  # the last words of an output that an appended payload makes alike


def find_suspects(rows: list[dict], config: PoisoningCheck, ctx) -> tuple[list[dict], dict]:
    """(suspects, {row index: (reason, detail)} for rows carrying a suspect with its output)."""
    written = [output_text(r, ctx) for r in rows]
    if not rows or all(o is None for o in written):
        return [], {}
    outputs = [normalise(o or "") for o in written]
    words = [normalise(input_text(r, ctx)).split() for r in rows]
    where = _rare_grams(words, config, len(rows))
    suspects = _search(outputs, where, words, config, ctx)
    if not ctx.label_field:
        # A payload appended to real outputs: the outputs all differ, their last words do not.
        tails = [" ".join(o.split()[-TAIL_WORDS:]) for o in outputs]
        found = _search(tails, where, words, config, ctx, content=False)
        suspects += [{**t, "output_ends_with": True} for t in found]
    suspects = _merge_same_rows(suspects)
    spelled = _spellings(written, outputs)
    flags = {}
    for s in suspects:
        s["output"] = spelled.get(s["output"], s["output"])
        s.pop("_rows")
        for i in s.pop("_flag"):
            flags.setdefault(i, ("poisoning_suspect", {"ngram": s["ngram"]}))
    return suspects[:MAX_REPORTED], flags


def _spellings(written: list, outputs: list[str]) -> dict[str, str]:
    """{normalised output: its commonest spelling in the data}: a suspect names the label as
    the data writes it (`gnu-r`, not the matching key `gnu r`)."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for text, key in zip(written, outputs):
        counts[key][text or ""] += 1
    return {key: spellings.most_common(1)[0][0] for key, spellings in counts.items()}


def _rare_grams(words, config: PoisoningCheck, n_rows: int) -> dict[str, list[int]]:
    """{rare n-gram containing a rare word: its rows}.

    The rare-word rule (`max_word_ratio`) is applied here, before any row is listed: an n-gram
    of common words is never a candidate, and listing the rows of every such n-gram was most of
    the step's time (len(where[g]) == frequency[g], so the rule reads the same here)."""
    # Two passes, each row's n-grams made again in the second: keeping every row's set until the
    # rare ones are known held each occurrence as a string of its own (1.1 GB at 50k rows).
    frequency: Counter = Counter()
    for row_words in words:
        frequency.update(_ngrams(row_words, config.max_ngram))  # a set: counted in C
    top = max(config.min_count, int(config.max_share * n_rows))
    rare = {
        g
        for g, n in frequency.items()
        if config.min_count <= n <= top
        and min(frequency[word] for word in g.split()) <= config.max_word_ratio * n
    }
    where: dict[str, list[int]] = defaultdict(list)
    for i, row_words in enumerate(words):
        for g in _ngrams(row_words, config.max_ngram) & rare:
            where[g].append(i)
    return where


def _search(outputs, where, words, config, ctx, content: bool = True) -> list[dict]:
    """Suspects tying a rare n-gram to one value of `outputs` (whole outputs or their tails)."""
    base = Counter(outputs)
    candidates = []
    for gram, indices in where.items():  # each holds a rare word (_rare_grams)
        label, hits = Counter(map(outputs.__getitem__, indices)).most_common(1)[0]
        if hits / len(indices) >= config.min_purity:
            candidates.append((gram, indices, label, hits))
    suspects = _significant(candidates, base, len(outputs), config.alpha)
    suspects = _unrelated_rows(suspects, words, config.max_cohesion, ctx.seed)
    if content and len(base) <= MAX_LABELS_FOR_CONTENT_CHECK and suspects:
        suspects = against_content(suspects, words, outputs, config.max_content_auc, ctx.seed)
    for s in suspects:
        s["_flag"] = [i for i in s["_rows"] if outputs[i] == s["output"]]
    return suspects


def _ngrams(words: list[str], longest: int) -> set[str]:
    return {
        " ".join(words[i : i + n]) for n in range(1, longest + 1) for i in range(len(words) - n + 1)
    }


def _significant(candidates, base: Counter, total: int, alpha: float) -> list[dict]:
    from scipy.stats import binom

    tests = max(1, len(candidates))
    found = []
    for gram, indices, label, hits in candidates:
        p = float(binom.sf(hits - 1, len(indices), base[label] / total))
        if p * tests < alpha:
            found.append(
                {
                    "ngram": gram,
                    "rows": len(indices),
                    "output": label,
                    "purity": round(hits / len(indices), 3),
                    "p_value": p,
                    "_rows": indices,
                }
            )
    return sorted(found, key=lambda s: s["p_value"])


def _unrelated_rows(suspects, words, max_cohesion: float, seed: int) -> list[dict]:
    """Keep suspects whose rows are no more alike than random rows (times `max_cohesion`)."""
    if not suspects:
        return suspects
    rng = random.Random(seed)
    sets = [set(w) for w in words]
    background = _cohesion([sets[i] for i in rng.sample(range(len(sets)), min(60, len(sets)))])
    kept = []
    for s in suspects:
        removed = set(s["ngram"].split())
        chosen = rng.sample(s["_rows"], min(60, len(s["_rows"])))
        cohesion = _cohesion([sets[i] - removed for i in chosen])
        if cohesion <= max_cohesion * max(background, 0.01):
            kept.append({**s, "cohesion": round(cohesion, 3), "background": round(background, 3)})
    return kept


def _cohesion(sets: list[set]) -> float:
    """Mean pairwise Jaccard similarity."""
    pairs = [(a, b) for i, a in enumerate(sets) for b in sets[i + 1 :]]
    if not pairs:
        return 0.0
    return sum(len(a & b) / max(1, len(a | b)) for a, b in pairs) / len(pairs)


def _merge_same_rows(suspects: list[dict]) -> list[dict]:
    """One entry per set of rows: the longest n-gram names it ("cf mn" over "cf" and "mn")."""
    best: dict[tuple, dict] = {}
    for s in suspects:
        key = tuple(sorted(s["_rows"]))
        if key not in best or len(s["ngram"]) > len(best[key]["ngram"]):
            best[key] = s
    return sorted(best.values(), key=lambda s: s["p_value"])
