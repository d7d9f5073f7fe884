"""Export formats: one registered `ExportFormat` owns how its artefacts are named, written and
loaded back for evaluation. Nothing else branches on a format name.

Every artefact is written under a hidden staging name and renamed into place, so a failed
export leaves no partial file under the final name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tunesmith.registry import Registry


@dataclass(frozen=True)
class Artefact:
    name: str  # evaluation-row and exports.json key, e.g. gguf_q8_0
    format: str
    relative: str  # path under export/
    kind: str = ""  # the format's variant (a GGUF tensor type)

    def path(self, export_dir: Path) -> Path:
        return export_dir / self.relative

    def weights(self, export_dir: Path) -> list[Path]:
        """The files an evaluation of it reads (a model card beside them is not one)."""
        path = self.path(export_dir)
        if path.suffix:
            return [path]
        return [path / "config.json", path / "model.safetensors"]


@dataclass(frozen=True)
class ExportFormat:
    name: str
    artefacts: Callable  # (export config) -> list[Artefact]
    write: Callable  # (merged model, tokenizer folder, staging path, artefact, recipe) -> None
    load: Callable  # (path) -> a model to evaluate
    description: str
    # (merged model, tokenizer folder) -> None or UserError, before any artefact is written
    check: Callable = lambda model, tokenizer_dir: None
    # (artefact's path under export/) -> the model card's Python lines loading `tokenizer`
    # and `model` with plain transformers (AutoTokenizer, AutoModelForCausalLM imported)
    load_code: Callable = lambda relative: []


FORMATS: Registry[ExportFormat] = Registry("export format")


def artefacts_of(config) -> list[Artefact]:
    """Every artefact the export config asks for, in its formats' order."""
    return [a for name in config.formats for a in FORMATS.get(name).artefacts(config)]


def _folder(name: str):
    return lambda config: [Artefact(name, name, name)]


def _save_merged(model, tokenizer_dir: Path, staging: Path, artefact: Artefact, recipe) -> None:
    model.save_pretrained(staging)
    _copy_tokenizer(tokenizer_dir, staging)


def _copy_tokenizer(tokenizer_dir: Path, folder: Path) -> None:
    from tunesmith.models.safe_files import load_saved_tokenizer

    load_saved_tokenizer(tokenizer_dir).save_pretrained(str(folder))


def _load_folder(path: Path):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(path), use_safetensors=True).eval()


def _folder_code(needs: str = ""):
    """The card's loading lines for a folder artefact; `needs` a comment line before them."""

    def code(relative: str) -> list[str]:
        return [
            *([needs] if needs else []),
            f"path = {f'export/{relative}'!r}  # this folder, from the run folder (or its Hub id)",
            "tokenizer = AutoTokenizer.from_pretrained(path)",
            "model = AutoModelForCausalLM.from_pretrained(path)",
        ]

    return code


def _gguf_code(relative: str) -> list[str]:
    return [
        "# needs the gguf package; transformers dequantises the file and skips a rope_freqs",
        "# tensor (Llama 3.1+ rotary scaling); llama.cpp runs the file as trained",
        "path = 'export'  # the folder holding the file, from the run folder",
        f"tokenizer = AutoTokenizer.from_pretrained(path, gguf_file={relative!r})",
        f"model = AutoModelForCausalLM.from_pretrained(path, gguf_file={relative!r})",
    ]


def _gguf_files(config) -> list[Artefact]:
    return [Artefact(f"gguf_{t}", "gguf", f"model-{t}.gguf", t) for t in config.gguf_types]


def _write_gguf(model, tokenizer_dir: Path, staging: Path, artefact: Artefact, recipe) -> None:
    from tunesmith.export.gguf_file import write_gguf
    from tunesmith.models.naming import public_model_name

    names = (recipe.name, public_model_name(recipe.model.name))
    write_gguf(model, tokenizer_dir, staging, artefact.kind, names)


def _load_gguf(path: Path):
    from tunesmith.export.gguf_file import gguf_roundtrip

    return gguf_roundtrip(path)


def _check_gguf(model, tokenizer_dir: Path) -> None:
    from tunesmith.export.gguf_file import check_exportable

    check_exportable(model.config, tokenizer_dir)


def _check_int8(model, tokenizer_dir: Path) -> None:
    from tunesmith.export.quantize import check_int8

    check_int8(model)


def _save_int8(model, tokenizer_dir: Path, staging: Path, artefact: Artefact, recipe) -> None:
    """torchao int8 weight-only linears (per-channel scales), saved as safetensors."""
    import tempfile

    import torch
    from transformers import AutoModelForCausalLM, TorchAoConfig

    from tunesmith.export.quantize import int8_config

    # transformers quantises while loading, so the merged model passes through a plain folder.
    with tempfile.TemporaryDirectory(dir=staging.parent, prefix=".int8-src.") as plain:
        model.save_pretrained(plain)
        quantised = AutoModelForCausalLM.from_pretrained(
            plain, dtype=torch.float32, quantization_config=TorchAoConfig(int8_config())
        )
        quantised.save_pretrained(staging)
    _copy_tokenizer(tokenizer_dir, staging)


FORMATS.register(
    "merged",
    ExportFormat(
        "merged",
        _folder("merged"),
        _save_merged,
        _load_folder,
        "Hugging Face folder, adapter merged into the weights (plain transformers)",
        load_code=_folder_code(),
    ),
)
FORMATS.register(
    "gguf",
    ExportFormat(
        "gguf",
        _gguf_files,
        _write_gguf,
        _load_gguf,
        "GGUF file (llama.cpp, transformers)",
        check=_check_gguf,
        load_code=_gguf_code,
    ),
)
FORMATS.register(
    "int8",
    ExportFormat(
        "int8",
        _folder("int8"),
        _save_int8,
        _load_folder,
        "torchao int8 weight-only linears (CPU inference; needs the export extra)",
        check=_check_int8,
        load_code=_folder_code("# needs torchao (pip install torchao): int8 linears"),
    ),
)
