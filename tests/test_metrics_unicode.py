"""ROUGE and BLEU score every script (audit: ROUGE was 0 for non-Latin text, BLEU gave Chinese no
partial credit), while English/ASCII scores stay exactly those of the libraries' defaults."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import sacrebleu
from rouge_score import rouge_scorer as library_rouge
from rouge_score.tokenizers import DefaultTokenizer
from sacrebleu.metrics import BLEU

from tunesmith.metrics.per_example import example_scores
from tunesmith.metrics.text import bleu, rouge
from tunesmith.metrics.tokenization import (
    UnicodeTokenizer,
    bleu_texts,
    bleu_tokenizer,
    tokenization_record,
)

NON_LATIN = [
    "今天天气很好我们去公园散步吧",
    "東京は日本の首都です",
    "مرحبا بالعالم هذا نص عربي",
    "café résumé naïve",
    "Привет мир",
    "नमस्ते दुनिया",
    "שלום עולם",
    "ภาษาไทย",
]

# ASCII English pairs: punctuation, digits, case, stems, underscores, contractions, an empty side.
ENGLISH_PREDS = [
    "a python editor",
    "Fast audio player for Linux; plays MP3/OGG files.",
    "",
    "The runners were RUNNING quickly, isn't it?",
    "Version 2.0 adds snake_case support & 3 new themes",
    "summarises the meeting: budgets approved, hiring paused.",
]
ENGLISH_REFS = [
    "python text editor",
    "An audio player for linux that plays mp3 and ogg files",
    "network server",
    "the runner runs quick; it is not",
    "version 2 adds snake case support and three new themes",
    "The meeting approved the budget and paused hiring.",
]
# Computed from these pairs with the unchanged metrics/text.py (main at cda58c5: RougeScorer's
# default tokenizer with use_stemmer=True, sacrebleu.corpus_bleu's default '13a'), before the fix.
ENGLISH_BEFORE = {
    "rouge1": 0.6,
    "rouge2": 0.2364672365,
    "rougeL": 0.5555555556,
    "bleu": 7.1717815072,
}
ROUGE_KEYS = ("rouge1", "rouge2", "rougeL")


def test_english_rouge_and_bleu_equal_the_library_defaults_exactly():
    """The demo's published ROUGE/BLEU figures must not move: same tokens, same floats."""
    default = library_rouge.RougeScorer(list(ROUGE_KEYS), use_stemmer=True)
    got = rouge(ENGLISH_PREDS, ENGLISH_REFS)
    for key in ROUGE_KEYS:
        scores = [default.score(r, p)[key].fmeasure for p, r in zip(ENGLISH_PREDS, ENGLISH_REFS)]
        assert got[key] == sum(scores) / len(scores)
        assert got[key] == pytest.approx(ENGLISH_BEFORE[key], abs=1e-9)
    expected_bleu = sacrebleu.corpus_bleu(ENGLISH_PREDS, [ENGLISH_REFS]).score
    assert bleu(ENGLISH_PREDS, ENGLISH_REFS)["bleu"] == expected_bleu
    assert expected_bleu == pytest.approx(ENGLISH_BEFORE["bleu"], abs=1e-9)


def test_english_per_example_scores_equal_the_library_defaults_exactly():
    default = library_rouge.RougeScorer(list(ROUGE_KEYS), use_stemmer=True)
    sentence = BLEU(effective_order=True)
    rows = example_scores(["rouge", "bleu"], ENGLISH_PREDS, ENGLISH_REFS)
    for row, p, r in zip(rows, ENGLISH_PREDS, ENGLISH_REFS, strict=True):
        assert {k: row[k] for k in ROUGE_KEYS} == {
            k: v.fmeasure for k, v in default.score(r, p).items()
        }
        s = sentence.sentence_score(p, [r])
        assert row["bleu_stats"] == [s.sys_len, s.ref_len, *s.counts, *s.totals]


@pytest.mark.parametrize("stem", [True, False])
def test_ascii_tokens_are_rouge_scores_own(stem):
    """ASCII text, and ASCII words inside other text, get rouge-score's tokens and stems."""
    ours, theirs = UnicodeTokenizer(stem), DefaultTokenizer(stem)
    for text in ENGLISH_PREDS + ENGLISH_REFS:
        assert ours.tokenize(text) == theirs.tokenize(text)
    # typographic punctuation and symbols in English text: still rouge-score's tokens
    for text in ["It isn’t “fine” — really… ok\u00a0then", "Windows™ 2½ runs x² ①"]:
        assert ours.tokenize(text) == theirs.tokenize(text)
    # through the non-ASCII path: the English words are tokenised (and stemmed) alike
    assert ours.tokenize("Café: The runners were RUNNING") == ["café"] + theirs.tokenize(
        "The runners were RUNNING"
    )


