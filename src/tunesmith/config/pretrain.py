"""The `pretrain:` recipe section: continued pre-training on raw domain text before `train`.

It takes every key `training:` shares across methods (TrainingBase: epochs, max_steps,
learning_rate, scheduler, warmup_ratio, batch_size, gradient_accumulation, weight_decay,
max_grad_norm, max_seq_length, tokens_per_pass, seed, eval_every, checkpoint_every,
val_max_examples, early_stopping, regularization, curriculum, replay), with the same meaning,
the same loop and the same batch plan (train/plan.py), except what cannot mean anything for
packed raw-text blocks: the curriculum scorers `length` (every block has `max_seq_length`
tokens) and `field` (a block has no data field) are refused with the key named. Its method keys
are its own (`method: lora | full`, `lora`). It adds the corpus, packing, curation and held-out
settings; `max_seq_length` is the packed block length here.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, PositiveFloat, PositiveInt, field_validator

from tunesmith.config.base import SHARE_OR_COUNT_RULE, Section, adds_no_rule, rule, share_or_count
from tunesmith.config.curation import CleanConfig, DedupConfig
from tunesmith.config.methods import LoraSettings
from tunesmith.config.strategies import Curriculum
from tunesmith.config.training import TrainingBase

CORPUS_SUFFIXES = (".txt", ".md", ".jsonl", ".parquet")
# Curriculum scorers with no meaning for packed blocks, and why (the refusal says it).
BLOCK_LESS_SCORERS = {
    "length": "every packed block has max_seq_length tokens, so length does not rank them",
    "field": "a packed block of raw text has no data field to read a difficulty from",
}
BLOCK_SCORERS = ("base_loss", "random")


class BlockCurriculum(Curriculum):
    """The curriculum over packed pre-training blocks: the scorers that can rank them."""

    scorer: Literal[BLOCK_SCORERS] = Field(
        "base_loss",
        description="Difficulty of each packed block: base_loss (the base model's own loss on "
        "it, cached in pretrain/) or random (the control: random difficulty, same pacing). "
        "length and field do not apply to packed raw text and are refused.",
    )

    @field_validator("scorer", mode="before")
    @classmethod
    @adds_no_rule  # its Literal leaves them out; the refusal says why
    def _applies_to_blocks(cls, value: object) -> object:
        if value in BLOCK_LESS_SCORERS:
            raise ValueError(
                f"'{value}' does not apply to pre-training: {BLOCK_LESS_SCORERS[value]}; "
                f"use {' or '.join(BLOCK_SCORERS)}"
            )
        return value


class DocumentDedup(DedupConfig):
    """The data stage's dedup settings, on whole documents; leakage checks the held-out set.

    leakage is off by default here, also in a `dedup:` block that does not name it: the exact
    and near steps already remove copies across the whole corpus before the split, so the check
    only matters when they are turned off."""

    leakage: Literal["drop", "report", "off"] = Field(
        "off",
        description="After packing: held-out documents (those with a token in the held-out "
        "blocks) that have an exact or near duplicate among the trained documents are cut out "
        "of the held-out blocks (drop), only counted (report), or not checked (off); recorded "
        "in pretrain/metrics.json (`leakage`, and the funnel's leakage step). Off by default: "
        "exact and near already remove copies before the split.",
    )


class PretrainConfig(TrainingBase):
    recipe_section: ClassVar[str] = "pretrain"

    corpus: list[str] = Field(
        ...,
        min_length=1,
        description="Domain text: .txt / .md files, folders of them (searched recursively), or "
        ".jsonl / .parquet files with a text field; each may be gzipped (.gz). One file (or "
        "one JSONL row) is one document. Relative paths are relative to the recipe file.",
    )
    text_field: str = Field("text", description="JSONL/Parquet corpus: the field with the text.")
    method: Literal["lora", "full"] = Field(
        "lora",
        description="lora: train a LoRA adapter (pretrain/weights/, PEFT format), merged into the "
        "base that fine-tuning starts from; full: train every weight (pretrain/weights/ is a "
        "plain transformers model that fine-tuning loads instead of the base).",
    )
    lora: LoraSettings = Field(default_factory=LoraSettings)
    epochs: float = Field(1.0, gt=0, description="Passes over the packed training blocks.")
    eval_every: int = Field(
        25, ge=1, description="Measure held-out domain perplexity every N optimizer steps."
    )
    max_seq_length: int = Field(
        256,
        ge=16,
        description="Tokens per packed block: documents are joined with the end-of-text token "
        "between them and cut into blocks of exactly this length (the last may be shorter).",
    )
    # the limit sits on each member (not on the Field) so the JSON Schema says exclusiveMinimum
    held_out: PositiveFloat | PositiveInt = Field(
        0.1,
        description="Blocks held out for domain perplexity and early stopping: a share (0-1) or "
        "a number; taken from the end of the seeded document order, never trained on.",
    )

    val_max_examples: int = Field(
        200, ge=1, description="Held-out blocks scored for domain perplexity during training."
    )
    learning_rate: float = Field(1e-4, gt=0, description="Peak learning rate (AdamW).")
    clean: CleanConfig | None = Field(
        default_factory=lambda: CleanConfig(whitespace=False),
        description="The data stage's clean step on each document (whitespace off by default: "
        "it would strip code indentation); null turns it off.",
    )
    dedup: DocumentDedup | None = Field(
        default_factory=DocumentDedup,
        description="The data stage's exact and near-duplicate removal, on whole documents, "
        "and its leakage check on the held-out documents; null turns both off.",
    )
    curriculum: BlockCurriculum | None = Field(
        None,
        description="Feed the easiest packed blocks first (off when absent); the same "
        "sampler as training.curriculum.",
    )
    compare_without: bool = Field(
        False,
        description="Also fine-tune WITHOUT pre-training, in a sibling run folder "
        "(<run>-no-pretrain, sharing this run's curated data; reused when unchanged), and "
        "score it as the 'fine-tuning only' evaluation row.",
    )
    max_documents: int | None = Field(
        None, ge=1, description="Use at most this many documents (the first ones, in order)."
    )

    @field_validator("held_out", mode="before")
    @classmethod
    @rule(SHARE_OR_COUNT_RULE)
    def _share_or_count(cls, value):
        # 1.5 was taken as a count of 1 block
        return share_or_count(value, floor_included=False)

    @field_validator("corpus", mode="before")
    @classmethod
    @adds_no_rule
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("clean", "dedup", mode="before")
    @classmethod
    @adds_no_rule
    def _switch(cls, value: object) -> object:
        if value is True:
            return {}
        return None if value is False else value

    def settings(self) -> Section | None:
        """The method's own settings, as the training methods read them (methods/)."""
        return self.lora if self.method == "lora" else None
