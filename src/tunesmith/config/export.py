"""The `export:` and `distill:` recipe sections (both optional; off unless given).

The format and loss names are kept equal to their registries (`export/formats.py`,
`distill/losses.py`) by tests/test_export.py: this leaf imports neither.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from tunesmith.config.base import Section, rule

ExportFormat = Literal["merged", "gguf", "int8"]
GgufType = Literal["f16", "q8_0", "q4_0"]  # the types gguf-py can quantise (no K-quants)
DistillLoss = Literal["forward_kl", "reverse_kl", "jsd"]


class ExportConfig(Section):
    formats: list[ExportFormat] = Field(
        default_factory=lambda: ["merged"],
        min_length=1,
        description="Deployable artefacts to write under export/: merged (a plain Hugging Face "
        "folder), gguf (one file per gguf_types entry), int8 (torchao weight-only int8).",
    )
    gguf_types: list[GgufType] = Field(
        default_factory=lambda: ["f16", "q8_0"],
        min_length=1,
        description="GGUF tensor types written by the gguf format: f16, q8_0, q4_0.",
    )
    evaluate: bool = Field(
        True,
        description="Score every export as an evaluation row (same test examples, paired "
        "intervals against the tuned model).",
    )
    license: str = Field(
        "unknown (see the base model's licence)",
        description="Licence named in the model cards (the base model's terms still apply).",
    )
    speed_tokens: int = Field(
        32, ge=1, description="New tokens generated to measure each export's tokens/s."
    )

    @field_validator("formats", "gguf_types")
    @classmethod
    @rule("each at most once")
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"{value}: each entry may appear once")
        return value


class DistillConfig(Section):
    student_layers: int | None = Field(
        None,
        ge=1,
        description="Blocks of the student, copied from evenly spaced teacher blocks (first "
        "and last included). Default: half the teacher's blocks.",
    )
    student_model: str | None = Field(
        None,
        description="Another model (a local Hugging Face folder) as the student instead of "
        "the teacher's own blocks; its vocabulary must equal the teacher's.",
    )
    loss: DistillLoss = Field(
        "forward_kl",
        description="Soft-target loss: forward_kl KL(teacher||student), reverse_kl "
        "KL(student||teacher), or jsd (Jensen-Shannon).",
    )
    temperature: float = Field(
        2.0, gt=0, description="Softmax temperature of both distributions in the soft loss."
    )
    alpha: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Weight of the soft loss; the usual label loss gets 1 - alpha.",
    )
    top_k: int = Field(
        32, ge=1, le=1024, description="Teacher log-probabilities kept per position (stored)."
    )
    compare_labels_only: bool = Field(
        True,
        description="Also train the same student on labels alone (same steps) for the table.",
    )
