"""Write a Llama-family model as one GGUF file with the `gguf` package (gguf-py).

A thin wrapper over gguf-py's writer, name map and quantisers, following llama.cpp's
convert_hf_to_gguf.py for this architecture: q/k projections are permuted to GGML's rotary
layout (transformers' GGUF loader reverses it), 1-D tensors stay f32, a tied output head is
not written. gguf-py can quantise f16, q8_0 and q4_0 but no K-quant, so those are the types.
"""

from __future__ import annotations

from pathlib import Path

from tunesmith.errors import UserError

# (ggml tensor type, llama.cpp file type) per recipe name
TYPES = {
    "f16": ("F16", "MOSTLY_F16"),
    "q8_0": ("Q8_0", "MOSTLY_Q8_0"),
    "q4_0": ("Q4_0", "MOSTLY_Q4_0"),
}
ARCHITECTURES = {"llama": "LLAMA"}  # model_type -> gguf MODEL_ARCH member

# tokenizer.json pre-tokenizer structure -> the tokenizer.ggml.pre name llama.cpp's vocabulary
# loader (src/llama-vocab.cpp) maps to the same split. A structure is the steps' types, with
# the settings that change the split. "gpt-2": GPT-2's regex alone (byte-level, no prefix
# space). "smollm": every digit split off first (\p{N}), then GPT-2's regex, which is what
# tokenizers' Digits(individual_digits) + ByteLevel does. Any other name, or none, makes
# llama.cpp split differently from training (or refuse the file), so it is never guessed.
_BYTE_LEVEL = ("ByteLevel", "use_regex", "no_prefix_space")
PRE_TOKENIZERS = {
    (_BYTE_LEVEL,): "gpt-2",
    (("Digits", "individual"), _BYTE_LEVEL): "smollm",
}


def write_gguf(model, tokenizer_dir: Path, path: Path, kind: str, names: tuple[str, str]) -> None:
    """`model` (plain transformers, merged) and its tokenizer as a GGUF file at `path`;
    `names` are (its general.name, its base model's name), never a local path: the file is
    meant to be shared (export/naming.py)."""
    import gguf

    config = model.config
    arch = check_architecture(config.model_type)
    pre = pre_tokenizer_name(tokenizer_dir)
    writer = gguf.GGUFWriter(str(path), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH[arch]])
    _write_names(writer, *names)
    _write_config(writer, config, gguf.LlamaFileType[TYPES[kind][1]])
    _write_tokenizer(writer, tokenizer_dir, pre)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH[arch], config.num_hidden_layers)
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight" and config.tie_word_embeddings:
            continue
        target = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if target is None:
            raise UserError(f"export: no GGUF name for tensor {name}")
        data, qtype = _encode(_permuted(name, tensor.float().numpy(), config), kind)
        writer.add_tensor(target, data, raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def check_architecture(model_type: str | None) -> str:
    """The gguf MODEL_ARCH name for `model_type`, or a UserError naming the choices."""
    arch = ARCHITECTURES.get(model_type or "")
    if arch is None:
        raise UserError(
            f"export.formats: GGUF export supports {', '.join(ARCHITECTURES)} models, not "
            f"'{model_type}'; use the merged or int8 format"
        )
    return arch


def pre_tokenizer_name(tokenizer_dir: Path) -> str:
    """llama.cpp's tokenizer.ggml.pre name for the tokenizer in `tokenizer_dir`, or a
    UserError: a GGUF whose pre-tokenizer llama.cpp would not reproduce gives other token ids
    than training did."""
    import json

    path = Path(tokenizer_dir) / "tokenizer.json"
    if not path.is_file():
        raise UserError(
            f"export.formats: GGUF export needs a fast tokenizer (tokenizer.json) in "
            f"{tokenizer_dir}; use the merged or int8 format"
        )
    spec = json.loads(path.read_text(encoding="utf-8"))
    structure = _pre_tokenizer_structure(spec)
    name = PRE_TOKENIZERS.get(structure) if _plain_byte_level_bpe(spec) else None
    if name is None:
        raise UserError(
            f"export.formats: GGUF export knows the pre-tokenizers of GPT-2 and SmolLM "
            f"byte-level BPE tokenizers, not this one ({_describe(structure)}): llama.cpp "
            f"would split text differently from training; use the merged or int8 format"
        )
    return name


def _plain_byte_level_bpe(spec: dict) -> bool:
    """A BPE model without normalizer or byte fallback: the only kind both names describe."""
    model = spec.get("model") or {}
    return (
        model.get("type") == "BPE" and not spec.get("normalizer") and not model.get("byte_fallback")
    )


def _pre_tokenizer_structure(spec: dict) -> tuple:
    pre = spec.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre]
    return tuple(_step(step) for step in steps if step)


