"""Methods that train the model's own weights: `full` (all) and `freeze` (the top blocks).

Both save a plain transformers folder (train/model/) that `AutoModelForCausalLM` loads.
"""

from __future__ import annotations

from tunesmith.errors import UserError
from tunesmith.methods.base import METHODS, Method, decoder_blocks


def _build_full(model, training):
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    return model


def _check_freeze(settings, depth: int) -> None:
    if settings.train_top >= depth:
        raise UserError(
            f"training.freeze.train_top: {settings.train_top} >= the model's {depth} blocks "
            "(nothing would stay frozen); use a smaller number or method: full"
        )


def _build_freeze(model, training):
    settings = training.freeze
    found = decoder_blocks(model)
    if found is None:
        raise UserError(
            f"training.method: freeze cannot find the blocks of {type(model).__name__} (no "
            "list of config.num_hidden_layers modules in its decoder); use method: full or lora"
        )
    blocks, final_norm = found
    model.requires_grad_(False)
    trained = list(blocks[len(blocks) - settings.train_top :])
    if settings.train_norms and final_norm is not None:
        trained.append(final_norm)
    if settings.train_head:
        trained.append(model.get_output_embeddings())
    for module in trained:
        module.requires_grad_(True)
    return model


def _load_weights(base_model, folder):
    from transformers import AutoModelForCausalLM

    tuned = AutoModelForCausalLM.from_pretrained(
        str(folder), dtype=base_model.dtype, use_safetensors=True
    )
    return tuned.to(base_model.device)


METHODS.register(
    "full",
    Method(
        name="full",
        build=_build_full,
        load=_load_weights,
        describe=lambda settings: "full fine-tuning (every weight)",
        artefact="model",
        trains_base_weights=True,
    ),
)
METHODS.register(
    "freeze",
    Method(
        name="freeze",
        build=_build_freeze,
        load=_load_weights,
        describe=lambda s: (
            f"layer freezing (top {s.train_top} blocks"
            + " + final norm" * s.train_norms
            + " + head" * s.train_head
            + " trained)"
        ),
        artefact="model",
        trains_base_weights=True,
        check=_check_freeze,
    ),
)
