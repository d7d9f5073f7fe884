"""Full fine-tuning: every weight of the model is trained (no adapter)."""

from tunesmith.adapters.registry import ADAPTERS


@ADAPTERS.register("full")
def full_fine_tuning(model, training_config):
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    return model
