"""A model's module names from its config.json alone: the architecture is built on the meta
device (no weights read, no memory spent), so a recipe's module names are checked in the
pre-flight in about a second, whatever the model's size."""

from __future__ import annotations

from pathlib import Path


def module_names(folder: Path) -> list[str] | None:
    """Every module's dotted name, or None when the architecture cannot be built here (a
    remote-code model, say): then the check is left to the run, as before."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    try:
        config = AutoConfig.from_pretrained(str(folder))
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config)
    except Exception:  # transformers raises many types for an architecture it lacks
        return None
    return [name for name, _ in model.named_modules() if name]


def matches(target: str | list[str], name: str) -> bool:
    """Whether peft would adapt module `name` for `target_modules=target` (a string is a
    regular expression on the whole name; a list entry the name or its last dotted parts):
    peft's own check, so the pre-flight and the run never disagree."""
    from peft import LoraConfig
    from peft.tuners.tuners_utils import check_target_module_exists

    return bool(check_target_module_exists(LoraConfig(target_modules=target), name))


def leaf_names(names: list[str]) -> list[str]:
    """The distinct last parts of the names (q_proj, mlp, ...), for the error's hint."""
    return sorted({n.rsplit(".", 1)[-1] for n in names if not n.rsplit(".", 1)[-1].isdigit()})
