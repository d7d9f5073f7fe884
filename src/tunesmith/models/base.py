"""Which weights are "the base model" of a stage: decided here and nowhere else.

The plain base is the recipe's model. When the recipe pre-trains, the base that fine-tuning
starts from (and that the tuned model's adapter applies to) is the plain base with the
pre-training result applied: `pretrain/weights/` holds either a PEFT adapter, merged into the
plain base, or a full transformers model that replaces it.
"""

from __future__ import annotations

from pathlib import Path

PRETRAINED_WEIGHTS = Path("pretrain") / "weights"


def pretrained_weights(recipe, run_dir) -> Path | None:
    """The run's pre-training result, or None when the recipe does not pre-train."""
    if getattr(recipe, "pretrain", None) is None:
        return None
    return run_dir.root / PRETRAINED_WEIGHTS


def base_inputs(recipe, run_dir) -> list[Path]:
    """Run-folder files the fine-tuning base is made of (for a stage's declared inputs)."""
    weights = pretrained_weights(recipe, run_dir)
    return [weights] if weights is not None else []


def load_base(recipe, run_dir=None, *, pretrained: bool = False, device: str | None = None):
    """(model, tokenizer): the plain base, or with `pretrained` the base fine-tuning uses."""
    from tunesmith.models.loading import load_model_and_tokenizer

    model, tokenizer = load_model_and_tokenizer(recipe.model, device=device)
    if pretrained and run_dir is not None:
        model = apply_pretraining(model, recipe, run_dir)
    return model, tokenizer


def apply_pretraining(model, recipe, run_dir):
    """`model` (the plain base) with the run's pre-training applied; unchanged without one."""
    weights = pretrained_weights(recipe, run_dir)
    if weights is None:
        return model
    return apply_weights(model, weights, "run the pretrain stage first")


def apply_weights(model, folder: Path, hint: str):
    """`model` with a saved result applied: a PEFT adapter merged in, or full weights instead."""
    from tunesmith.errors import UserError
    from tunesmith.models.safe_files import weights_matching_config

    if folder.is_dir():
        check_saved(folder)
    if (folder / "adapter_config.json").is_file():
        from peft import PeftModel

        # Merged, not stacked: the task adapter then trains on (and ships against) one plain
        # model, and generation runs at plain-model speed.
        with weights_matching_config(folder):
            adapted = PeftModel.from_pretrained(model, str(folder))
        return adapted.merge_and_unload().eval()
    if (folder / "config.json").is_file():
        from transformers import AutoModelForCausalLM

        from tunesmith.models.naming import RECIPE_NAME, recipe_model_name

        full = AutoModelForCausalLM.from_pretrained(
            str(folder), dtype=model.dtype, use_safetensors=True
        )
        setattr(full, RECIPE_NAME, recipe_model_name(model))  # still the recipe's base model
        return full.to(model.device).eval()
    raise UserError(f"{folder}: no saved adapter or model; {hint}")


def check_saved(folder: Path, model_config=None) -> None:
    """What a load of the saved model or adapter `folder` would refuse, as one UserError:
    weights only as pickles, a damaged JSON or safetensors file, an adapter config peft cannot
    build; with `model_config` (the model it applies to) also adapter weights of other shapes
    than its config makes. Nothing is loaded, so a command checks every folder it will load
    before its first long step."""
    from tunesmith.models.safe_files import (
        ADAPTER_CONFIG,
        check_adapter_weights,
        require_readable,
        require_safetensors,
    )

    require_safetensors(folder)  # never unpickle weights found in a run folder
    require_readable(folder)
    if model_config is not None and (folder / ADAPTER_CONFIG).is_file():
        check_adapter_weights(folder, model_config)
