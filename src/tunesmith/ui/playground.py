"""Playground: the tuned and the base model answer a typed prompt, streamed token by token.
Models load lazily, once per (run, system), through tunesmith.models."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tunesmith.errors import UserError

SYSTEMS = ("base", "tuned")
MAX_NEW_TOKENS = 256
STREAM_TIMEOUT = 300.0  # seconds without a new token before the stream gives up
_MODELS: dict[tuple[str, str], tuple] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Note:
    """Not the model's text: what the page shows before the answer (a cut prompt)."""

    text: str


def load(run_root: Path, system: str):
    """(model, tokenizer, recipe) for the run's base model or its tuned adapter / model."""
    if system not in SYSTEMS:
        raise UserError(f"system: {system!r} is not one of {', '.join(SYSTEMS)}")
    key = (str(run_root), system)
    with _LOCK:  # one load per model even when both panes ask at once
        if key not in _MODELS:
            _MODELS[key] = _load(run_root, system)
    return _MODELS[key]


def _load(run_root: Path, system: str):
    from tunesmith.config import load_recipe
    from tunesmith.methods import load_tuned
    from tunesmith.models import load_model_and_tokenizer
    from tunesmith.ui.runs import run_file, run_folder

    recipe = load_recipe(run_file(run_root, "recipe.yaml"))
    train = run_folder(run_root, "train") if system == "tuned" else None  # before the load
    model, tokenizer = load_model_and_tokenizer(recipe.model)
    if train is None:
        return model, tokenizer, recipe
    # the evaluate stage's loader: every method, safetensors only, damaged files one line
    return load_tuned(recipe.training, train, model), tokenizer, recipe


def stream(run_root: Path, system: str, prompt: str, max_new_tokens: int) -> Iterator[str | Note]:
    """Text pieces as the model produces them (greedy, formatted like evaluation prompts),
    after a `Note` when the prompt was cut to max_seq_length as evaluation cuts it."""
    import torch
    from transformers import TextIteratorStreamer

    from tunesmith.models.formatting import fit_prompt
    from tunesmith.models.stopping import end_of_sequence_ids
    from tunesmith.models.truncation import prompt_cut_note

    model, tokenizer, recipe = load(run_root, system)
    limit = max(1, min(int(max_new_tokens), MAX_NEW_TOKENS))
    example = {"prompt": prompt}
    if recipe.data.system_prompt:
        example["system"] = recipe.data.system_prompt
    max_length = recipe.training.max_seq_length
    ids, cut = fit_prompt(example, tokenizer, max_length, room=limit)
    if cut:
        yield Note(prompt_cut_note(max_length))
    streamer = TextIteratorStreamer(
        tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=STREAM_TIMEOUT
    )
    inputs = torch.tensor([ids], device=model.device)
    ends = end_of_sequence_ids(model, tokenizer)  # as evaluation: the template's turn end too

    def generate() -> None:
        try:
            with torch.inference_mode():
                model.generate(
                    input_ids=inputs,
                    attention_mask=torch.ones_like(inputs),
                    do_sample=False,
                    temperature=None,
                    top_p=None,
                    top_k=None,
                    max_new_tokens=limit,
                    eos_token_id=ends,
                    pad_token_id=tokenizer.pad_token_id,
                    streamer=streamer,
                )
        except Exception:
            streamer.end()  # the reader must not wait for tokens that will never come
            raise

    # Not a daemon: at shutdown Python waits for it instead of killing it inside torch.
    worker = threading.Thread(target=generate)
    worker.start()
    yield from (piece for piece in streamer if piece)
    worker.join()
