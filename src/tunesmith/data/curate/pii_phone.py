"""Phone numbers for the pii step: Presidio's PhoneRecognizer without the ids it mistakes for one.

Presidio finds phone numbers with python-phonenumbers (regions US, GB, DE, FR, IL, IN, CA, BR;
leniency 1 = VALID: a number valid in some region, score 0.4). Validity is no guard against
ids: an 8-digit run starting 02 is mostly a valid German landline, so 48,444 of WordNet's
117,659 synset ids (`02190015-n`) were "phone numbers", and so were years (1640: a German pager
number), decimals, IPv4 addresses, ISBNs and DOI suffixes. A match is dropped here when it is

- glued to a word: a letter or digit right before or after it, or one behind a joiner
  `-_./\\#@=~` (`02190015-n`, `SES-0518772`, `vimeo.com/16845253`, `doi:10.1214/aos/...`) or
  behind a colon between digits (`15:17:08.132263`); a slash between two matches lists two
  numbers (`0176 1234567/0176 7654321`) and glues nothing;
- shorter than 7 digits (no number of these regions is: years, counts, bug and RFC numbers);
- an IPv4 address (with a CIDR suffix or port), a decimal (`3.143589568`: no leading zero,
  one dot), a range of two 4-digit years (`1644-1648`), a list of small numbers (three or more
  one-digit groups), ended by a one-digit group (an ISBN's check digit: `0-201-63361-2`), or
  named by the word before it (ISBN, ISSN, ISO, IEC, RFC, DOI);
- a Unix time: bare digits (no separator, no `+`, no brackets) named by a time key before them
  (`"time": 1700000000`, `created_at 1652342840`), or ten bare digits from 1000000000 to
  1999999999 (2001-09-09 to 2033-05-18, the Unix times data holds) without one of Presidio's
  phone words ("phone", "call", …) just before: no North American number starts with 1, and
  Indian, Brazilian or Israeli numbers starting with 1 are written with a 0, a + or separators.

Otherwise the rules look at the characters around a match, not at context words: a number in
running text is found with or without "phone" or "call" near it. Measured by
bench/pii_phones.py (figures in docs/curation.md).

Speed: a match needs MIN_DIGITS digits to be kept, so a text with fewer digits in all cannot
hold one, and the recognizer returns [] for it without running phonenumbers' matcher (one scan
of the whole text per region, eight regions: most of the pii step's time on text without
numbers). The result is the same as after the scan: every match there is dropped as short.

Scores: Presidio gives every match 0.4, and its context words raise that only when spaCy NER
runs. Without NER (the name gazetteer) `IdAwarePhoneRecognizer` raises it the way Presidio's
context enhancer would, so a pii `score_threshold` above 0.4 keeps the numbers said to be
phone numbers instead of switching phone detection off (config/curation.py refuses one above
the top score, `TOP_SCORE`).
"""

from __future__ import annotations

import re

from presidio_analyzer import RecognizerResult
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

MIN_DIGITS = 7
JOINERS = "-_./\\#@=~"
IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}(?:/\d{1,2}|[\s:]\d{1,5})?")
DECIMAL = re.compile(r"(?:0|[1-9]\d*)\.\d+")
YEAR_RANGE = re.compile(r"[1-3]\d{3}\s*[-–/]?\s*[1-3]\d{3}")
ID_WORD_BEFORE = re.compile(r"(?i)\b(?:isbn|issn|iso|iec|rfc|doi)(?:-?1[03])?[\s:#.-]*$")
EXTENSION = re.compile(r"(?i)\s*(?:[,;#]|\bx|\bext).*$")
# Unix times in seconds, 2001-09-09 to 2033-05-18: ten digits starting with 1.
EPOCH_SECONDS = range(1_000_000_000, 2_000_000_000)
# A time key right before the number: `ts`, `time`, `"timestamp":`, `created_at =`, `mtime`...
TIME_KEY_BEFORE = re.compile(
    r"(?i)(?:\b|_)(?:ts|time|times|timestamp|epoch|date|datetime|created|updated|modified|"
    r"[acm]time|iat|exp|nbf|expires|expiry|since|until)(?:_[a-z]+)?[\"']?\s*[:=]?\s*$"
)
# Presidio's context enhancer (as it runs with spaCy NER): how far back it looks and by how much
# a context word raises a score.
ENHANCER = LemmaContextAwareEnhancer()
TOP_SCORE = min(PhoneRecognizer.SCORE + ENHANCER.context_similarity_factor, 1.0)


