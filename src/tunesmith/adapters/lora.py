"""LoRA (Hu et al., 2021) via peft."""

from tunesmith.adapters.registry import ADAPTERS


@ADAPTERS.register("lora")
def lora(model, training_config):
    from peft import LoraConfig, TaskType, get_peft_model

    settings = training_config.lora
    config = LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=settings.target_modules,
        task_type=TaskType.CAUSAL_LM,
    )
    return get_peft_model(model, config)
