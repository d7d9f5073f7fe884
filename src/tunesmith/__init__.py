"""tunesmith: fine-tune a general LLM into a measurably better specialist for one task."""

__version__ = "0.1.0"


def _quiet_optional_kernels() -> None:
    """transformers imports torchao (the export extra) whenever it is installed; its CUDA-only
    kernels and enum registrations then log several lines on every CPU model load."""
    import logging

    for name in ("torchao", "torchao.kernel.intmm", "torch.utils._pytree"):
        logging.getLogger(name).setLevel(logging.ERROR)


_quiet_optional_kernels()
