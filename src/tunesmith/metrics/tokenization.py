"""The one tokenisation behind every ROUGE and BLEU score (evaluate, checks, ensembles, bench).

rouge-score's default tokenizer lowercases and keeps only [a-z0-9] runs, so every letter of
another script vanishes (Chinese, Arabic, Cyrillic, accented Latin: 'café' -> 'caf') and ROUGE
is 0 even for a perfect answer. sacrebleu's default '13a' tokenizer splits on spaces and
punctuation only, so a Chinese sentence is one token and gets no partial credit.

ROUGE: `UnicodeTokenizer` gives rouge-score's own tokens for ASCII text (English scores are
unchanged) and, for other text, keeps the letters, digits and combining marks of every script,
splitting scripts written without spaces (Chinese, Japanese, Thai, ...) into single characters.
BLEU: `bleu_texts` splits each hypothesis and reference with the sacrebleu tokenizer the
reference's script needs ('13a', 'zh', or 'char' whose unit is ROUGE's character with its marks),
and sacrebleu scores the split text (tokenize='none').
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from functools import cache

import regex

# Scripts written without spaces between words: each character is one ROUGE token, the common
# practice for Chinese and Japanese ROUGE (no word segmenter needed, none is guessed).
UNSPACED_SCRIPTS = ("Han", "Hiragana", "Katakana", "Bopomofo", "Thai", "Lao", "Khmer", "Myanmar")
_UNSPACED = "[" + "".join(rf"\p{{{script}}}" for script in UNSPACED_SCRIPTS) + "]"
# One unspaced character with its combining marks (Thai vowel and tone marks belong to their
# consonant), or a run of letters, decimal digits and marks of the spaced scripts (a word).
# Decimal digits only (\p{Nd}): like rouge-score, '²', '½' and '①' are not part of a word.
_MARKS = r"\p{M}*"
_CHARACTER = rf"(?=\P{{M}}){_UNSPACED}{_MARKS}"
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
# BLEU's 'char' unit is ROUGE's character: one character with the combining marks after it.
# sacrebleu's own 'char' splits every code point, so a Thai tone mark or a Devanagari vowel
# sign was a token of its own, matching the same mark on any other consonant.
_BLEU_CHARACTER = regex.compile(rf"\S{_MARKS}")
# What tokenization_record's 'version' means; a record without one is version 1: one
# sacrebleu tokenizer for the whole corpus (its 'char' split marks from their character).
TOKENIZATION_VERSION = 2


def _bleu_need(text: str) -> str:
    """The sacrebleu tokenizer one text needs: 'char' for Japanese kana and Southeast Asian
    scripts (sacrebleu's 'zh' does not split them; 'ja-mecab' and 'flores200' need packages or
    downloads), 'zh' (WMT's Chinese BLEU) for Chinese characters, else '13a'."""
    if _CHARACTER_SCRIPTS.search(text):
        return "char"
    return "zh" if _CHINESE.search(text) else "13a"


def bleu_tokenizer(texts: Iterable[str]) -> str:
    """One tokenizer for a set of texts without references (an MBR ensemble's candidates for
    one prompt): the one most of them need, so every pair among them is counted alike."""
    needs = Counter(_bleu_need(text) for text in texts)
    if not needs:
        return "13a"
    most = max(needs.values())
    return next(name for name in _BLEU_PREFERENCE if needs[name] == most)


def _characters(text: str) -> str:
    """The 'char' split: ROUGE's characters (normalised alike), case kept as BLEU keeps it."""
    return " ".join(_BLEU_CHARACTER.findall(_normalize(text)))


@cache
def _splitter(need: str) -> Callable[[str], str]:
    if need == "char":
        return _characters
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
    from sacrebleu.tokenizers.tokenizer_zh import TokenizerZh

    return {"13a": Tokenizer13a, "zh": TokenizerZh}[need]()


def bleu_texts(
    predictions: Iterable[str], references: Iterable[str], need: str | None = None
) -> tuple[list[str], list[str]]:
    """Each hypothesis and its reference split into space-separated tokens by the tokenizer
    the reference's script needs (`need`: one for every pair), for `bleu_metric`.

    Per row, not per corpus: the Chinese rows of a mostly English test set get 'zh' (under the
    corpus's '13a' each was one token). Decided by the reference alone, so every model's
    answer to one example (base, tuned, another run's) is counted the same way. Split as
    sacrebleu splits (the text's trailing space dropped first), so a corpus of one script
    scores exactly as sacrebleu with that tokenizer."""
    hypotheses, refs = [], []
    for hypothesis, ref in zip(predictions, references, strict=True):
        split = _splitter(need or _bleu_need(ref))
        hypotheses.append(split(hypothesis.rstrip()))
        refs.append(split(ref.rstrip()))
    return hypotheses, refs


def bleu_metric(**options):
    """sacrebleu's BLEU for text split by `bleu_texts` (`options`: e.g. effective_order).

    tokenize='none': the text is split already; force: split text ends in ' .' by design,
    which is not the 'forgot to detokenize' mistake sacrebleu warns about."""
    from sacrebleu.metrics import BLEU

    return BLEU(tokenize="none", force=True, **options)


_BLEU_NAMES = {"13a": "13a", "zh": "zh", "char": "char (a character with its combining marks)"}


def tokenization_record(references: list[str]) -> dict:
    """What metrics.json / compare.json record about how ROUGE and BLEU tokenised this corpus:
    'bleu' says it in words, 'bleu_rows' counts the rows of each tokenizer."""
    rows = Counter(_bleu_need(text) for text in references) or Counter({"13a": 0})
    n = rows.total()
    if len(rows) == 1:
        bleu = f"sacrebleu, tokenize={_BLEU_NAMES[next(iter(rows))]}"
    else:
        counts = ", ".join(f"{_BLEU_NAMES[k]} {rows[k]}" for k in _BLEU_PREFERENCE if rows[k])
        bleu = f"sacrebleu, tokenize per row by its reference's script: {counts} (of {n})"
    return {
        "rouge": ROUGE_TOKENIZATION,
        "bleu": bleu,
        "bleu_rows": {k: rows[k] for k in _BLEU_PREFERENCE if k in rows},
        "version": TOKENIZATION_VERSION,
    }


def is_current(record: dict | None) -> bool:
    """Whether a run's recorded tokenisation (None: not recorded) is this code's."""
    return (
        isinstance(record, dict)
        and record.get("version") == TOKENIZATION_VERSION
        and record.get("rouge") == ROUGE_TOKENIZATION
    )


def same_tokenization(a: dict | None, b: dict | None) -> bool:
    """Whether two runs' ROUGE and BLEU scores were tokenised alike: both by this code (each
    row's BLEU tokenizer is its reference's, so the examples two test sets share are split
    alike whatever else each held), or both by the same earlier choice."""
    return (is_current(a) and is_current(b)) or a == b


def describe_tokenization(record: dict | None) -> str:
    """A run's recorded tokenisation in a few words, for a one-line error."""
    if not isinstance(record, dict):
        return "not recorded"
    return str(record.get("bleu", "?")) + ("" if is_current(record) else ", earlier code")
