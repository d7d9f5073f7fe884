"""Rotary embeddings in a GGUF file, as llama.cpp reads them.

llama.cpp runs Llama 3.1+'s `llama3` rotary scaling from one tensor and no scaling keys: its
convert_hf_to_gguf.py (LlamaModel.generate_extra_tensors) writes `rope_freqs.weight`, f32,
head_dim / 2 values, and GGML divides each rotary pair's angle by its value (ggml_rope_ext's
freq_factors); `rope.scaling.type` / `factor` / `original_context_length` are not written, so
llama.cpp's own scaling stays 1, and the context length is the config's
max_position_embeddings. llama.cpp reads that tensor for llama models only. Other scaled
types (linear, dynamic, yarn, longrope, ...) need keys or behaviour this writer does not
produce, and transformers' GGUF loader (which evaluates the file) would not read them back.
"""

from __future__ import annotations

from tunesmith.errors import UserError

ROPE_FREQS = "rope_freqs.weight"  # gguf TENSOR_NAMES[MODEL_TENSOR.ROPE_FREQS] + ".weight"
LLAMA3_KEYS = ("factor", "low_freq_factor", "high_freq_factor")


def rope_settings(config) -> dict:
    """The config's rotary settings as one flat dict: transformers 5 keeps them, rope_theta
    included, in config.rope_parameters (config.rope_scaling is the same dict; per layer
    type for some models: the full-attention one is what llama.cpp's converter reads), 4.x in
    config.rope_scaling. A config.json read as it is (preflight) may hold both, and
    transformers 5 then takes rope_scaling's entries over rope_parameters', as this does."""
    parameters = getattr(config, "rope_parameters", None) or {}
    settings = {**parameters, **(getattr(config, "rope_scaling", None) or {})}
    return dict(settings.get("full_attention", settings))


def rope_type(config) -> str:
    settings = rope_settings(config)
    return settings.get("rope_type", settings.get("type")) or "default"


def rope_theta(config) -> float:
    """The rotary base: in the rope settings (transformers 5), else beside them (4.x)."""
    return float(rope_settings(config).get("rope_theta", getattr(config, "rope_theta", 1e4)))


def head_dim(config) -> int:
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def check_rope(config, reads_rope_freqs: bool) -> None:
    """Refuse a rotary scaling this writer would get wrong; `reads_rope_freqs`: llama.cpp
    scales the architecture's rotary angles by a rope_freqs tensor (llama only)."""
    kind = rope_type(config)
    allowed = ("default", "llama3") if reads_rope_freqs else ("default",)
    if kind not in allowed:
        raise UserError(
            f"export.formats: GGUF export writes {config.model_type} models with rope_type "
            f"{' or '.join(allowed)}, not rope_type '{kind}' (llama.cpp would need scaling "
            f"this writer does not write); use the merged or int8 format"
        )
    if kind == "llama3":
        _llama3_settings(config)


def rope_freqs_tensor(config):
    """The rope_freqs tensor llama.cpp needs for `config` (f32, head_dim / 2), or None."""
    if rope_type(config) != "llama3":
        return None
    import numpy as np

    factor, low, high, context = _llama3_settings(config)
    dim = head_dim(config)
    wavelength = 2 * np.pi * rope_theta(config) ** (np.arange(0, dim, 2) / dim)
    # Llama 3.1's scaling: wavelengths shorter than context / high keep their frequency, longer
    # than context / low are slowed by `factor`, and the band between is blended smoothly
    with np.errstate(divide="ignore", invalid="ignore"):  # an empty band when high == low
        smooth = (context / wavelength - low) / (high - low)
        blended = 1 / ((1 - smooth) / factor + smooth)
    divisors = np.where(wavelength > context / low, factor, blended)
    return np.where(wavelength < context / high, 1.0, divisors).astype(np.float32)


def _llama3_settings(config) -> tuple[float, float, float, float]:
    """(factor, low_freq_factor, high_freq_factor, original context length); the context
    falls back as transformers' does: the config's own, then max_position_embeddings."""
    settings = rope_settings(config)
    missing = [key for key in LLAMA3_KEYS if settings.get(key) is None]
    if missing:
        raise UserError(
            f"export.formats: the model's rope_type 'llama3' settings lack {', '.join(missing)}"
        )
    context = (
        settings.get("original_max_position_embeddings")
        or getattr(config, "original_max_position_embeddings", None)
        or config.max_position_embeddings
    )
    return (*(float(settings[key]) for key in LLAMA3_KEYS), float(context))


def apply_rope_freqs(model, path) -> None:
    """Divide the rotary frequencies of `model`, built by transformers' GGUF loader from
    `path`, by the file's rope_freqs as llama.cpp does: that loader skips the tensor and
    would run unscaled rotary embeddings. Nothing to do for a file without one."""
    import gguf
    import numpy as np
    import torch

    found = [t for t in gguf.GGUFReader(str(path)).tensors if t.name == ROPE_FREQS]
    if not found:
        return
    divisors = torch.from_numpy(np.array(found[0].data, dtype=np.float32))
    for module in model.modules():
        for name in ("inv_freq", "original_inv_freq"):
            frequencies = getattr(module, name, None)
            if isinstance(frequencies, torch.Tensor):
                frequencies.div_(divisors.to(frequencies.dtype))
