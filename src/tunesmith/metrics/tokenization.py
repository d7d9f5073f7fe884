"""The one tokenisation behind every ROUGE and BLEU score (evaluate, checks, ensembles, bench).

rouge-score's default tokenizer lowercases and keeps only [a-z0-9] runs, so every letter of
another script vanishes (Chinese, Arabic, Cyrillic, accented Latin: 'café' -> 'caf') and ROUGE
is 0 even for a perfect answer. sacrebleu's default '13a' tokenizer splits on spaces and
punctuation only, so a Chinese sentence is one token and gets no partial credit.

ROUGE: `UnicodeTokenizer` gives rouge-score's own tokens for ASCII text (English scores are
unchanged) and, for other text, keeps the letters, digits and combining marks of every script,
splitting scripts written without spaces (Chinese, Japanese, Thai, ...) into single characters.
BLEU: `bleu_tokenizer` picks one sacrebleu tokenizer for a whole corpus from its references.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable

import regex

# Scripts written without spaces between words: each character is one ROUGE token, the common
# practice for Chinese and Japanese ROUGE (no word segmenter needed, none is guessed).
UNSPACED_SCRIPTS = ("Han", "Hiragana", "Katakana", "Bopomofo", "Thai", "Lao", "Khmer", "Myanmar")
_UNSPACED = "[" + "".join(rf"\p{{{script}}}" for script in UNSPACED_SCRIPTS) + "]"
# One unspaced character with its combining marks (Thai vowel and tone marks belong to their
# consonant), or a run of letters, decimal digits and marks of the spaced scripts (a word).
# Decimal digits only (\p{Nd}): like rouge-score, '²', '½' and '①' are not part of a word.
_CHARACTER = rf"(?=\P{{M}}){_UNSPACED}\p{{M}}*"
_WORD = rf"(?:(?!{_UNSPACED})[\p{{L}}\p{{Nd}}\p{{M}}])+"
# Full-width Latin and digits ('ＡＢＣ１２３', common in Chinese and Japanese text) and half-width
# kana: folded to their usual form. Only this block: full NFKC would also turn '™' into 'tm'
# and '2½' into '21⁄2' inside English text.
_WIDTH_FORMS = regex.compile(r"[\uFF00-\uFFEF]+")
_TOKEN = regex.compile(f"{_CHARACTER}|{_WORD}")

ROUGE_TOKENIZATION = (
    "rouge-score's tokens for ASCII text; other scripts' letters and marks kept, "
    "Chinese/Japanese/Thai/Lao/Khmer/Myanmar split into characters"
)


class UnicodeTokenizer:
    """A rouge-score tokenizer (RougeScorer(tokenizer=...)) that keeps every script."""

    def __init__(self, use_stemmer: bool):
        from rouge_score.tokenizers import DefaultTokenizer

        self._default = DefaultTokenizer(use_stemmer)

    def tokenize(self, text: str) -> list[str]:
        text = _normalize(text)
        if text.isascii():
            return self._default.tokenize(text)  # rouge-score's own tokens: English unchanged
        return [token for word in _TOKEN.findall(text.lower()) for token in self._word(word)]

    def _word(self, word: str) -> list[str]:
        # An ASCII word gets rouge-score's own treatment (the Porter stemmer, when on, is for
        # English); a word of another script is kept as it is.
        return self._default.tokenize(word) if word.isascii() else [word]


def _normalize(text: str) -> str:
    """NFC ('é' typed as e + accent matches 'é'), with full- and half-width forms folded."""
    folded = _WIDTH_FORMS.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    return unicodedata.normalize("NFC", folded)


def rouge_scorer(rouge_types: Iterable[str], use_stemmer: bool = True):
    """rouge-score's RougeScorer with the shared tokenizer."""
    from rouge_score.rouge_scorer import RougeScorer

    return RougeScorer(list(rouge_types), tokenizer=UnicodeTokenizer(use_stemmer))


_CHARACTER_SCRIPTS = regex.compile(r"[\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}]")
_CHINESE = regex.compile(r"[\p{Han}\p{Bopomofo}]")
# A tie between references' needs goes to the earlier: 'zh' is '13a' outside Chinese characters.
_BLEU_PREFERENCE = ("zh", "char", "13a")


def _bleu_need(text: str) -> str:
    """The sacrebleu tokenizer one text needs: 'char' for Japanese kana and Southeast Asian
    scripts (sacrebleu's 'zh' does not split them; 'ja-mecab' and 'flores200' need packages or
    downloads), 'zh' (WMT's Chinese BLEU) for Chinese characters, else '13a'."""
    if _CHARACTER_SCRIPTS.search(text):
        return "char"
    return "zh" if _CHINESE.search(text) else "13a"


def bleu_tokenizer(references: Iterable[str]) -> str:
    """One sacrebleu tokenizer for a whole corpus: the one most references need.

    Decided by the references alone, so every row of an evaluation (base, tuned, ...) is scored
    the same way and rows stay comparable; an English corpus keeps '13a' (unchanged figures)."""
    needs = Counter(_bleu_need(text) for text in references)
    if not needs:
        return "13a"
    most = max(needs.values())
    return next(name for name in _BLEU_PREFERENCE if needs[name] == most)


def bleu_metric(tokenize: str, **options):
    """sacrebleu's BLEU with the corpus's tokenizer (`options`: e.g. effective_order)."""
    from sacrebleu.metrics import BLEU

    return BLEU(tokenize=tokenize, **options)


def tokenization_record(references: list[str]) -> dict[str, str]:
    """What metrics.json / compare.json record about how ROUGE and BLEU tokenised this corpus."""
    return {
        "rouge": ROUGE_TOKENIZATION,
        "bleu": f"sacrebleu, tokenize={bleu_tokenizer(references)}",
    }