def not_a_phone(text: str, start: int, end: int, neighbours: set[int] = frozenset()) -> str:
    """Why the phone match text[start:end] is an id rather than a phone number ("" if it is
    none). `neighbours`: the starts and ends of the other matches in the text."""
    bare = EXTENSION.sub("", text[start:end]).strip("()+ ")
    groups = re.split(r"\D+", bare)
    if _glued(text, start, end, neighbours):
        return "glued"
    if digit_count(bare) < MIN_DIGITS:
        return "short"
    if any(p.fullmatch(bare) for p in (IPV4, DECIMAL, YEAR_RANGE)):
        return "number"
    if sum(len(g) == 1 for g in groups) >= 3:  # 1 2 3 4 5 6 7: a list of small numbers
        return "number"
    if len(groups[-1]) == 1:
        return "check digit"
    if ID_WORD_BEFORE.search(text[max(0, start - 16) : start]):
        return "id word"
    if _unix_time(text, start, end):
        return "timestamp"
    return ""


def digit_count(text: str) -> int:
    """How many characters of `text` are digits (str.isdigit: any script's, superscripts too)."""
    if text.isascii():  # the common case, counted in C: only 0-9 are digits there
        return sum(map(text.count, "0123456789"))
    return sum(map(str.isdigit, text))


def could_hold_a_phone(text: str) -> bool:
    """Whether `text` has the digits a kept match needs: a match is part of the text, so with
    fewer digits in all every match would be dropped as "short" by `not_a_phone`."""
    return digit_count(text) >= MIN_DIGITS


def _unix_time(text: str, start: int, end: int) -> bool:
    """Bare digits named by a time key, or ten bare digits in EPOCH_SECONDS without a phone word
    before them: a Unix time (`1700000000`), not a phone number written without separators."""
    digits = text[start:end]
    if not digits.isdigit():  # a separator, a + or brackets: written as a phone number
        return False
    if TIME_KEY_BEFORE.search(text[max(0, start - 24) : start]):
        return True
    return int(digits) in EPOCH_SECONDS and not said_before(text, start, PhoneRecognizer.CONTEXT)


def said_before(text: str, start: int, words: list[str]) -> bool:
    """Whether one of `words` is in the few words before text[start] (as Presidio's context
    enhancer matches them: lower-cased, a part of a word counts, `phone` in `telephone:`)."""
    before = re.findall(r"\w+", text[max(0, start - 200) : start].lower())
    window = before[-ENHANCER.context_prefix_count :]
    return any(word in seen for word in words for seen in window)


def _glued(text: str, start: int, end: int, neighbours) -> bool:
    def at(i: int) -> str:
        return text[i] if 0 <= i < len(text) else " "

    if at(start - 1).isalnum() or at(end).isalnum():
        return True
    return _joins(at(start - 1), at(start - 2), start - 1 in neighbours) or _joins(
        at(end), at(end + 1), end + 1 in neighbours
    )


def _joins(joiner: str, other: str, other_is_a_match: bool) -> bool:
    """Whether `joiner` ties the match to the word `other` begins or ends: `02190015-n`,
    `15:17:08.132263` (a colon only between digits: `tel:` joins nothing). A slash between two
    matches lists two numbers (`0176 1234567/0176 7654321`)."""
    if joiner == "/" and other_is_a_match:
        return False
    return (joiner in JOINERS and other.isalnum()) or (joiner == ":" and other.isdigit())


class IdAwarePhoneRecognizer(PhoneRecognizer):
    """PhoneRecognizer (same regions, leniency, score and context) minus `not_a_phone` matches."""

    def analyze(self, text: str, entities: list[str], nlp_artifacts=None) -> list:
        if not could_hold_a_phone(text):  # the scan would find only matches dropped as short
            return []
        return phones_only(text, super().analyze(text, entities, nlp_artifacts))

    def enhance_using_context(  # Presidio passes these by keyword: its names
        self,
        text,
        raw_recognizer_results,
        other_raw_recognizer_results,
        nlp_artifacts,
        context=None,
    ) -> list:
        """Without spaCy tokens Presidio's enhancer sees no context words, so every match stayed
        at 0.4 and a `score_threshold` above it found no phone number at all: score a match
        with a context word before it as the enhancer would with NER (0.4 -> 0.75)."""
        if nlp_artifacts is not None and len(nlp_artifacts.tokens):
            return raw_recognizer_results  # NER runs: Presidio's own enhancer does it
        return [self._with_context(text, result) for result in raw_recognizer_results]

    def _with_context(self, text: str, result):
        if said_before(text, result.start, self.context):
            result.score = min(
                max(
                    result.score + ENHANCER.context_similarity_factor,
                    ENHANCER.min_score_with_context_similarity,
                ),
                1.0,
            )
            # Presidio's enhancer skips a result marked so: no second raise on any path
            result.recognition_metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
        return result


def phones_only(text: str, found: list) -> list:
    """The results among `found` (phone matches in `text`) that are no id (see `not_a_phone`)."""
    return [r for r in found if not not_a_phone(text, r.start, r.end, _edges(found, r))]


def _edges(found: list, result) -> set[int]:
    return {i for r in found if r is not result for i in (r.start, r.end)}
