"""LoRA (Hu et al., 2021) via peft."""

from tunesmith.adapters.registry import ADAPTERS


@ADAPTERS.register("lora")
def lora_config(training_config):
    from peft import LoraConfig, TaskType

    settings = training_config.lora
    return LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=settings.target_modules,
        task_type=TaskType.CAUSAL_LM,
    )
