"""Training methods: one file per family, each `Method` registered in `METHODS`."""

from tunesmith.methods import peft_methods, weights  # noqa: F401  (register the methods)
from tunesmith.methods.base import (
    METHODS,
    Method,
    build_trainable,
    describe,
    load_tuned,
    method_of,
    save_pretrained,
)

__all__ = [
    "METHODS",
    "Method",
    "build_trainable",
    "describe",
    "load_tuned",
    "method_of",
    "save_pretrained",
]
