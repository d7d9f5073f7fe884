"""Load files from a run folder without ever running code from them.

A run folder may be shared or copied from someone else, so a planted pickle must be refused,
not executed: weights are safetensors only, and the optimizer/scheduler/RNG state goes through
`torch.load(weights_only=True)`, whose unpickler only builds tensors and plain containers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

from tunesmith.errors import UserError, one_line, suggest

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")


def load_tensors(path: Path) -> dict:
    """A safetensors file as {name: tensor}; anything else is refused with one line."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise UserError(f"{path}: not a valid safetensors file, refused ({_first(exc)})") from None


def load_state(path: Path) -> dict:
    """Optimizer/scheduler/RNG state saved with torch.save, loaded with weights_only=True."""
    import pickle

    import torch

    try:
        state = torch.load(path, weights_only=True, map_location="cpu")
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as exc:
        raise UserError(
            f"{path}: refused to load (not plain tensors and containers; a planted or corrupt "
            f"file?): {_first(exc)}"
        ) from None
    if not isinstance(state, dict):
        raise UserError(f"{path}: refused to load (expected a mapping, got {type(state).__name__})")
    return state


def require_safetensors(folder: Path) -> None:
    """Refuse a model/adapter folder whose weights exist only as pickles (.bin, .pt, ...)."""
    if any(folder.glob("*.safetensors")):
        return
    pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
    found = f" (found {', '.join(pickles)})" if pickles else ""
    raise UserError(
        f"{folder}: no .safetensors weights{found}; tunesmith loads only safetensors from a run "
        "folder, never pickles"
    )


def require_readable(folder: Path) -> None:
    """Every JSON file of a saved model or adapter folder parses and every safetensors header
    does (no tensor is read): peft and transformers fail on a damaged one deep inside, naming
    no file."""
    from tunesmith.artifacts.files import read_json, read_json_object

    for file in sorted(folder.glob("*.json")):
        if file.name == ADAPTER_CONFIG:  # its shape: check_adapter_config, naming the adapter
            read_json(file)
        else:  # every one an object: `[]` was an AttributeError in the loader
            read_json_object(file)
    for file in sorted(folder.glob("*.safetensors")):
        check_safetensors_header(file)
    if (folder / ADAPTER_CONFIG).is_file():
        check_adapter_config(folder)
    elif (folder / ADAPTER_WEIGHTS).is_file():  # peft's ValueError "Can't find ..." (exit 1)
        _bad_config(folder, f"{ADAPTER_CONFIG} is missing beside {ADAPTER_WEIGHTS}")


ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"  # what peft's save_pretrained writes beside it
RESTORE = "restore the folder or re-run the stage that wrote it"


def check_adapter_config(folder: Path) -> None:
    """The adapter config (valid JSON already) is one peft builds: an object whose peft_type
    this peft knows, with settings its config class accepts. Else peft fails on load with a
    KeyError or TypeError naming neither the folder nor the file."""
    from peft import PeftConfig
    from peft.mapping import PEFT_TYPE_TO_CONFIG_MAPPING

    from tunesmith.artifacts.files import read_json

    file = folder / ADAPTER_CONFIG
    config = read_json(file)
    if not isinstance(config, dict):
        _bad_config(folder, f"{ADAPTER_CONFIG} is a JSON {type(config).__name__}, not an object")
    peft_type = config.get("peft_type")
    if peft_type is None:
        _bad_config(folder, f"{ADAPTER_CONFIG} has no peft_type")
    if not isinstance(peft_type, str) or peft_type not in PEFT_TYPE_TO_CONFIG_MAPPING:
        known = [str(t.value) for t in PEFT_TYPE_TO_CONFIG_MAPPING]
        hint = suggest(peft_type, known) if isinstance(peft_type, str) else ""
        _bad_config(
            folder,
            f"{ADAPTER_CONFIG} has peft_type {peft_type!r}, not one the installed peft knows{hint}",
        )
    try:
        PeftConfig.from_pretrained(str(folder))  # peft's own checks of the settings
    except (TypeError, ValueError) as exc:
        _bad_config(folder, f"peft refuses {ADAPTER_CONFIG} ({_first(exc)})")


@contextmanager
def weights_matching_config(folder: Path) -> Iterator[None]:
    """Around a peft load of `folder`: saved weights of other shapes than its config makes
    (an edited rank, a config from another adapter) are one line, not torch's size-mismatch
    listing of every module."""
    try:
        yield
    except RuntimeError as exc:
        if "size mismatch" not in str(exc):
            raise
        _bad_config(
            folder, f"{ADAPTER_CONFIG} does not match the saved weights ({_first_mismatch(exc)})"
        )


def check_adapter_weights(folder: Path, model_config) -> None:
    """The saved adapter weights have the shapes its config makes on a model of
    `model_config` (the transformers config of the model it applies to), found without loading
    that model: peft builds the adapter on a skeleton on the meta device (no weights allocated
    or read, about a second whatever the model's size) and reads the adapter's own small
    weights into it. Lets a command refuse a damaged adapter before minutes of other work
    rather than when it finally loads the adapter."""
    import warnings

    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        skeleton = AutoModelForCausalLM.from_config(model_config)
    with warnings.catch_warnings(), weights_matching_config(folder):
        # torch warns per tensor that copying into a meta parameter is a no-op: it is, here
        warnings.simplefilter("ignore", UserWarning)
        PeftModel.from_pretrained(skeleton, str(folder))


def _bad_config(folder: Path, problem: str) -> NoReturn:
    raise UserError(f"{folder}: damaged adapter, {problem}; {RESTORE}")


def _first_mismatch(exc: RuntimeError) -> str:
    """torch's first 'size mismatch for <param>: copying ... shape A ..., ... shape B.' as
    '<param>: saved A, the config makes B'."""
    import re

    found = re.search(
        r"size mismatch for (\S+): copying a param with shape (.+?) from checkpoint, "
        r"the shape in current model is (.+?)\.?$",
        str(exc),
        re.MULTILINE,
    )
    if found is None:
        return _first(exc)
    name, saved, made = found.groups()
    return f"{name}: saved {_dims(saved)}, the config makes {_dims(made)}"


def _dims(shape: str) -> str:
    return shape.removeprefix("torch.Size(").removesuffix(")")


def check_safetensors_header(file: Path, key: str = "") -> None:
    """The header and tensor table parse (only they are read); else one line naming the file
    (after the recipe `key` it came from, when there is one)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(file), framework="numpy") as handle:
            handle.keys()
    except (SafetensorError, OSError, ValueError) as exc:
        problem = "not a readable safetensors file" if key else "damaged run file"
        where = f"{key}: {file} is" if key else f"{file}:"
        raise UserError(f"{where} {problem}, not valid safetensors ({_first(exc)})") from None


def _first(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0][:200] if lines else type(exc).__name__


def load_saved_tokenizer(folder: Path):
    """The tokenizer a run saved (with its adapter or model), its files checked first: a
    damaged one was transformers' JSONDecodeError / UnicodeDecodeError / AttributeError
    traceback, a lost tokenizer.json its 'You need to have sentencepiece ...' ValueError."""
    from transformers import AutoTokenizer

    require_readable(folder)
    try:
        return AutoTokenizer.from_pretrained(str(folder))
    except (ValueError, OSError) as exc:
        problem = f"the saved tokenizer does not load ({one_line(exc, named=False)})"
        raise UserError(f"{folder}: {problem}; {RESTORE}") from None
