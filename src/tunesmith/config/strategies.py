"""Training strategies that apply to every method: regularisation, curriculum, replay."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tunesmith.config.base import Section

# Kept equal to the registries in tunesmith.train.curriculum by tests/test_methods_registry.py
SCORERS = ("length", "base_loss", "field", "random")
PACINGS = ("linear", "root", "step")


class Regularization(Section):
    attention_dropout: float | None = Field(
        None,
        ge=0,
        lt=1,
        description="Dropout on the model's own attention probabilities while training "
        "(sets the model config's attention_dropout); default: the model's own (0 for Llama).",
    )
    hidden_dropout: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="Dropout on each block's attention and MLP outputs before the residual add.",
    )
    l1: float = Field(
        0.0, ge=0, description="L1 penalty: loss += l1 * sum |w| over the trainable weights."
    )
    l2: float = Field(
        0.0, ge=0, description="L2 penalty: loss += l2 * sum w^2 over the trainable weights."
    )
    l2_to_start: bool = Field(
        False,
        description="L2-SP: penalise the distance to the weights' starting values (the "
        "pre-trained weights for full/freeze, the initial adapter for adapters) instead of 0.",
    )
    neftune_alpha: float = Field(
        0.0,
        ge=0,
        description="NEFTune: uniform noise of scale alpha / sqrt(length * width) added to the "
        "input embeddings while training (5 is the paper's usual value; 0 = off).",
    )
    kl_to_base: float = Field(
        0.0,
        ge=0,
        description="Forgetting mitigation: loss += kl_to_base * mean KL(base || tuned) on the "
        "response tokens; the base is the same model with the adapter disabled (adapter "
        "methods only).",
    )


class Curriculum(Section):
    scorer: Literal[SCORERS] = Field(
        "length",
        description="Difficulty of each training example: length (tokens), base_loss (the "
        "base model's own loss, cached in train/), field (the numeric data field "
        "data.difficulty_field), random (the control: random difficulty, same pacing).",
    )
    pacing: Literal[PACINGS] = Field(
        "linear",
        description="How fast the pool of easiest examples widens to the whole set: linear, "
        "root (fast at first), step (in equal stages).",
    )
    start_fraction: float = Field(
        0.25, gt=0, le=1, description="Share of the (easiest) examples available at step 0."
    )
    full_at: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Share of the training steps after which every example is in the pool.",
    )
    stages: int = Field(4, ge=2, description="step pacing: number of equal stages.")


class Replay(Section):
    share: float = Field(
        0.1,
        gt=0,
        lt=1,
        description="Share of each batch's rows drawn from general data (rehearsal against "
        "forgetting).",
    )
    file: str | None = Field(
        None,
        description="General data: a .jsonl(.gz) of {prompt, response} or {messages} rows; "
        "default: the shipped sample (WordNet definitions and chit-chat). Relative paths are "
        "relative to the recipe file.",
    )