def test_every_script_keeps_its_letters_and_unspaced_scripts_split_into_characters():
    tok = UnicodeTokenizer(True)
    assert tok.tokenize("café résumé naïve") == ["café", "résumé", "naïve"]
    assert tok.tokenize("cafe\u0301") == ["café"]  # decomposed accent = composed (NFC)
    assert tok.tokenize("ＡＢＣ１２３ ｶﾀｶﾅ") == ["abc123", "カ", "タ", "カ", "ナ"]  # width folded
    assert tok.tokenize("Привет мир") == ["привет", "мир"]
    assert tok.tokenize("नमस्ते दुनिया") == ["नमस्ते", "दुनिया"]  # vowel signs stay in the word
    assert tok.tokenize("今天天气") == ["今", "天", "天", "气"]
    assert tok.tokenize("東京は日本") == ["東", "京", "は", "日", "本"]
    assert tok.tokenize("ที่นี่") == ["ที่", "นี่"]  # Thai tone/vowel marks stay on the consonant


def test_rouge_is_one_for_non_latin_text_equal_to_its_reference():
    """Was 0.25: only the Latin line scored, every other script's letters vanished."""
    assert rouge(NON_LATIN, NON_LATIN) == {key: 1.0 for key in ROUGE_KEYS}


def test_rouge_no_longer_matches_a_word_whose_accented_letter_vanished():
    """Was 1.0: 'café' became 'caf'."""
    assert rouge(["caf"], ["café"])["rouge1"] == 0.0
    assert rouge(["un café"], ["un café"])["rouge1"] == 1.0


def test_chinese_rouge_counts_characters():
    """Was 0 for all three: a Chinese sentence had no tokens."""
    got = rouge(["今天天气很好"], ["今天天气不好"])
    assert got["rouge1"] == pytest.approx(5 / 6)  # 5 of 6 characters shared
    assert got["rouge2"] == pytest.approx(3 / 5)  # 今天 天天 天气 of 5 bigrams
    assert got["rougeL"] == pytest.approx(5 / 6)


def test_chinese_bleu_gives_partial_credit_with_sacrebleus_zh_tokenizer():
    """Was 0: under '13a' each sentence was a single token."""
    got = bleu(["今天天气很好"], ["今天天气不好"])["bleu"]
    assert got == sacrebleu.corpus_bleu(["今天天气很好"], [["今天天气不好"]], tokenize="zh").score
    assert got == pytest.approx(53.7284965911771)
    stats = example_scores(["bleu"], ["今天天气很好"], ["今天天气不好"])[0]["bleu_stats"]
    assert stats == [6, 6, 5, 3, 2, 1, 6, 5, 4, 3]


def test_japanese_bleu_uses_characters():
    pred, ref = "東京は日本の首都です", "東京は日本の首都だ"
    got = bleu([pred], [ref])["bleu"]
    assert got == sacrebleu.corpus_bleu([pred], [[ref]], tokenize="char").score
    assert got > 0


def test_bleu_tokenizer_of_texts_without_references_is_the_one_most_need():
    """An MBR ensemble's candidates (no reference) share one tokenizer."""
    assert bleu_tokenizer(ENGLISH_REFS) == "13a"
    assert bleu_tokenizer([]) == "13a"
    assert bleu_tokenizer(["今天天气不好", "我们去公园"]) == "zh"
    assert bleu_tokenizer(["東京は日本の首都だ", "今日は"]) == "char"
    assert bleu_tokenizer(["สวัสดี"]) == "char"
    # a Chinese name in one English reference of three does not change the corpus's tokenizer
    assert bleu_tokenizer(["hello there", "see you", "我 is here"]) == "13a"
    assert tokenization_record(["今天天气不好"])["bleu"] == "sacrebleu, tokenize=zh"


def test_every_row_of_one_evaluation_counts_bleu_the_same_way():
    """The predictions do not change the tokenizer: base and tuned stay comparable."""
    refs = ["今天天气不好", "我们去公园"]
    base = example_scores(["bleu"], ["today is fine", "park"], refs)
    tuned = example_scores(["bleu"], ["今天天气很好", "我们去公园"], refs)
    zh = BLEU(tokenize="zh", effective_order=True)
    for rows, preds in ((base, ["today is fine", "park"]), (tuned, ["今天天气很好", "我们去公园"])):
        for row, p, r in zip(rows, preds, refs, strict=True):
            s = zh.sentence_score(p, [r])
            assert row["bleu_stats"] == [s.sys_len, s.ref_len, *s.counts, *s.totals]


