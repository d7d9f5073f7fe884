"""The `training:` section: settings shared by every method, then one model per method.

`training.method` discriminates a union, so each method's model carries only its own settings
key: `lora:` under `method: ia3` is an unknown key of `training`, with its path.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Union

from pydantic import Field

from tunesmith.config.base import Section
from tunesmith.config.methods import (
    FreezeSettings,
    Ia3Settings,
    LohaSettings,
    LoraSettings,
    PromptTuningSettings,
)
from tunesmith.config.strategies import Curriculum, Regularization, Replay
from tunesmith.errors import suggest

DEFAULT_METHOD = "lora"


class EarlyStopping(Section):
    enabled: bool = Field(True, description="Stop when validation perplexity stops improving.")
    patience: int = Field(3, ge=1, description="Evaluations without improvement before stopping.")
    min_delta: float = Field(
        0.0, ge=0, description="Smallest drop in validation perplexity that counts as improving."
    )


class TrainingBase(Section):
    """Fields every method shares; `settings_key` names the method's own settings field."""

    settings_key: ClassVar[str | None] = None
    # The recipe section these settings sit in, for messages about its keys (pretrain: too).
    recipe_section: ClassVar[str] = "training"

    epochs: float = Field(1.0, gt=0, description="Passes over the training split.")
    max_steps: int | None = Field(
        None, ge=1, description="Stop after this many optimizer steps (overrides epochs)."
    )
    learning_rate: float = Field(2e-4, gt=0, description="Peak learning rate (AdamW).")
    scheduler: Literal["linear", "cosine", "constant"] = Field(
        "cosine", description="Learning-rate schedule after warmup."
    )
    warmup_ratio: float = Field(0.05, ge=0, lt=1, description="Share of steps spent warming up.")
    batch_size: int = Field(8, ge=1, description="Examples per micro-batch.")
    gradient_accumulation: int = Field(1, ge=1, description="Micro-batches per optimizer step.")
    weight_decay: float = Field(
        0.0,
        ge=0,
        description="AdamW weight decay; never applied to norms and biases (1-D weights).",
    )
    max_grad_norm: float = Field(1.0, gt=0, description="Gradient clipping norm.")
    max_seq_length: int = Field(
        256,
        ge=16,
        description="Longest tokenised example. A longer row loses its prompt's middle first; an "
        "answer that still does not fit keeps its beginning, and prompt and answer each keep at "
        "least half (docs/safety.md). Cut rows are counted on the console and in the report.",
    )
    tokens_per_pass: int | None = Field(
        None,
        ge=1,
        description="Padded tokens one forward pass may hold; a batch above it is cut into "
        "passes (same gradient, less activation memory). Default: from the model's size and "
        "the machine's memory (docs/performance.md).",
    )
    seed: int = Field(0, description="Seed for initialisation, shuffling and dropout.")
    eval_every: int = Field(
        25, ge=1, description="Evaluate validation perplexity every N optimizer steps."
    )
    checkpoint_every: int | None = Field(
        None, ge=1, description="Save a resumable checkpoint every N steps (default: eval_every)."
    )
    val_max_examples: int = Field(
        200, ge=1, description="Validation examples used for perplexity during training."
    )
    early_stopping: EarlyStopping = Field(default_factory=EarlyStopping)
    regularization: Regularization = Field(default_factory=Regularization)
    curriculum: Curriculum | None = Field(
        None, description="Feed easy examples first (off when absent)."
    )
    replay: Replay | None = Field(
        None, description="Mix general data into the batches against forgetting (off when absent)."
    )

    def settings(self) -> Section | None:
        """The method's own settings (None for a method without any)."""
        return getattr(self, self.settings_key) if self.settings_key else None


class LoraTraining(TrainingBase):
    settings_key: ClassVar[str | None] = "lora"
    method: Literal["lora"] = Field(
        "lora",
        description="Training method: lora, ia3, loha, prompt_tuning (adapters saved to "
        "train/adapter/ in PEFT format), full (every weight) or freeze (only the top blocks; "
        "both saved to train/model/, a plain transformers folder). See docs/strategies.md.",
    )
    lora: LoraSettings = Field(default_factory=LoraSettings)


class Ia3Training(TrainingBase):
    settings_key: ClassVar[str | None] = "ia3"
    method: Literal["ia3"]
    ia3: Ia3Settings = Field(default_factory=Ia3Settings)


class PromptTuningTraining(TrainingBase):
    settings_key: ClassVar[str | None] = "prompt_tuning"
    method: Literal["prompt_tuning"]
    prompt_tuning: PromptTuningSettings = Field(default_factory=PromptTuningSettings)


class LohaTraining(TrainingBase):
    settings_key: ClassVar[str | None] = "loha"
    method: Literal["loha"]
    loha: LohaSettings = Field(default_factory=LohaSettings)


class FullTraining(TrainingBase):
    method: Literal["full"]


class FreezeTraining(TrainingBase):
    settings_key: ClassVar[str | None] = "freeze"
    method: Literal["freeze"]
    freeze: FreezeSettings


TRAINING_MODELS = (
    LoraTraining,
    Ia3Training,
    PromptTuningTraining,
    LohaTraining,
    FullTraining,
    FreezeTraining,
)
METHOD_NAMES = tuple(m.model_fields["method"].annotation.__args__[0] for m in TRAINING_MODELS)

TrainingConfig = Annotated[Union[TRAINING_MODELS], Field(discriminator="method")]  # noqa: UP007


def default_method(value: object) -> object:
    """Fill in `method: lora` when absent; name an unknown method with a suggestion."""
    if not isinstance(value, dict):
        return value
    method = value.get("method", DEFAULT_METHOD)
    if method not in METHOD_NAMES:
        raise ValueError(
            f"method '{method}' is not a training method{suggest(str(method), METHOD_NAMES)}; "
            f"known: {', '.join(METHOD_NAMES)}"
        )
    return {**value, "method": method}


def training_config(**values) -> TrainingBase:
    """A validated training section from keyword values (tests, benches, drivers)."""
    from pydantic import TypeAdapter

    return TypeAdapter(TrainingConfig).validate_python(default_method(values))