def _step(step: dict) -> tuple:
    kind = step.get("type", "?")
    if kind == "ByteLevel":
        regex = "use_regex" if step.get("use_regex", True) else "no_regex"
        prefix = "prefix_space" if step.get("add_prefix_space") else "no_prefix_space"
        return (kind, regex, prefix)
    if kind == "Digits":
        return (kind, "individual" if step.get("individual_digits") else "grouped")
    return (kind,)  # a split this table does not know, whatever its settings


def _describe(structure: tuple) -> str:
    return " + ".join(step[0] for step in structure) or "no pre-tokenizer"


def _write_names(writer, name: str, base_model: str) -> None:
    writer.add_name(name)
    writer.add_base_model_count(1)
    writer.add_base_model_name(0, base_model)


def _write_config(writer, config, file_type) -> None:
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    rope = getattr(config, "rope_parameters", None) or {}
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_rope_dimension_count(head_dim)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_rope_freq_base(float(rope.get("rope_theta", getattr(config, "rope_theta", 1e4))))
    writer.add_vocab_size(config.vocab_size)
    writer.add_file_type(file_type)


def _write_tokenizer(writer, folder: Path, pre: str) -> None:
    """A byte-level BPE vocabulary (tokenizer.ggml.model gpt2, pre-tokenizer `pre`), merges,
    special ids, template."""
    import gguf
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    by_id = {i: t for t, i in tokenizer.get_vocab().items()}
    added = {t.content: t.special for t in tokenizer.added_tokens_decoder.values()}
    tokens, types = [], []
    for i in range(len(by_id)):
        token = by_id.get(i, f"[PAD{i}]")  # a hole in the ids: llama.cpp's placeholder
        tokens.append(token)
        kind = gguf.TokenType.NORMAL
        if token in added:
            kind = gguf.TokenType.CONTROL if added[token] else gguf.TokenType.USER_DEFINED
        types.append(kind)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    gguf.SpecialVocab(str(folder), load_merges=True).add_to_gguf(writer, quiet=True)


def _permuted(name: str, weights, config):
    """q/k rows reordered from Hugging Face's rotary halves to GGML's interleaved pairs."""
    heads = config.num_attention_heads
    if name.endswith("self_attn.q_proj.weight"):
        return _permute(weights, heads)
    if name.endswith("self_attn.k_proj.weight"):
        return _permute(weights, config.num_key_value_heads)
    return weights


def _permute(weights, heads: int):
    shape = weights.shape
    return (
        weights.reshape(heads, 2, shape[0] // heads // 2, *shape[1:]).swapaxes(1, 2).reshape(shape)
    )


def _encode(data, kind: str):
    """(bytes or array, ggml type): 1-D tensors (norms) and odd shapes stay f32."""
    import gguf
    import numpy as np

    qtype = gguf.GGMLQuantizationType[TYPES[kind][0]]
    if data.ndim < 2:
        return data.astype(np.float32), gguf.GGMLQuantizationType.F32
    if qtype == gguf.GGMLQuantizationType.F16:
        return data.astype(np.float16), qtype
    block = gguf.GGML_QUANT_SIZES[qtype][0]
    if data.shape[-1] % block:
        return data.astype(np.float16), gguf.GGMLQuantizationType.F16
    return gguf.quants.quantize(data, qtype), qtype


def gguf_roundtrip(path: Path):
    """The model transformers' GGUF loader makes of `path` (dequantised to fp32)."""
    import torch
    from transformers import AutoModelForCausalLM, GgufConfig

    return AutoModelForCausalLM.from_pretrained(
        str(path.parent),
        gguf_file=path.name,
        dtype=torch.float32,
        quantization_config=GgufConfig(dequantize=True),
    ).eval()
