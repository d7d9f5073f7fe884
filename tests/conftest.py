"""Shared fixtures: a tiny random Llama model and tokenizer built from a config (no download)."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


@pytest.fixture(autouse=True)
def _own_outputs_store(tmp_path_factory, monkeypatch):
    """Each test its own machine-wide outputs store (evaluate/output_store.py): no test takes
    outputs another test generated, and none writes under the user's cache."""
    monkeypatch.setenv("TUNESMITH_OUTPUTS", str(tmp_path_factory.mktemp("outputs")))


def make_records(n: int = 60) -> list[dict]:
    """Synthetic description -> synopsis records with a learnable pattern."""
    tools = ["editor", "compiler", "player", "viewer", "server", "library", "shell", "parser"]
    langs = ["python", "rust", "audio", "image", "network", "text", "game", "math"]
    rows = []
    for i in range(n):
        tool, lang = tools[i % len(tools)], langs[(i // len(tools)) % len(langs)]
        rows.append(
            {
                "package": f"pkg{i}",
                "section": "devel" if i % 3 else "utils",
                "description": f"This package {i} provides a {lang} {tool} for users. "
                f"It is small, fast and reliable {lang} software number {i}.",
                "synopsis": f"{lang} {tool}",
            }
        )
    return rows


def save_chatml_tokenizer(folder: Path, tok, extra_text: list[str]):
    """Train `tok` (an untrained byte-level BPE `tokenizers.Tokenizer`) to 400 ids on the
    synthetic records and `extra_text`, and save it in `folder` as a fast tokenizer with the
    ChatML specials and template, pad == eos (like SmolLM2); returns that tokenizer."""
    from tokenizers import pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = [r["description"] + " " + r["synopsis"] for r in make_records(200)] + extra_text
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(corpus, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|im_end|>",
        unk_token="<|endoftext|>",
    )
    tokenizer.chat_template = CHATML
    tokenizer.save_pretrained(folder)
    return tokenizer


def tiny_decoder_config(tokenizer, extra_rows: int = 0) -> dict:
    """The tiny decoder's sizes and special ids for `tokenizer`, as LlamaConfig / Qwen2Config
    keywords; `extra_rows` embedding rows beyond the tokenizer's ids."""
    return {
        "vocab_size": len(tokenizer) + extra_rows,
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 512,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A saved tiny Llama + ChatML BPE tokenizer (pad == eos, like SmolLM2)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("tiny-llama")
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    prompt = "Write a one-line synopsis for this software package description."
    tokenizer = save_chatml_tokenizer(folder, tok, [prompt, "hello"])
    torch.manual_seed(0)
    config = LlamaConfig(
        **tiny_decoder_config(tokenizer),
        tie_word_embeddings=True,
        initializer_range=0.2,  # logits need range for a 32-wide model to learn in a few steps
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def write_jsonl(path: Path, rows: list[dict], gz: bool = False) -> Path:
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def write_recipe(
    folder: Path,
    model_dir: Path,
    rows: list[dict],
    split: dict,
    /,
    data_name: str = "data.jsonl",
    **overrides,
) -> Path:
    """Write `rows` to folder/`data_name` (gzipped if it ends .gz) and a summarization recipe on
    them (the model in `model_dir`, fp32, description -> synopsis, `split`) to folder/recipe.yaml;
    returns its path. `section=value` replaces a whole section, `**{"section.field": value}` sets
    one field, in the order given. A plain function, so module-scoped fixtures use it too."""
    import yaml

    data = write_jsonl(folder / data_name, rows, gz=data_name.endswith(".gz"))
    recipe = {
        "task": "summarization",
        "model": {"name": str(model_dir), "precision": "fp32"},
        "data": {
            "train": str(data),
            "input_field": "description",
            "output_field": "synopsis",
            "split": split,
        },
    }
    for key, value in overrides.items():
        section, _, field = key.partition(".")
        # a new section dict: the caller's (a shared constant) is never changed
        recipe[section] = {**recipe.get(section, {}), field: value} if field else value
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


TINY_SETTINGS = {
    "name": "tiny",
    "data.prompt_template": "Summarise:\n{description}",
    "training": {
        "epochs": 1,
        "batch_size": 4,
        "learning_rate": 5e-3,
        "max_seq_length": 96,
        "eval_every": 3,
        "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
    },
    "evaluation": {"generation": {"max_new_tokens": 8, "batch_size": 8}},
}


@pytest.fixture
def tiny_recipe(tmp_path, tiny_model_dir):
    """A function writing a small summarization recipe on 60 synthetic records in tmp_path,
    TINY_SETTINGS changed by its keyword arguments (as write_recipe's); it returns the path."""

    def make(**overrides) -> Path:
        split = {"validation": 8, "test": 10, "seed": 0}
        # a default the caller also gives is overwritten anyway: the caller's keys after the
        # rest, in the caller's order
        kept = {key: value for key, value in TINY_SETTINGS.items() if key not in overrides}
        return write_recipe(tmp_path, tiny_model_dir, make_records(60), split, **kept, **overrides)

    return make
