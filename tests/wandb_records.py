"""Read a W&B offline run file (run-<id>.wandb) back into protobuf records, for tests.

wandb >= 0.2x writes it from its Go core and ships no Python reader; the format is LevelDB's
log format (32 KiB blocks of [crc32:4][length:2][type:1][payload]) after a 7-byte header.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

BLOCK = 32768
HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def payloads(path: Path):
    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", "not a W&B run file"
    pos, pending = HEADER, b""
    while pos + 7 <= len(data):
        if BLOCK - pos % BLOCK < 7:  # block trailer: zero padding
            pos += BLOCK - pos % BLOCK
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind == FULL:
            yield chunk
        elif kind == FIRST:
            pending = chunk
        elif kind == MIDDLE:
            pending += chunk
        elif kind == LAST:
            yield pending + chunk
        else:  # zero padding at the end of a file being written
            break


def _key(item) -> str:
    return item.key or "/".join(item.nested_key)


def history_and_summary(path: Path) -> tuple[list[dict], dict]:
    """The logged history rows and the final summary of one offline run."""
    from wandb.proto import wandb_internal_pb2

    rows, summary = [], {}
    for payload in payloads(path):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(payload)
        kind = record.WhichOneof("record_type")
        if kind == "history":
            rows.append({_key(i): json.loads(i.value_json) for i in record.history.item})
        elif kind == "summary":
            summary.update({_key(i): json.loads(i.value_json) for i in record.summary.update})
    return rows, summary
