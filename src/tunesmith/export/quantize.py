"""The int8 weight-only configuration (torchao, the export extra), imported on first use."""

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
