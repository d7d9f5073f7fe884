"""The int8 weight-only configuration (torchao, the export extra), imported on first use, and
the refusal of a model it would leave unquantised."""

from __future__ import annotations

from tunesmith.errors import UserError


def int8_config():
    try:
        from torchao.quantization import Int8WeightOnlyConfig
    except ImportError:
        raise UserError(
            "export: the int8 format needs torchao: pip install 'tunesmith[export]'"
        ) from None
    return Int8WeightOnlyConfig()


def check_int8(model) -> None:
    """Refuse a model with no layer the int8 format quantises. transformers' torchao loader
    quantises nn.Linear layers but the output head; GPT-2's layers are transformers' Conv1D,
    so its 'int8' folder held fp32 weights only (larger than the merged one). Quantised Conv1D
    weights would not load back: Conv1D's addmm has no int8 kernel in torchao."""
    import torch

    if int8_applies(model):
        return
    head = model.get_output_embeddings()
    layers = sorted(
        {
            type(m).__name__
            for m in model.modules()
            if getattr(getattr(m, "weight", None), "ndim", 0) == 2
            and not isinstance(m, torch.nn.Embedding)
            and m is not head
        }
    )
    raise UserError(
        f"export.formats: int8 quantises nn.Linear layers and {type(model).__name__} has none "
        f"but its output head (its layers: {', '.join(layers) or 'none'}); use the merged format"
    )


def int8_applies(model) -> bool:
    """Whether the int8 format quantises any layer of `model` (loaded or a meta skeleton)."""
    import torch

    head = model.get_output_embeddings()
    return any(isinstance(m, torch.nn.Linear) and m is not head for m in model.modules())
