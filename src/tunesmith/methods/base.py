"""The training-method contract: one registered `Method` owns everything about its method.

Its settings model lives in `config/methods.py` (the recipe stays torch-free); here it is
bound to how the method is built, saved, loaded and merged, whether the fused CPU LoRA path
applies, and how the report describes it. Nothing else in tunesmith branches on a method name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tunesmith.errors import UserError
from tunesmith.registry import Registry


def unchanged(model):
    """The merge of a method that has nothing to merge."""
    return model


@dataclass(frozen=True)
class Method:
    name: str
    build: Callable  # (model, training) -> the model to train (weights to train unfrozen)
    load: Callable  # (base model, saved folder) -> the tuned model, as plain peft/transformers
    describe: Callable  # (settings or None) -> one line for the report
    artefact: str = "adapter"  # folder under train/: adapter (PEFT format) or model
    save: Callable = None  # (model, folder) -> None, atomic; default: save_pretrained
    check: Callable = None  # (settings, model depth) -> None or UserError; before any weights
    # (settings, the model or its meta-device skeleton) -> None or UserError; None: any layers
    check_layers: Callable | None = None
    merge: Callable = unchanged  # tuned -> the fastest model to generate with
    fast_path: bool = False  # the fused CPU LoRA layer of train/fastpath.py applies
    trains_base_weights: bool = False  # base weights train: keep fp32 masters (not bf16)
    base_switch: bool = False  # `model.disable_adapter()` gives the base model (KL-to-base)

    def __post_init__(self):
        if self.save is None:
            object.__setattr__(self, "save", save_pretrained)
        if self.check is None:
            object.__setattr__(self, "check", lambda settings, depth: None)


METHODS: Registry[Method] = Registry("training method")


def method_of(training) -> Method:
    return METHODS.get(training.method)


def check_kl_to_base(config, method: Method) -> None:
    """KL to the base takes the base distribution from the same model with its adapter switched
    off: a method that trains the weights themselves (full, freeze) has none to switch off.
    `config`: the training or pretrain section."""
    if config.regularization.kl_to_base and not method.base_switch:
        raise UserError(
            f"{config.recipe_section}.regularization.kl_to_base: method '{method.name}' has no "
            "adapter to switch off for the base distribution; use an adapter method (lora, ...)"
        )


def build_trainable(model, training):
    """Wrap or unfreeze `model` as the configured method says; trainable weights in fp32."""
    import torch

    method = method_of(training)
    method.check(training.settings(), model_depth(model))
    if method.check_layers is not None:
        method.check_layers(training.settings(), model)
    model = method.build(model, training)
    for parameter in model.parameters():
        if parameter.requires_grad and parameter.dtype != torch.float32:
            parameter.data = parameter.data.float()
    return model


def load_tuned(training, train_dir: Path, base_model):
    """The tuned model evaluation scores: saved artefact loaded onto `base_model`, merged
    when the method can merge (plain weights generate fastest)."""
    from tunesmith.errors import UserError
    from tunesmith.models.base import check_saved

    method = method_of(training)
    folder = Path(train_dir) / method.artefact
    if not folder.is_dir():
        raise UserError(f"{folder}: no trained {method.name} result; run the train stage first")
    check_saved(folder)
    return method.merge(method.load(base_model, folder)).eval()


def describe(training) -> str:
    """The report's one-line description of the configured method."""
    return method_of(training).describe(training.settings())


def save_pretrained(model, folder: Path) -> None:
    """`model.save_pretrained` to a temporary folder renamed into place (never half a save)."""
    from tunesmith.artifacts.files import folder_swap

    with folder_swap(folder) as staging:
        model.save_pretrained(staging)
        finish_adapter_folder(model, staging)


def finish_adapter_folder(model, folder: Path) -> None:
    """What every adapter folder peft saved gets before it is swapped into place: the same
    adapter_config.json for the same weights, and a README.md whose Hub card names the base
    by its Hub id or not at all, never by the local folder peft read it from
    (adapter_names.py)."""
    from tunesmith.methods.adapter_names import base_names, portable_readme

    public, hub_id = base_names(model)
    _canonical_adapter_config(folder / "adapter_config.json")
    if public is not None:
        portable_readme(folder / "README.md", hub_id)


SET_VALUED = ("target_modules", "exclude_modules")  # peft keeps these as sets


def _canonical_adapter_config(path: Path) -> None:
    """Sort the config's set-valued lists: peft writes a set in string-hash order, which
    differs between processes, so the same weights made a different adapter folder each run
    (and the same tuned model looked like another to every content hash downstream)."""
    import json

    if not path.is_file():
        return
    config = json.loads(path.read_text(encoding="utf-8"))
    for key in SET_VALUED:
        value = config.get(key)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            config[key] = sorted(value)
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def model_depth(model) -> int:
    """Number of transformer blocks of a (possibly peft-wrapped) causal LM."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return int(inner.config.num_hidden_layers)


def folder_depth(folder: Path) -> int | None:
    """Number of transformer blocks of the model saved in `folder`, from its config alone (no
    weights read), or None when transformers cannot read that config here. AutoConfig maps
    each architecture's own key (GPT-2's n_layer) to num_hidden_layers."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(str(folder)).get_text_config()
    except Exception:  # transformers raises many types for an architecture it lacks
        return None
    depth = getattr(config, "num_hidden_layers", None)
    return int(depth) if depth else None


def decoder_blocks(model):
    """(the decoder's list of blocks, its final norm or None) of a causal LM, or None when no
    list of the model's depth is found. Found by shape, not by name: Llama-likes call them
    `layers` and `norm`, GPT-2 `h` and `ln_f`."""
    import torch

    depth = model_depth(model)
    blocks, final_norm = None, None
    for child in model.get_decoder().children():
        if isinstance(child, torch.nn.ModuleList) and len(child) == depth and blocks is None:
            blocks = child
        elif blocks is not None and "norm" in type(child).__name__.lower():
            final_norm = child  # a norm after the blocks (one before them norms embeddings)
    return None if blocks is None else (blocks, final_norm)
