"""The tuned model as one plain transformers model (what export and distillation start from)."""

from __future__ import annotations

from tunesmith.errors import UserError


def merged_tuned(recipe, run_dir, what: str):
    """(tuned model merged in fp32 on CPU, tokenizer, its saved folder with the tokenizer)."""
    from tunesmith.methods.base import load_tuned, method_of
    from tunesmith.models.base import load_base

    method = method_of(recipe.training)
    base, tokenizer = load_base(recipe, run_dir, pretrained=True, device="cpu")
    model = load_tuned(recipe.training, run_dir.train, base)
    if hasattr(model, "peft_config"):  # still an adapter wrapper: the method cannot merge
        raise UserError(
            f"{what}: method '{method.name}' keeps its adapter outside the weights; only "
            "methods that merge (lora, ia3, loha, full, freeze) give one plain model"
        )
    return model, tokenizer, run_dir.train / method.artefact
