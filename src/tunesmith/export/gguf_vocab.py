"""A GGUF file's tokenizer: the byte-level BPE vocabulary, merges and special ids, and the
`tokenizer.ggml.pre` name llama.cpp splits text with.

llama.cpp does not run tokenizer.json: it knows a fixed set of pre-tokenizer names
(src/llama-vocab.cpp), each with its own split regex and BPE flags. A name is written only
when the run's tokenizer.json splits text exactly as llama.cpp does for it; anything else is
refused, since a fallback name makes llama.cpp give other token ids than training did
(current versions silently use their `default` split, older ones refuse the file).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tunesmith.errors import UserError

# The Split regexes of tokenizer.json that llama.cpp's llama-vocab.cpp reproduces, as its
# comments ("original regex from tokenizer.json") give them: LLAMA_VOCAB_PRE_TYPE_LLAMA3
# splits digits in runs of up to three, LLAMA_VOCAB_PRE_TYPE_QWEN2 one digit at a time.
LLAMA3_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

_BYTE_LEVEL = ("ByteLevel", "use_regex", "no_prefix_space")  # GPT-2's regex, then bytes
_BYTES_ONLY = ("ByteLevel", "no_regex", "no_prefix_space")  # bytes of what Split made


@dataclass(frozen=True)
class PreTokenizer:
    """One llama.cpp pre-tokenizer name and what a tokenizer.json must hold to match it."""

    name: str  # tokenizer.ggml.pre
    steps: tuple  # the pre_tokenizer structure (see _structure)
    ignore_merges: bool  # llama.cpp takes a word found whole in the vocabulary as one token
    normalizers: tuple = (None,)  # normalizer types accepted (None: no normalizer)


# "gpt-2": GPT-2's regex alone. "smollm": every digit split off first (\p{N}), then GPT-2's
# regex, which is tokenizers' Digits(individual_digits) + ByteLevel. "llama-bpe" (Llama 3) and
# "qwen2" (Qwen2 / Qwen2.5): a Split with their regex, then bytes; llama.cpp sets
# ignore_merges for llama-bpe only, as those tokenizer.json files do. Qwen2's tokenizer.json
# also NFC-normalises, which llama.cpp does not: llama.cpp's own converter names these
# tokenizers "qwen2" all the same, and text already in NFC (nearly all text) gives the same
# ids; docs/export.md says so.
PRE_TOKENIZERS = (
    PreTokenizer("gpt-2", (_BYTE_LEVEL,), ignore_merges=False),
    PreTokenizer("smollm", (("Digits", "individual"), _BYTE_LEVEL), ignore_merges=False),
    PreTokenizer(
        "llama-bpe", (("Split", LLAMA3_SPLIT, "isolated"), _BYTES_ONLY), ignore_merges=True
    ),
    PreTokenizer(
        "qwen2",
        (("Split", QWEN2_SPLIT, "isolated"), _BYTES_ONLY),
        ignore_merges=False,
        normalizers=(None, "NFC"),
    ),
)


def pre_tokenizer_name(tokenizer_dir: Path) -> str:
    """llama.cpp's tokenizer.ggml.pre name for the tokenizer in `tokenizer_dir`, or a
    UserError: a GGUF whose pre-tokenizer llama.cpp would not reproduce gives other token ids
    than training did."""
    path = Path(tokenizer_dir) / "tokenizer.json"
    if not path.is_file():
        raise UserError(
            f"export.formats: GGUF export needs a fast tokenizer (tokenizer.json) in "
            f"{tokenizer_dir}; use the merged or int8 format"
        )
    spec = json.loads(path.read_text(encoding="utf-8"))
    structure = _structure(spec)
    for pre in PRE_TOKENIZERS:
        if structure == pre.steps and _bpe_matches(spec, pre):
            return pre.name
    names = ", ".join(pre.name for pre in PRE_TOKENIZERS)
    raise UserError(
        f"export.formats: GGUF export knows the byte-level BPE pre-tokenizers {names}, not "
        f"this one ({_describe(structure)}): llama.cpp would split text differently from "
        f"training; use the merged or int8 format"
    )


def _bpe_matches(spec: dict, pre: PreTokenizer) -> bool:
    """A BPE model without byte fallback, with the name's ignore_merges and normalizer."""
    model = spec.get("model") or {}
    normalizer = (spec.get("normalizer") or {}).get("type")
    return (
        model.get("type") == "BPE"
        and not model.get("byte_fallback")
        and bool(model.get("ignore_merges")) == pre.ignore_merges
        and normalizer in pre.normalizers
    )


