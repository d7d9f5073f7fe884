"""Adapter methods through peft: LoRA (+ DoRA, rsLoRA), IA3, LoHa, prompt tuning.

Each saves a PEFT-format folder (train/adapter/) that plain `PeftModel.from_pretrained`
loads; all but prompt tuning merge into the base weights for generation.
"""

from __future__ import annotations

from contextlib import contextmanager

from tunesmith.errors import UserError
from tunesmith.methods.base import METHODS, Method, unchanged


def _peft_build(make_config):
    def build(model, training):
        from peft import get_peft_model

        settings, key = training.settings(), f"{training.recipe_section}.{training.method}"
        _check_targets(model, settings, key)
        with _refused(key):
            config = make_config(settings, model)
        with _refused_targets(key, settings, model):
            return get_peft_model(model, config)

    return build


def _check_targets(model, settings, key: str) -> None:
    """The targets against this model's modules, as the pre-flight checks them: it cannot run
    for a model not on this machine as a transformers folder yet (a hub id, a GGUF file)."""
    from tunesmith.models.targets import check_targets, named_targets, names_of

    targets = named_targets(settings)
    if targets is not None:
        check_targets(f"{key}.target_modules", targets, _name(model), names_of(model))


@contextmanager
def _refused(key: str):
    """peft's config classes check the settings given them (IA3's feedforward_modules within
    target_modules, layers_to_transform with a regex target, ...): every value is the recipe's,
    so a ValueError there is the recipe's mistake, named by its key."""
    try:
        yield
    except ValueError as exc:
        raise UserError(f"{key}: peft refuses these settings ({_first(exc)})") from None


@contextmanager
def _refused_targets(key: str, settings, model):
    """peft's refusals, while it builds the adapter, of what the recipe's targets select: no
    module left (NoMatchingPeftModuleError, e.g. none in layers_to_transform) or a module of a
    kind the method cannot adapt ("Target module ... not supported": a ValueError, from LoHa a
    TypeError). Any other error is not the recipe's and goes on as it is."""
    from peft.utils.error import NoMatchingPeftModuleError

    try:
        yield
    except NoMatchingPeftModuleError as exc:
        raise UserError(f"{key}: {_first(exc)}") from None
    except (ValueError, TypeError) as exc:
        kind = _unsupported_kind(str(exc))
        if kind is None:
            raise
        raise _unadaptable(key, getattr(settings, "target_modules", None), kind, model) from None


def _unadaptable(key: str, targets, kind: str, model) -> UserError:
    """The targets select a module that is no layer peft adapts (an attention block, say)."""
    from tunesmith.models.targets import names_of, weight_modules

    return UserError(
        f"{key}.target_modules: {targets!r} select a module that peft cannot adapt ({kind}); "
        f"name weight-matrix modules: {weight_modules(names_of(model))}"
    )


def _unsupported_kind(message: str) -> str | None:
    """The module class in peft's "Target module <repr> is not supported" (LoRA, IA3) or
    "Target module of type <class '...'> not supported" (LoHa); None for another message."""
    import re

    found = re.match(r"Target module (?:of type <class '(?:[\w.]*\.)?(\w+)'>|(\w+)\()", message)
    if found is None or "not supported" not in message:
        return None
    return found.group(1) or found.group(2)


def _name(model) -> str:
    return getattr(model, "name_or_path", "") or type(model).__name__


def _first(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0][:300] if lines else type(exc).__name__


def _peft_load(base_model, folder):
    from peft import PeftModel

    from tunesmith.models.safe_files import weights_matching_config

    with weights_matching_config(folder):
        return PeftModel.from_pretrained(base_model, str(folder))


def _merge(model):
    return model.merge_and_unload()


def _check_lora(settings, depth: int) -> None:
    beyond = [i for i in settings.layers_to_transform or [] if not 0 <= i < depth]
    if beyond:
        raise UserError(
            f"training.lora.layers_to_transform: block {beyond[0]} is beyond the model's "
            f"{depth} blocks (0-{depth - 1})"
        )


