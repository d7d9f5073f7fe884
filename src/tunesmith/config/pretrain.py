"""The `pretrain:` recipe section: continued pre-training on raw domain text before `train`.

It takes every optimisation setting of `training:` (same names, same loop), plus the corpus
and packing settings; `max_seq_length` is the packed block length here.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from tunesmith.config.base import Section
from tunesmith.config.curation import CleanConfig, DedupConfig
from tunesmith.config.methods import LoraSettings
from tunesmith.config.training import TrainingBase

CORPUS_SUFFIXES = (".txt", ".md", ".jsonl", ".parquet")


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
    held_out: float | int = Field(
        0.1,
        gt=0,
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
    dedup: DedupConfig | None = Field(
        default_factory=lambda: DedupConfig(leakage="off"),
        description="The data stage's exact and near-duplicate removal, on whole documents; "
        "null turns it off.",
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

    @field_validator("corpus", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("clean", "dedup", mode="before")
    @classmethod
    def _switch(cls, value: object) -> object:
        if value is True:
            return {}
        return None if value is False else value

    def settings(self) -> Section | None:
        """The method's own settings, as the training methods read them (methods/)."""
        return self.lora if self.method == "lora" else None
