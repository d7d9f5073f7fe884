"""clean: Unicode repair, control characters, whitespace, markup, empty fields, length, language."""

from __future__ import annotations

import html
import re
import textwrap
from collections import Counter

from tunesmith.config.curation import CleanConfig
from tunesmith.data.curate.base import Drop, Splits, StepOutput, register_step
from tunesmith.data.curate.rows import (
    final_answer,
    input_text,
    is_messages,
    map_text,
    row_text,
    texts_of,
)

# C0/C1 controls except \t \n \r, zero-width space, bidi marks and overrides, invisible
# operators, BOM. Not U+200C/U+200D (zero-width non-joiner/joiner): they change how text
# renders and reads (Persian "می‌خواهم", emoji sequences such as 👩‍👩‍👧), so they are content.
CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\ufeff]"
)
LINE_SEPARATORS = re.compile("\r\n?|[\u2028\u2029\x85]")
# Runs of horizontal whitespace other than tabs (a tab is a separator in TSV-like text).
SPACES = re.compile(r"[^\S\n\t]+")
INDENT = re.compile(r"[ \t]*")
# Printable ASCII, tabs and newlines: text in which ftfy (as configured below) changes nothing.
PLAIN_ASCII = re.compile(r"[\t\n\x20-\x7e]*")
BLANK_LINES = re.compile(r"\n{3,}")
TAG = re.compile(r"<!--.*?-->|</?[A-Za-z][\w:.-]*(?:\s[^<>]*)?/?>", re.DOTALL)


def clean_text(text: str, config: CleanConfig, changes: Counter) -> str:
    """One string through the configured fixes; `changes` counts which fix changed it."""
    for name, fix in _fixes(config):
        fixed = fix(text)
        if fixed != text:
            changes[name] += 1
            text = fixed
    return text


def _fixes(config: CleanConfig):
    if config.fix_unicode:
        yield "unicode", _fix_unicode
    if config.strip_markup:
        yield "markup", lambda t: html.unescape(TAG.sub(" ", t))
    if config.strip_control:
        yield "control", lambda t: CONTROL.sub("", LINE_SEPARATORS.sub("\n", t))
    if config.whitespace:
        yield "whitespace", _fix_whitespace


def _fix_unicode(text: str) -> str:
    # Skip ftfy's cost only where it provably changes nothing; ASCII with control characters
    # or terminal escapes goes through it like any other row, so every row is treated alike.
    if PLAIN_ASCII.fullmatch(text):
        return text
    import ftfy

    return ftfy.fix_text(
        text,
        normalization="NFC",
        # ﬁ ﬂ ﬀ ﬃ ﬄ ﬆ (PDF and OCR text) -> fi fl ff ffi ffl st, and the digraph characters
        # Ĳ Ǆ Ǉ Ǌ -> IJ DŽ LJ NJ: presentation forms of the letters, which tokenise apart from
        # them, so a model would learn a second spelling of "find" and write it in answers;
        # real letters (æ, œ, ß) are not touched. NFC (not NFKC) leaves them, so this does.
        fix_latin_ligatures=True,
        uncurl_quotes=False,  # curly quotes are content, not damage
        fix_character_width=False,  # full-width CJK punctuation （，！） is correct CJK text
        unescape_html=False,  # entities are decoded only by strip_markup, on every row alike
    )


def _fix_whitespace(text: str) -> str:
    """Collapse spaces inside lines, trim line ends, blank lines and the margin common to all
    lines; leading indentation (code, lists) and tabs stay."""
    lines = [_fix_line(line) for line in text.split("\n")]
    text = textwrap.dedent("\n".join(lines))  # a margin shared by every line is not structure
    return BLANK_LINES.sub("\n\n", text).strip("\n")


def _fix_line(line: str) -> str:
    indent = INDENT.match(line).group()
    return (indent + SPACES.sub(" ", line[len(indent) :])).rstrip()


@register_step("clean", "pre", 10, "Unicode, control characters, whitespace, empty fields, length")
def run(splits: Splits, config: CleanConfig, ctx) -> StepOutput:
    changes: Counter = Counter()
    fields = list(ctx.text_fields) + ([ctx.label_field] if ctx.label_field else [])
    out: Splits = {}
    dropped: list[Drop] = []
    for split, rows in splits.items():
        kept = []
        for row in rows:
            row = map_text(row, fields, lambda t: clean_text(t, config, changes))
            empty = _empty_fields(row, fields)
            for name in [f for f in empty if f in config.fill]:
                row[name] = config.fill[name]
                changes[f"filled_{name}"] += 1
            missing = [f for f in empty if f not in config.fill]
            if missing:
                dropped.append(Drop(row, empty[missing[0]]))
            else:
                kept.append(row)
        out[split] = kept
    stats: dict = {"changed": dict(changes)}
    if config.min_tokens is not None or config.max_tokens is not None:
        out, stats["length_unit"] = _length_bounds(out, config, ctx, fields, dropped)
    if config.language:
        out = _language(out, config, ctx, dropped)
    return StepOutput(out, dropped, stats)


def _empty_fields(row: dict, fields: list[str]) -> dict[str, str]:
    """Fields with no text, each with the reason its row is dropped for. A chat is unusable
    when its final assistant turn (the training target) is blank (`empty_answer`) or when it
    has none (`no_answer`), as the data stage reads conversations; blank earlier turns are
    context (a skipped reply, which training does not learn) and stay. A string or a list of
    strings is empty only when all of it is blank (a blank synonym is not a blank row)."""
    empty = {}
    for name in fields:
        value = row.get(name)
        if is_messages(value):
            answer = final_answer(value)
            if answer is None or not answer.strip():
                empty[name] = "no_answer" if answer is None else "empty_answer"
        elif not any(t.strip() for t in texts_of(value)):
            empty[name] = f"empty_{name}"
    return empty


def _length_bounds(splits: Splits, config: CleanConfig, ctx, fields, dropped):
    tokenizer = ctx.load_tokenizer() if ctx.load_tokenizer else None
    low, high = config.min_tokens or 0, config.max_tokens
    out = {}
    for split, rows in splits.items():
        counts = count_tokens([row_text(r, fields) for r in rows], tokenizer)
        out[split] = []
        for row, n in zip(rows, counts, strict=True):
            if n < low:
                dropped.append(Drop(row, "too_short", {"tokens": n}))
            elif high is not None and n > high:
                dropped.append(Drop(row, "too_long", {"tokens": n}))
            else:
                out[split].append(row)
    return out, "tokens" if tokenizer is not None else "words (no tokenizer)"


def count_tokens(texts: list[str], tokenizer, batch: int = 1024) -> list[int]:
    """Token counts with the model's tokenizer (whitespace words when there is none)."""
    if tokenizer is None:
        return [len(t.split()) for t in texts]
    counts: list[int] = []
    for start in range(0, len(texts), batch):
        ids = tokenizer(texts[start : start + batch], add_special_tokens=False)["input_ids"]
        counts += [len(i) for i in ids]
    return counts


def _language(splits: Splits, config: CleanConfig, ctx, dropped) -> Splits:
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    DetectorFactory.seed = ctx.seed
    out = {}
    for split, rows in splits.items():
        out[split] = []
        for row in rows:
            try:
                best = detect_langs(input_text(row, ctx)[:1000])[0]
                lang, prob = best.lang, round(best.prob, 3)
            except LangDetectException:
                lang, prob = "unknown", 0.0
            if lang == config.language and prob >= config.language_min_prob:
                out[split].append(row)
            else:
                dropped.append(Drop(row, "language", {"language": lang, "prob": prob}))
    return out
