"""Write a run's exports: the tuned model merged once, then each artefact from it.

export/exports.json records, per artefact, its path, size on disk, export seconds and
generation tokens/s, with the same figures for the tuned model (as evaluation runs it).
"""

from __future__ import annotations

import time
from pathlib import Path

from tunesmith.artifacts import write_json
from tunesmith.artifacts.files import read_optional_object

EXPORTS = "exports.json"


def export_run(recipe, run_dir, config, progress=print) -> dict:
    """Write every artefact `config` asks for; returns (and merges into) exports.json.

    The artefacts and exports.json are written beside export/ and moved in together once all
    are written (RunDir.staged): a failure or Ctrl-C midway leaves export/ as it was, earlier
    artefacts and their record included, and no empty export/ in a run that had none."""
    from tunesmith.artifacts.files import size_on_disk
    from tunesmith.export.formats import FORMATS, artefacts_of
    from tunesmith.methods.tuned import merged_tuned
    from tunesmith.models.speed import speed_prompt, tokens_per_second

    model, tokenizer, tokenizer_dir = merged_tuned(recipe, run_dir, "export")
    artefacts = artefacts_of(config)
    for name in dict.fromkeys(artefact.format for artefact in artefacts):
        # refused before any artefact is written: not after the merged folder, with no record
        FORMATS.get(name).check(model, tokenizer_dir)
    stop_at_turn_end(model, tokenizer)
    prompt = speed_prompt(recipe, run_dir, tokenizer)
    record = read_exports(run_dir.root / "export")
    record["tuned"] = {
        "tokens_per_second": tokens_per_second(model, tokenizer, prompt, config.speed_tokens),
        "parameters": sum(p.numel() for p in model.parameters()),
        "bytes_fp32": sum(p.numel() * 4 for p in model.parameters()),
    }
    with run_dir.staged("export") as place:
        for artefact in artefacts:
            fmt = FORMATS.get(artefact.format)
            written = place(artefact.relative)
            started = time.perf_counter()
            fmt.write(model, tokenizer_dir, written, artefact, recipe)
            seconds = time.perf_counter() - started
            loaded = fmt.load(written)
            record["artefacts"][artefact.name] = {
                "format": artefact.format,
                "kind": artefact.kind,
                "path": artefact.relative,
                "bytes": size_on_disk(written),
                "export_seconds": round(seconds, 2),
                "tokens_per_second": tokens_per_second(
                    loaded, tokenizer, prompt, config.speed_tokens
                ),
                "description": fmt.description,
                **missing_stops(model, loaded),
            }
            del loaded
            # in place only once every artefact is written: this line names no path yet
            progress(f"export {artefact.name}: {size_on_disk(written):,} bytes written")
        record["license"] = config.license
        write_json(place(EXPORTS), record)
    for artefact in artefacts:
        progress(f"export {artefact.name}: {artefact.path(run_dir.root / 'export')}")
    return record


def stop_at_turn_end(model, tokenizer) -> None:
    """The saved generation_config.json's eos_token_id lists every token evaluation stops at
    (models/stopping.py: the chat template's end of turn too), so plain `generate` on the
    export stops where the scored answers ended; unchanged when it already holds them all."""
    from tunesmith.models.stopping import end_of_sequence_ids

    config = model.generation_config
    configured = config.eos_token_id
    known = set(configured if isinstance(configured, list) else [configured])
    ends = end_of_sequence_ids(model, tokenizer)
    if not set(ends) <= known:
        config.eos_token_id = ends


def missing_stops(model, loaded) -> dict:
    """{"eos_token_id": every token evaluation stops at} when plain transformers loads the
    artefact stopping at fewer: a GGUF names the tokenizer's EOS, and transformers' GGUF
    loader reads no end of turn (llama.cpp reads the file's EOT id), so its generate() ran on
    past a Qwen2.5-base-like model's `<|im_end|>`, where the scored answers ended. The card
    passes them to generate()."""
    ends = _ids(model.generation_config.eos_token_id)
    if set(ends) <= set(_ids(loaded.generation_config.eos_token_id)):
        return {}
    return {"eos_token_id": ends}


def _ids(value) -> list[int]:
    return [] if value is None else list(value) if isinstance(value, list) else [value]


def read_exports(export_dir: Path) -> dict:
    path = Path(export_dir) / EXPORTS
    record = read_optional_object(path) or {}
    record.setdefault("artefacts", {})
    return record
