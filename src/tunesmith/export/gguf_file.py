"""Write a Llama or Qwen2 model as one GGUF file with the `gguf` package (gguf-py).

A thin wrapper over gguf-py's writer, name map and quantisers, following llama.cpp's
convert_hf_to_gguf.py for these architectures: llama's q/k projections are permuted to GGML's
interleaved rotary layout (transformers' GGUF loader reverses it); qwen2 keeps Hugging Face's
rotary halves (llama.cpp runs it with NEOX rotary) and writes its q/k/v biases. 1-D tensors
stay f32, a tied output head is not written; Llama 3.1+'s `llama3` rotary scaling is a
rope_freqs tensor (export/gguf_rope.py). gguf-py can quantise f16, q8_0 and q4_0 but no
K-quant, so those are the types. The tokenizer is written by export/gguf_vocab.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tunesmith.errors import UserError
from tunesmith.export.gguf_rope import (
    ROPE_FREQS,
    apply_rope_freqs,
    check_rope,
    head_dim,
    rope_freqs_tensor,
    rope_theta,
)
from tunesmith.export.gguf_vocab import pre_tokenizer_name, write_tokenizer

# (ggml tensor type, llama.cpp file type) per recipe name
TYPES = {
    "f16": ("F16", "MOSTLY_F16"),
    "q8_0": ("Q8_0", "MOSTLY_Q8_0"),
    "q4_0": ("Q4_0", "MOSTLY_Q4_0"),
}


@dataclass(frozen=True)
class Architecture:
    arch: str  # gguf MODEL_ARCH member
    permute_qk: bool  # llama.cpp's rotary for it is interleaved pairs (LlamaModel.undo_permute)
    llama_keys: bool  # LlamaModel also writes vocab_size and rope.dimension_count
    reads_rope_freqs: bool  # llama.cpp scales its rotary angles by a rope_freqs tensor


ARCHITECTURES = {  # model_type -> how convert_hf_to_gguf.py writes it
    "llama": Architecture("LLAMA", permute_qk=True, llama_keys=True, reads_rope_freqs=True),
    "qwen2": Architecture("QWEN2", permute_qk=False, llama_keys=False, reads_rope_freqs=False),
}

__all__ = [
    "ARCHITECTURES",
    "TYPES",
    "check_exportable",
    "check_model",
    "pre_tokenizer_name",
    "write_gguf",
]


def write_gguf(model, tokenizer_dir: Path, path: Path, kind: str, names: tuple[str, str]) -> None:
    """`model` (plain transformers, merged) and its tokenizer as a GGUF file at `path`;
    `names` are (its general.name, its base model's name), never a local path: the file is
    meant to be shared (models/naming.py)."""
    import gguf

    config = model.config
    pre = check_exportable(config, tokenizer_dir)
    spec = ARCHITECTURES[config.model_type]
    arch = gguf.MODEL_ARCH[spec.arch]
    writer = gguf.GGUFWriter(str(path), gguf.MODEL_ARCH_NAMES[arch])
    _write_names(writer, *names)
    _write_config(writer, config, gguf.LlamaFileType[TYPES[kind][1]], spec)
    write_tokenizer(writer, tokenizer_dir, pre, config.vocab_size)
    divisors = rope_freqs_tensor(config)
    if divisors is not None:  # first, as llama.cpp's converter writes it
        writer.add_tensor(ROPE_FREQS, divisors, raw_dtype=gguf.GGMLQuantizationType.F32)
    names = gguf.get_tensor_name_map(arch, config.num_hidden_layers)
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight" and config.tie_word_embeddings:
            continue
        target = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if target is None:
            raise UserError(f"export: no GGUF name for tensor {name}")
        weights = tensor.float().numpy()
        if spec.permute_qk:
            weights = _permuted(name, weights, config)
        data, qtype = _encode(weights, kind)
        writer.add_tensor(target, data, raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def check_exportable(config, tokenizer_dir: Path) -> str:
    """Refuse, before anything is written, a model this writer would get wrong; returns the
    tokenizer's llama.cpp pre-tokenizer name."""
    check_model(config)
    return pre_tokenizer_name(tokenizer_dir)


def check_model(config) -> None:
    """Refuse an architecture or rotary scaling this writer would get wrong (read from the
    config alone, so preflight can ask before training)."""
    model_type = getattr(config, "model_type", None)
    check_architecture(model_type)
    check_rope(config, ARCHITECTURES[model_type].reads_rope_freqs)


def check_architecture(model_type: str | None) -> str:
    """The gguf MODEL_ARCH name for `model_type`, or a UserError naming the choices."""
    spec = ARCHITECTURES.get(model_type or "")
    if spec is None:
        raise UserError(
            f"export.formats: GGUF export supports {', '.join(ARCHITECTURES)} models, not "
            f"'{model_type}'; use {_instead(model_type)}"
        )
    return spec.arch


def _instead(model_type: str | None) -> str:
    """The formats to use instead of GGUF: int8 only where it quantises the architecture
    (judged on its default configuration on the meta device; not GPT-2's Conv1D layers)."""
    from transformers import AutoConfig

    from tunesmith.export.quantize import int8_applies
    from tunesmith.models.targets import config_skeleton

    try:
        skeleton = config_skeleton(AutoConfig.for_model(model_type or ""))
    except ValueError:  # a model type transformers does not know
        skeleton = None
    if skeleton is not None and int8_applies(skeleton):
        return "the merged or int8 format"
    return "the merged format"


def _write_names(writer, name: str, base_model: str) -> None:
    """The general.* keys convert_hf_to_gguf.py writes (its type and quantisation version
    too: readers that tell a model from an adapter or check the quantisation scheme read
    them; they were missing)."""
    import gguf

    writer.add_type(gguf.GGUFType.MODEL)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    writer.add_name(name)
    writer.add_base_model_count(1)
    writer.add_base_model_name(0, base_model)


def _write_config(writer, config, file_type, spec: Architecture) -> None:
    """TextModel.set_gguf_parameters' keys (and LlamaModel's two more for llama)."""
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_rope_freq_base(rope_theta(config))
    if getattr(config, "head_dim", None):
        writer.add_key_length(config.head_dim)
        writer.add_value_length(config.head_dim)
    if spec.llama_keys:
        writer.add_rope_dimension_count(head_dim(config))
        writer.add_vocab_size(config.vocab_size)
    writer.add_file_type(file_type)


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
    """The model transformers' GGUF loader makes of `path` (dequantised to fp32), its rotary
    frequencies scaled by the file's rope_freqs as llama.cpp scales them."""
    import torch
    from transformers import AutoModelForCausalLM, GgufConfig

    model = AutoModelForCausalLM.from_pretrained(
        str(path.parent),
        gguf_file=path.name,
        dtype=torch.float32,
        quantization_config=GgufConfig(dequantize=True),
    ).eval()
    apply_rope_freqs(model, path)
    return model