def _lora_config(settings, model):
    from peft import LoraConfig, TaskType

    return LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=settings.target_modules,
        use_dora=settings.use_dora,
        use_rslora=settings.use_rslora,
        layers_to_transform=settings.layers_to_transform,
        task_type=TaskType.CAUSAL_LM,
    )


def _describe_lora(s) -> str:
    variant = " + DoRA" * s.use_dora + " + rsLoRA" * s.use_rslora
    layers = f", blocks {s.layers_to_transform}" if s.layers_to_transform else ""
    return (
        f"lora{variant} (r {s.r}, alpha {s.alpha}, dropout {s.dropout}, "
        f"targets {s.target_modules}{layers})"
    )


def _ia3_config(settings, model):
    from peft import IA3Config, TaskType

    return IA3Config(
        target_modules=settings.target_modules,
        feedforward_modules=settings.feedforward_modules,
        task_type=TaskType.CAUSAL_LM,
    )


def _loha_config(settings, model):
    from peft import LoHaConfig, TaskType

    return LoHaConfig(
        r=settings.r,
        alpha=settings.alpha,
        rank_dropout=settings.rank_dropout,
        module_dropout=settings.module_dropout,
        target_modules=settings.target_modules,
        task_type=TaskType.CAUSAL_LM,
    )


# Weight layers LoHa lacks an adapter for while LoRA and IA3 have one (transformers' Conv1D)
ADAPTABLE_BY_LORA = ("Conv1D",)


def _check_loha(settings, model) -> None:
    """Refuse target layers peft's LoHa has no adapter for (GPT-2's transformers Conv1D:
    peft raised a TypeError once the model had loaded), before any weights load."""
    from peft.tuners.loha import LoHaModel

    from tunesmith.models.targets import adapted_modules

    supported = tuple(LoHaModel.layers_mapping)
    unsupported = [
        (name, type(module).__name__)
        for name, module in adapted_modules(model, settings.target_modules)
        if not isinstance(module, supported)
    ]
    # not a weight layer at all (an attention block): the targets' mistake, whatever the method
    blocks = [kind for _, kind in unsupported if kind not in ADAPTABLE_BY_LORA]
    if blocks:
        raise _unadaptable("training.loha", settings.target_modules, blocks[0], model)
    if unsupported:
        name, kind = unsupported[0]
        accepted = ", ".join(f"torch.nn.{layer.__name__}" for layer in supported)
        raise UserError(
            f"training.method: loha cannot adapt {kind} layers ({name} and "
            f"{len(unsupported) - 1} more of this model; peft's LoHa adapts {accepted} only); "
            "use method lora or ia3"
        )


def _prompt_tuning_config(settings, model):
    from peft import PromptTuningConfig, PromptTuningInit, TaskType

    text = settings.init_text
    return PromptTuningConfig(
        num_virtual_tokens=settings.num_virtual_tokens,
        prompt_tuning_init=PromptTuningInit.TEXT if text else PromptTuningInit.RANDOM,
        prompt_tuning_init_text=text,
        tokenizer_name_or_path=model.config._name_or_path if text else None,
        task_type=TaskType.CAUSAL_LM,
    )


def _register(name, make_config, describe, mergeable=True, fast_path=False, **checks):
    METHODS.register(
        name,
        Method(
            name=name,
            build=_peft_build(make_config),
            load=_peft_load,
            describe=describe,
            merge=_merge if mergeable else unchanged,
            fast_path=fast_path,
            base_switch=True,
            **checks,
        ),
    )


_register("lora", _lora_config, _describe_lora, fast_path=True, check=_check_lora)
_register(
    "ia3",
    _ia3_config,
    lambda s: f"ia3 (targets {s.target_modules or 'peft default'})",
)
_register(
    "loha",
    _loha_config,
    lambda s: (
        f"loha (r {s.r}, alpha {s.alpha}, rank dropout {s.rank_dropout}, "
        f"targets {s.target_modules})"
    ),
    check_layers=_check_loha,
)
_register(
    "prompt_tuning",
    _prompt_tuning_config,
    lambda s: (
        f"prompt tuning ({s.num_virtual_tokens} virtual tokens, "
        f"init {'text' if s.init_text else 'random'})"
    ),
    mergeable=False,
)
