"""Export cost and speed on the default model: per artefact (merged, GGUF f16/q8_0, int8)
the export time, size on disk and greedy generation tokens/s of the exported model as
loaded back, against the in-memory fp32 model, one JSON line each.

    flock /work/notes/bench.lock .venv/bin/python bench/export.py [--new-tokens 32]

The "tuned" model here is the base model (a LoRA merge changes values, not shapes or cost).
GGUF files are timed as transformers' GGUF loader gives them (dequantised), not llama.cpp.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--model", default=None, help="local folder (default: the alias)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from tunesmith.artifacts.files import size_on_disk, write_atomically
    from tunesmith.config.export import ExportConfig
    from tunesmith.config.schema import ModelConfig
    from tunesmith.export.formats import FORMATS, artefacts_of
    from tunesmith.models import load_model_and_tokenizer, set_threads
    from tunesmith.models.resolve import resolve_model
    from tunesmith.models.speed import tokens_per_second

    set_threads(None)
    folder = Path(args.model or resolve_model("smollm2-135m-instruct"))
    model, tokenizer = load_model_and_tokenizer(ModelConfig(name=str(folder)), device="cpu")
    model = model.to(torch.float32).eval()
    prompt = tokenizer("Write a one-line synopsis for this software package: a text editor.")
    prompt = prompt.input_ids
    fp32 = sum(p.numel() * 4 for p in model.parameters())
    speed = tokens_per_second(model, tokenizer, prompt, args.new_tokens)
    _emit({"name": "tuned_in_memory", "bytes": fp32, "tokens_per_second": speed})
    config = ExportConfig(formats=["merged", "gguf", "int8"], gguf_types=["f16", "q8_0"])
    # writers read only the run name and model name of a recipe (the GGUF's names)
    recipe = SimpleNamespace(name="export-bench", model=ModelConfig(name=str(folder)))
    with tempfile.TemporaryDirectory(prefix="tunesmith-export-bench.") as tmp:
        for artefact in artefacts_of(config):
            fmt, target = FORMATS.get(artefact.format), artefact.path(Path(tmp))
            started = time.perf_counter()
            write_atomically(
                target, lambda s, a=artefact, f=fmt: f.write(model, folder, s, a, recipe)
            )
            seconds = time.perf_counter() - started
            loaded = fmt.load(target)
            rate = tokens_per_second(loaded, tokenizer, prompt, args.new_tokens)
            _emit(
                {
                    "name": artefact.name,
                    "export_seconds": round(seconds, 2),
                    "bytes": size_on_disk(target),
                    "size_vs_fp32": round(size_on_disk(target) / fp32, 3),
                    "tokens_per_second": rate,
                    "speed_vs_fp32": round(rate / speed, 2),
                }
            )
            del loaded


def _emit(record: dict) -> None:
    print(json.dumps({"bench": "export", **record}), flush=True)


if __name__ == "__main__":
    main()
