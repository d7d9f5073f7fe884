"""Settings of each training method: one model per method, under the method's own key.

The methods' code (build, save, load, merge) lives in `tunesmith.methods`; a test keeps the
names here equal to the names registered there.
"""

from __future__ import annotations

from pydantic import Field

from tunesmith.config.base import Section


class LoraSettings(Section):
    r: int = Field(16, ge=1, description="LoRA rank.")
    alpha: int = Field(32, ge=1, description="LoRA alpha (scale = alpha / r, or alpha / sqrt(r)).")
    dropout: float = Field(0.05, ge=0, lt=1, description="Dropout on the LoRA input.")
    target_modules: str | list[str] = Field(
        "all-linear",
        description="Modules to adapt: 'all-linear' or a list of module names (q_proj, ...).",
    )
    use_dora: bool = Field(
        False,
        description="DoRA: learn each weight's magnitude apart from its direction (slower; "
        "the fused CPU path does not apply).",
    )
    use_rslora: bool = Field(
        False, description="rsLoRA: scale by alpha / sqrt(r), which keeps high ranks stable."
    )
    layers_to_transform: list[int] | None = Field(
        None,
        description="Adapt only these transformer blocks (0 = the first); default: all. "
        "Checked against the model's depth.",
    )


class Ia3Settings(Section):
    target_modules: list[str] | None = Field(
        None,
        description="Modules whose activations IA3 rescales; default: peft's choice for the "
        "architecture (keys, values and the MLP's down projection for Llama).",
    )
    feedforward_modules: list[str] | None = Field(
        None,
        description="Which of target_modules are feed-forward (scaled on their input); "
        "default: peft's choice.",
    )


class PromptTuningSettings(Section):
    num_virtual_tokens: int = Field(
        20, ge=1, le=512, description="Learned soft-prompt tokens prepended to every input."
    )
    init_text: str | None = Field(
        None,
        description="Start the soft prompt from this text's embeddings (e.g. a task "
        "instruction); default: random vocabulary embeddings.",
    )


class LohaSettings(Section):
    r: int = Field(8, ge=1, description="LoHa rank (of each of the two Hadamard factors).")
    alpha: int = Field(16, ge=1, description="LoHa alpha (scale = alpha / r).")
    rank_dropout: float = Field(0.0, ge=0, lt=1, description="Dropout on the rank dimension.")
    module_dropout: float = Field(
        0.0, ge=0, lt=1, description="Probability of skipping an adapted module in a step."
    )
    target_modules: str | list[str] = Field(
        "all-linear", description="Modules to adapt: 'all-linear' or a list of module names."
    )


class FreezeSettings(Section):
    train_top: int = Field(
        ...,
        ge=1,
        description="Train only the top N transformer blocks (the last N); the earlier blocks "
        "stay frozen. Must be below the model's number of blocks (else use method: full).",
    )
    train_norms: bool = Field(True, description="Also train the final norm.")
    train_head: bool = Field(
        True,
        description="Also train the output head (with tied embeddings this is the embedding "
        "matrix too).",
    )
