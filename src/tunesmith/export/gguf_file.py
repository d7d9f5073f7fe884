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


def write_gguf(model, tokenizer_dir: Path, path: Path, kind: str) -> None:
    """`model` (plain transformers, merged) and its tokenizer as a GGUF file at `path`."""
    import gguf

    config = model.config
    arch = check_architecture(config.model_type)
    writer = gguf.GGUFWriter(str(path), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH[arch]])
    _write_config(writer, config, gguf.LlamaFileType[TYPES[kind][1]])
    _write_tokenizer(writer, tokenizer_dir)
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


def _write_config(writer, config, file_type) -> None:
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    rope = getattr(config, "rope_parameters", None) or {}
    writer.add_name(str(getattr(config, "_name_or_path", "") or "tunesmith export"))
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


def _write_tokenizer(writer, folder: Path) -> None:
    """A byte-level BPE vocabulary (tokenizer.ggml.model gpt2), merges, special ids, template."""
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
    writer.add_tokenizer_pre("gpt2")
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
