"""Write a run's exports: the tuned model merged once, then each artefact from it.

export/exports.json records, per artefact, its path, size on disk, export seconds and
generation tokens/s, with the same figures for the tuned model (as evaluation runs it).
"""

from __future__ import annotations

import time
from pathlib import Path

from tunesmith.artifacts import write_json
from tunesmith.artifacts.files import read_json

EXPORTS = "exports.json"


def export_run(recipe, run_dir, config, progress=print) -> dict:
    """Write every artefact `config` asks for; returns (and merges into) exports.json."""
    from tunesmith.artifacts.files import size_on_disk, write_atomically
    from tunesmith.export.formats import FORMATS, artefacts_of
    from tunesmith.methods.tuned import merged_tuned
    from tunesmith.models.speed import speed_prompt, tokens_per_second

    out = run_dir.stage("export")
    model, tokenizer, tokenizer_dir = merged_tuned(recipe, run_dir, "export")
    artefacts = artefacts_of(config)
    for name in dict.fromkeys(artefact.format for artefact in artefacts):
        # refused before any artefact is written: not after the merged folder, with no record
        FORMATS.get(name).check(model, tokenizer_dir)
    prompt = speed_prompt(recipe, run_dir, tokenizer)
    record = read_exports(out)
    record["tuned"] = {
        "tokens_per_second": tokens_per_second(model, tokenizer, prompt, config.speed_tokens),
        "parameters": sum(p.numel() for p in model.parameters()),
        "bytes_fp32": sum(p.numel() * 4 for p in model.parameters()),
    }
    for artefact in artefacts:
        fmt = FORMATS.get(artefact.format)
        target = artefact.path(out)
        started = time.perf_counter()
        write_atomically(
            target, lambda s, a=artefact, f=fmt: f.write(model, tokenizer_dir, s, a, recipe)
        )
        seconds = time.perf_counter() - started
        loaded = fmt.load(target)
        record["artefacts"][artefact.name] = {
            "format": artefact.format,
            "kind": artefact.kind,
            "path": artefact.relative,
            "bytes": size_on_disk(target),
            "export_seconds": round(seconds, 2),
            "tokens_per_second": tokens_per_second(loaded, tokenizer, prompt, config.speed_tokens),
            "description": fmt.description,
        }
        del loaded
        progress(f"export {artefact.name}: {target} ({size_on_disk(target):,} bytes)")
    record["license"] = config.license
    write_json(out / EXPORTS, record)
    return record


def read_exports(export_dir: Path) -> dict:
    path = Path(export_dir) / EXPORTS
    record = read_json(path) if path.is_file() else {}
    record.setdefault("artefacts", {})
    return record
