"""WordNet for synonym augmentation, offline: Debian's wordnet-base or NLTK's own corpus.

Debian's package ships the WordNet 3.0 database in /usr/share/wordnet but not the `lexnames`
file NLTK's reader opens; the reader below supplies that (fixed) file itself.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

DEFAULT_DIRS = ("/usr/share/wordnet",)
NEEDED = ("index.noun", "data.noun", "index.verb", "data.verb", "index.adj", "data.adj")
# lexicographer files of WordNet 3.0, in file-number order (see lexnames(5WN))
LEXNAMES = [
    "adj.all",
    "adj.pert",
    "adv.all",
    "noun.Tops",
    "noun.act",
    "noun.animal",
    "noun.artifact",
    "noun.attribute",
    "noun.body",
    "noun.cognition",
    "noun.communication",
    "noun.event",
    "noun.feeling",
    "noun.food",
    "noun.group",
    "noun.location",
    "noun.motive",
    "noun.object",
    "noun.person",
    "noun.phenomenon",
    "noun.plant",
    "noun.possession",
    "noun.process",
    "noun.quantity",
    "noun.relation",
    "noun.shape",
    "noun.state",
    "noun.substance",
    "noun.time",
    "verb.body",
    "verb.change",
    "verb.cognition",
    "verb.communication",
    "verb.competition",
    "verb.consumption",
    "verb.contact",
    "verb.creation",
    "verb.emotion",
    "verb.motion",
    "verb.perception",
    "verb.possession",
    "verb.social",
    "verb.stative",
    "verb.weather",
    "adj.ppl",
]
CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}


def find_wordnet(folder: str | None = None):
    """An NLTK WordNet reader, or None when no database is installed."""
    for candidate in [folder] if folder else DEFAULT_DIRS:
        path = Path(candidate)
        if all((path / name).is_file() for name in NEEDED):
            return _reader(path)
    if folder:
        return None
    try:
        from nltk.corpus import wordnet

        wordnet.ensure_loaded()
        return wordnet
    except LookupError:
        return None


def _reader(path: Path):
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class Reader(WordNetCorpusReader):
        def open(self, file):
            if file == "lexnames" and not (path / "lexnames").is_file():
                lines = [
                    f"{i:02d}\t{name}\t{CATEGORY[name.split('.')[0]]}"
                    for i, name in enumerate(LEXNAMES)
                ]
                return io.StringIO("\n".join(lines) + "\n")
            return super().open(file)

        def map_wn(self, version="wordnet"):
            return None  # this is WordNet 3.0 itself; NLTK would look for its own copy

    # NLTK only opens files under its data path.
    if str(path.resolve()) not in nltk.data.path:
        nltk.data.path.append(str(path.resolve()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available"
        return Reader(str(path.resolve()), None)


class OfflineWordNet:
    """The two methods nlpaug's SynonymAug calls on its model, backed by `reader`."""

    def __init__(self, reader) -> None:
        self.reader = reader

    def predict(self, word: str, pos: str | None = None) -> list[str]:
        names = []
        for synset in self.reader.synsets(word, pos=pos):
            names += [lemma.name() for lemma in synset.lemmas()]
        return names

    @staticmethod
    def pos_tag(tokens: list[str]) -> list[tuple[str, str]]:
        """NLTK's tagger when its data is installed; else untagged (all senses are used)."""
        import nltk

        try:
            return nltk.pos_tag(tokens)
        except LookupError:
            return [(token, "") for token in tokens]
