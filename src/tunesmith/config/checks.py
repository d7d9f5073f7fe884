"""The `checks:` recipe section: model risk checks run on the base and the tuned model.

One settings model per registered check (tunesmith.checks); `enabled` switches each. The
defaults are the checks that are cheap enough to run on every CPU run (see docs/checks.md).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tunesmith.config.base import Section

Perturbation = Literal["char_noise", "word_noise", "synonym"]
# Feature ablation scores every prompt token of each explained example once; the cap keeps the
# check cheap enough to be on by default. One name, so the reference states the cap enforced.
MAX_EXPLAINED = 20


class ForgettingConfig(Section):
    enabled: bool = Field(
        True,
        description="Forgetting: general-ability probe (WordNet multiple choice scored by "
        "log-likelihood, perplexity on general English sentences), base vs tuned.",
    )
    items: int = Field(
        60, ge=10, le=200, description="Probe items (of the 200 shipped; fewer = faster)."
    )


class RobustnessConfig(Section):
    enabled: bool = Field(
        True,
        description="Robustness: the test examples re-scored with perturbed inputs; the "
        "headline metric's drop for base and tuned.",
    )
    perturbations: list[Perturbation] = Field(
        ["char_noise", "word_noise", "synonym"],
        min_length=1,
        description="Input perturbations (nlpaug: keyboard typos, word swaps, WordNet "
        "synonyms; synonym is skipped where no WordNet database is installed).",
    )
    noise_p: float = Field(
        0.1, gt=0, le=0.5, description="Share of characters / words a perturbation changes."
    )
    sample_size: int = Field(
        10,
        ge=4,
        description="Test examples re-scored (the first ones of eval's predictions; each "
        "perturbation re-scores them all, in one batched call per model).",
    )


class BiasConfig(Section):
    enabled: bool = Field(
        True,
        description="Bias: counterfactual swaps of demographic terms in the test inputs "
        "(label flip rate / output divergence / log-likelihood shift) and a paired-sentence "
        "likelihood probe, base vs tuned.",
    )
    lexicon: str | None = Field(
        None,
        description="Swap lexicon (JSON, see docs/checks.md); default: the shipped English "
        "gender lexicon (pronouns, names, group nouns). Relative to the recipe file.",
    )
    sample_size: int = Field(
        16, ge=2, description="Test examples with a lexicon term that are swapped and scored."
    )


class ExplainConfig(Section):
    enabled: bool = Field(
        True,
        description="Explainability: captum token attributions (feature ablation) for k test "
        "examples and one attention map (heads x tokens); skipped for completion tasks.",
    )
    k: int = Field(
        2,
        ge=1,
        le=MAX_EXPLAINED,
        description="Test examples explained (each ablates every token of its prompt once; more "
        "than the test set: error).",
    )
    max_new_tokens: int = Field(
        4, ge=1, le=16, description="Generated tokens attributed (classification: the label)."
    )


class TriggerConfig(Section):
    enabled: bool = Field(
        True,
        description="Post-training trigger test: the data stage's suspected poisoning "
        "triggers inserted into test inputs; how often the tuned (and base) output changes.",
    )
    sample_size: int = Field(8, ge=2, description="Test examples each trigger is inserted in.")
    max_triggers: int = Field(3, ge=1, description="Suspected triggers tested (the top ones).")


class ChecksConfig(Section):
    forgetting: ForgettingConfig = Field(default_factory=ForgettingConfig)
    robustness: RobustnessConfig = Field(default_factory=RobustnessConfig)
    bias: BiasConfig = Field(default_factory=BiasConfig)
    explain: ExplainConfig = Field(default_factory=ExplainConfig)
    triggers: TriggerConfig = Field(default_factory=TriggerConfig)


class CounterfactualConfig(Section):
    """Curation step `counterfactual` (counterfactual data augmentation, train split only)."""

    lexicon: str | None = Field(
        None,
        description="Swap lexicon (JSON, as checks.bias.lexicon); default: the shipped English "
        "gender lexicon. Relative to the recipe file.",
    )
    fraction: float = Field(
        1.0,
        gt=0,
        le=1,
        description="Share of the training rows containing a lexicon term that get a swapped "
        "copy (seeded).",
    )
