"""Replay data against forgetting: a general instruction sample mixed into the batches.

The default is shipped with the package: WordNet definitions (as "define" instructions) and
chit-chat conversations, from src/tunesmith/examples/ (provenance: docs/strategies.md).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from tunesmith.errors import UserError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DEFAULT_ROWS = 400  # of each shipped file: plenty for a share of each batch


def replay_examples(replay, key: str = "training.replay") -> list[dict]:
    """Normalized {prompt, response} / {messages} rows of the replay data; `key` names the
    recipe block in messages (training.replay or pretrain.replay)."""
    if replay.file is None:
        return default_sample()
    path = Path(replay.file)
    if not path.is_file():
        raise UserError(f"{key}.file: {path} does not exist")
    rows = _read(path, key)
    usable = [r for r in rows if "messages" in r or ("prompt" in r and "response" in r)]
    if not usable:
        raise UserError(f"{key}.file: {path} has no {{prompt, response}} or {{messages}} rows")
    return usable


def default_sample(skip: int = 0, count: int = DEFAULT_ROWS) -> list[dict]:
    """The shipped general sample; `skip` leaves rows out (held-out general text)."""
    words = _read(EXAMPLES / "wordnet_definitions.jsonl.gz")[skip : skip + count]
    chats = _read(EXAMPLES / "chitchat.jsonl.gz")[skip : skip + count]
    rows = [
        {
            "prompt": f"Define the {w['pos']} '{w['words'][0]}'.",
            "response": w["definition"],
        }
        for w in words
    ]
    rows += [{"messages": c["messages"]} for c in chats]
    return rows


def _read(path: Path, key: str = "training.replay") -> list[dict]:
    from tunesmith.data.io import read_data_bytes

    try:
        raw = read_data_bytes(path, f"{key}.file: ")  # a gzip bomb is refused, not unpacked
        # newline=None: lines end as text-mode open() ends them (\n, \r\n, \r)
        lines = io.StringIO(raw.decode("utf-8"), newline=None)
        return [json.loads(line) for line in lines if line.strip()]
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{key}.file: {path}: not JSON lines ({exc})") from None
