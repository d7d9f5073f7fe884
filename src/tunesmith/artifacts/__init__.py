"""The run folder: the contract between stages. A leaf (no torch)."""

from tunesmith.artifacts.files import (
    atomic_write_text,
    fingerprint,
    folder_swap,
    read_jsonl,
    write_json,
    write_jsonl,
)
from tunesmith.artifacts.run_dir import RunDir

__all__ = [
    "RunDir",
    "atomic_write_text",
    "fingerprint",
    "folder_swap",
    "read_jsonl",
    "write_json",
    "write_jsonl",
]