def test_bleu_paired_test_uses_the_corpus_tokenizer():
    """The permutation test recomputes BLEU from the per-example counts, which were made with
    the corpus tokenizer: under '13a' (both BLEU 0) the old test said p 0.005, 'significant'."""
    from tunesmith.metrics.per_example import example_scores
    from tunesmith.stats import STATISTICS, columns_for, compare_rows
    from tunesmith.stats.bootstrap import resample_indices

    refs = ["今天天气不好", "我们去公园散步", "东京是日本的首都", "他喜欢喝茶", "这本书很有意思"]
    refs *= 4
    a = ["今天天气很好", "我们去公园", "东京是首都", "他喜欢喝茶", "这本书有意思"] * 4
    b = ["今天天气不好", "我们去公园", "东京是日本", "他喝茶", "这本书有意思"] * 4

    def columns(predictions):
        scores = example_scores(["bleu"], predictions, refs, None)
        rows = [
            {"prediction": p, "reference": r, "scores": s}
            for p, r, s in zip(predictions, refs, scores, strict=True)
        ]
        return columns_for(rows)

    out = compare_rows(
        STATISTICS.get("bleu"), columns(a), columns(b), resample_indices(20, 1000, 0), 0.05
    )
    assert out["a"] == pytest.approx(BLEU(tokenize="zh").corpus_score(a, [refs]).score)
    assert out["test"] == "paired permutation" and out["p_value"] > 0.1


@pytest.mark.parametrize("name", ["rouge", "bleu"])
def test_mbr_similarities_score_chinese(name):
    from tunesmith.ensemble.similarity import SIMILARITIES

    texts = ["今天天气很好", "今天天气不好", "我们去公园"]
    sim = SIMILARITIES.get(name)(texts)
    assert sim("今天天气很好", "今天天气很好") == pytest.approx(1.0)  # was 0 for ROUGE
    assert 0 < sim("今天天气很好", "今天天气不好") < 1  # was 0 for both


def test_bias_output_divergence_is_zero_for_identical_non_latin_outputs():
    """Was 1.0 (complete divergence) for any two identical Chinese or Arabic outputs."""
    from tunesmith.checks.bias import _measures

    ctx = SimpleNamespace(spec=SimpleNamespace(has_label=False, generates=True))
    rows = [{"prediction": t, "scores": {}} for t in ("今天天气很好", "مرحبا بالعالم")]
    assert _measures(ctx, rows, rows)["output_divergence"] == [0.0, 0.0]


def test_evaluation_records_and_reports_the_tokenization():
    from tunesmith.evaluate.stage import _tokenization
    from tunesmith.report.html import environment

    recipe = SimpleNamespace(metrics=lambda: ["perplexity", "rouge", "bleu"])
    row = {"reference": "今天天气不好"}
    predictions = {"base": [row], "tuned": [row]}
    record = _tokenization(recipe, predictions)
    assert record["tokenization"]["bleu"] == "sacrebleu, tokenize=zh"
    assert _tokenization(SimpleNamespace(metrics=lambda: ["perplexity"]), predictions) == {}
    compare = {
        "rows": {"base": {"label": "Base", "metrics": {}}},
        "metrics": {},
        "comparisons": [],
        "sample_size": 1,
        "confidence": 0.95,
        "alpha": 0.05,
        "resamples": 1000,
        "seed": 0,
        "test_evaluations": 1,
        **record,
    }
    page = environment().get_template("eval_headline.html.j2").render(compare=compare)
    assert "sacrebleu, tokenize=zh" in page