def _structure(spec: dict) -> tuple:
    pre = spec.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre]
    return tuple(_step(step) for step in steps if step)


def _step(step: dict) -> tuple:
    """A step's type with the settings that change the split (a regex exactly as written)."""
    kind = step.get("type", "?")
    if kind == "ByteLevel":
        regex = "use_regex" if step.get("use_regex", True) else "no_regex"
        prefix = "prefix_space" if step.get("add_prefix_space") else "no_prefix_space"
        return (kind, regex, prefix)
    if kind == "Digits":
        return (kind, "individual" if step.get("individual_digits") else "grouped")
    if kind == "Split" and not step.get("invert"):
        pattern = step.get("pattern") or {}
        return (kind, pattern.get("Regex"), str(step.get("behavior", "")).lower())
    return (kind,)  # a split this table does not know, whatever its settings


def _describe(structure: tuple) -> str:
    return " + ".join(step[0] for step in structure) or "no pre-tokenizer"


def write_tokenizer(writer, folder: Path, pre: str, vocab_size: int) -> None:
    """A byte-level BPE vocabulary (tokenizer.ggml.model gpt2, pre-tokenizer `pre`) of
    `vocab_size` entries (the embedding's rows), merges, special ids, template, and whether
    a BOS is added, as llama.cpp's convert_hf_to_gguf.py writes them."""
    import gguf

    from tunesmith.models.safe_files import load_saved_tokenizer

    tokenizer = load_saved_tokenizer(folder)
    by_id = {i: t for t, i in tokenizer.get_vocab().items()}
    if max(by_id) >= vocab_size:
        raise UserError(
            f"export.formats: the tokenizer has ids up to {max(by_id)}, beyond the model's "
            f"{vocab_size} embedding rows; GGUF export needs every id to have one"
        )
    added = {t.content: t.special for t in tokenizer.added_tokens_decoder.values()}
    tokens, types = [], []
    for i in range(vocab_size):
        token = by_id.get(i)
        if token is None:  # a padding row of the embedding: llama.cpp's placeholder
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
            continue
        tokens.append(token)
        kind = gguf.TokenType.NORMAL
        if token in added:
            kind = gguf.TokenType.CONTROL if added[token] else gguf.TokenType.USER_DEFINED
        types.append(kind)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    special = gguf.SpecialVocab(str(folder), load_merges=True, n_vocab=vocab_size)
    # llama.cpp's default for a missing flag depends on the name (llama-bpe: add a BOS), so
    # the flag always says what this tokenizer does: a BOS training never saw is one fewer
    # surprise for the model.
    special.add_special_token["bos"] = _adds_bos(tokenizer)
    special.add_to_gguf(writer, quiet=True)
    _write_turn_end(writer, tokenizer, special)


def _write_turn_end(writer, tokenizer, special) -> None:
    """The chat template's end of turn as llama.cpp's end-of-turn id, where it is not the EOS
    (Qwen2.5 base: EOS `<|endoftext|>`, turns end with `<|im_end|>`): the tuned model ends its
    answers with it, evaluation stops there (models/stopping.py), and llama.cpp stops at an
    EOT token too; with the EOS alone it would run on past the answer."""
    from tunesmith.models.stopping import turn_end_ids

    ends = [i for i in turn_end_ids(tokenizer) if i != tokenizer.eos_token_id]
    if ends and special.special_token_ids.get("eot") is None:
        writer.add_eot_token_id(ends[0])


def _adds_bos(tokenizer) -> bool:
    bos = tokenizer.bos_token_id
    return bos is not None and tokenizer("a").input_ids[:1] == [bos]
