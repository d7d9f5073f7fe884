"""Person names without an NER model: a Presidio recognizer over first-name/surname gazetteers.

The lists are Faker's person-name providers for several locales (installed with Faker, so this
works offline). Rules, by score:
- 0.7  known first name + known surname ("Paul Graham", "Steven G. Johnson")
- 0.6  title + capitalised name ("Dr. Okonkwo", "Mrs Ada Lovelace")
- 0.5  known first name + capitalised word that is not an English word (WordNet, when the
       database is installed) — "Linus Torvalds"
- 0.3  known first name + any capitalised word (below the default threshold: "Georgia Tech")
"""

from __future__ import annotations

import importlib
import re
from functools import lru_cache
from pathlib import Path

LOCALES = (
    "en_US",
    "en_GB",
    "en_IN",
    "de_DE",
    "fr_FR",
    "es_ES",
    "it_IT",
    "nl_NL",
    "pt_BR",
    "pl_PL",
    "sv_SE",
)
PAIR = re.compile(r"\b([A-Z][a-z]+)[ \t]*\n?[ \t]*(?:[A-Z]\.\s+)?([A-Z][a-zA-Z'-]*[a-z])\b")
TITLED = re.compile(
    r"\b(?:Mr|Mrs|Ms|Miss|Dr|Prof|Sir|Dame)\.?\s+[A-Z][a-zA-Z'-]+"
    r"(?:\s+[A-Z][a-zA-Z'-]+)?"
)
WORDNET_DIRS = ("/usr/share/wordnet",)


@lru_cache(maxsize=1)
def gazetteer() -> tuple[frozenset[str], frozenset[str]]:
    """(first names, surnames) from Faker's providers."""
    firsts: set[str] = set()
    lasts: set[str] = set()
    for locale in LOCALES:
        try:
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        except ImportError:
            continue
        for attr in ("first_names", "first_names_male", "first_names_female"):
            firsts.update(getattr(provider, attr, None) or ())
        lasts.update(getattr(provider, "last_names", None) or ())
    keep = re.compile(r"[A-Z][a-z]+(?:-[A-Z][a-z]+)?$")
    return frozenset(filter(keep.match, firsts)), frozenset(filter(keep.match, lasts))


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Lower-case lemmas of the WordNet database (empty when it is not installed)."""
    for folder in WORDNET_DIRS:
        words: set[str] = set()
        for pos in ("noun", "verb", "adj", "adv"):
            path = Path(folder) / f"index.{pos}"
            if path.is_file():
                with open(path, encoding="utf-8", errors="replace") as handle:
                    words.update(line.split(" ", 1)[0] for line in handle if line[:1] != " ")
        if words:
            return frozenset(words)
    return frozenset()


def find_names(text: str) -> list[tuple[int, int, float]]:
    """(start, end, score) of likely person names in `text`."""
    firsts, lasts = gazetteer()
    words = english_words()
    found = [(m.start(), m.end(), 0.6) for m in TITLED.finditer(text)]
    for match in PAIR.finditer(text):
        first, last = match.group(1), match.group(2)
        if first not in firsts:
            continue
        if last in lasts:
            score = 0.7
        elif words and last.lower() not in words:
            score = 0.5
        else:
            score = 0.3
        found.append((match.start(), match.end(), score))
    return found


def gazetteer_recognizer():
    """A Presidio LocalRecognizer for PERSON built on `find_names`."""
    from presidio_analyzer import LocalRecognizer, RecognizerResult

    class GazetteerNameRecognizer(LocalRecognizer):
        def load(self) -> None:
            gazetteer()

        def analyze(self, text, entities, nlp_artifacts=None):
            if "PERSON" not in entities:
                return []
            return [
                RecognizerResult("PERSON", start, end, score)
                for start, end, score in find_names(text)
            ]

    return GazetteerNameRecognizer(supported_entities=["PERSON"], name="GazetteerNameRecognizer")