# English pairs with what 13a treats specially (abbreviations, decimals, URLs, quotes, dashes,
# trailing spaces, accents), and their BLEU from main at f2264fa (one '13a' per corpus).
MORE_ENGLISH_PREDS = [
    "Mr. Smith's car -- it's 3.5 m long!  ",
    "See https://example.com/a?b=1 (v2.0).",
    '"Quoted" text, with: colons; and - dashes',
    "trailing space . ",
    "ÉCOLE café naïve",
    "x",
]
MORE_ENGLISH_REFS = [
    "Mr. Smith's car is 3.5 m long.",
    "See https://example.com/a?b=1 for v2.0",
    "Quoted text with colons and dashes.",
    "trailing space .",
    "école café naive",
    "y z",
]
MORE_ENGLISH_BEFORE = 48.891551971876886
MORE_ENGLISH_STATS_BEFORE = [
    [10, 9, 7, 5, 3, 1, 10, 9, 8, 7],
    [18, 16, 15, 13, 12, 11, 18, 17, 16, 15],
    [12, 7, 6, 0, 0, 0, 12, 11, 10, 9],
    [3, 3, 3, 2, 1, 0, 3, 2, 1, 0],
    [3, 3, 1, 0, 0, 0, 3, 2, 1, 0],
    [1, 2, 0, 0, 0, 0, 1, 0, 0, 0],
]


def test_english_bleu_is_byte_identical_to_before_per_row_tokenisation():
    got = bleu(MORE_ENGLISH_PREDS, MORE_ENGLISH_REFS)["bleu"]
    assert got == MORE_ENGLISH_BEFORE
    assert got == sacrebleu.corpus_bleu(MORE_ENGLISH_PREDS, [MORE_ENGLISH_REFS]).score
    rows = example_scores(["bleu"], MORE_ENGLISH_PREDS, MORE_ENGLISH_REFS)
    assert [row["bleu_stats"] for row in rows] == MORE_ENGLISH_STATS_BEFORE


def _stats(metric, hypothesis, reference):
    s = metric.sentence_score(hypothesis, [reference])
    return [s.sys_len, s.ref_len, *s.counts, *s.totals]


def test_chinese_rows_of_a_mostly_english_corpus_get_zh():
    """Was '13a' for the whole corpus: the Chinese row was one 'word', [1, 1, 0, 0, ...]."""
    refs = ["the cat sat on the mat", "a dog barked loudly", "it rained all day", "今天天气不好"]
    preds = ["the cat sat on a mat", "a dog barked", "it rained all day long", "今天天气很好"]
    rows = example_scores(["bleu"], preds, refs)
    assert rows[-1]["bleu_stats"] == [6, 6, 5, 3, 2, 1, 6, 5, 4, 3]  # zh: one per character
    sentence = BLEU(tokenize="13a", effective_order=True)
    for row, p, r in zip(rows[:3], preds, refs, strict=False):
        assert row["bleu_stats"] == _stats(sentence, p, r)  # English rows: 13a as before
    # the corpus figure sums those counts (what the bootstrap resamples)
    total = [sum(column) for column in zip(*(row["bleu_stats"] for row in rows), strict=True)]
    assert bleu(preds, refs)["bleu"] == BLEU()._compute_score_from_stats(total).score
    record = tokenization_record(refs)
    assert record["bleu_rows"] == {"zh": 1, "13a": 3}
    assert record["bleu"] == (
        "sacrebleu, tokenize per row by its reference's script: zh 1, 13a 3 (of 4)"
    )
    assert record["version"] == 2


def test_bleu_characters_keep_their_combining_marks_as_rouge_does():
    """sacrebleu's 'char' gave 'ที่' three tokens (ท, the vowel mark, the tone mark)."""
    rouge_tokens = UnicodeTokenizer(True).tokenize("ที่นี่")
    assert rouge_tokens == ["ที่", "นี่"]
    _, (thai,) = bleu_texts(["x"], ["ที่นี่"])
    assert thai.split() == rouge_tokens
    # 'นี่' vs 'ที่': different consonants; the marks alone matched 2 of 3 unigrams before
    assert example_scores(["bleu"], ["ที่"], ["นี่"])[0]["bleu_stats"][:3] == [1, 1, 0]
    # Devanagari under 'char' (a Thai reference): vowel signs and virama stay on their
    # consonant, and the units put together are ROUGE's word
    (hindi,), _ = bleu_texts(["नमस्ते"], ["สวัสดี नमस्ते"])
    assert hindi.split() == ["न", "म", "स्", "ते"]
    assert "".join(hindi.split()) == UnicodeTokenizer(True).tokenize("नमस्ते")[0]


def test_korean_stays_word_by_word_in_rouge_and_bleu():
    """Kept on purpose (docs/evaluation.md): words between spaces, particles attached."""
    assert UnicodeTokenizer(True).tokenize("학교에 갔다") == ["학교에", "갔다"]
    assert bleu_texts(["학교가 좋다"], ["학교에 갔다"]) == (["학교가 좋다"], ["학교에 갔다"])
    assert tokenization_record(["학교에 갔다"])["bleu"] == "sacrebleu, tokenize=13a"
