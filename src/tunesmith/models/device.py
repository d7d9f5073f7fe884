"""Device, precision and thread choice. Nothing assumes a GPU."""

from __future__ import annotations

import os
from pathlib import Path


def resolve_device(requested: str = "auto") -> str:
    """`auto`: the best device present; a named one must be present (model.device: cuda on a
    machine without a CUDA build would otherwise fail inside torch with a traceback)."""
    present = _present_devices()
    if requested == "auto":
        return present[0]
    if requested not in present:
        from tunesmith.errors import UserError

        raise UserError(
            f"model.device: '{requested}' is not available on this machine "
            f"(available: {', '.join(present)}); use auto or one of those"
        )
    return requested


def _present_devices() -> list[str]:
    """The usable devices, best first (cpu always last)."""
    import torch

    found = ["cuda"] if torch.cuda.is_available() else []
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        found.append("mps")
    return [*found, "cpu"]


def cpu_has_native_bf16() -> bool:
    """True where this process's matmuls run bf16 natively (AVX-512 BF16 or AMX, and torch
    not told to use less: see models/cpu_isa.py)."""
    from tunesmith.models.cpu_isa import native_bf16

    return native_bf16()


def resolve_precision(requested: str, device: str) -> str:
    """'bf16' or 'fp32' for `requested` ('auto', 'bf16', 'fp32') on `device`."""
    if requested != "auto":
        return requested
    if device == "cuda":
        import torch

        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device == "cpu":
        return "bf16" if cpu_has_native_bf16() else "fp32"
    return "fp32"


def autocast_dtype(precision: str):
    import torch

    return torch.bfloat16 if precision == "bf16" else torch.float32


def set_threads(threads: int | None) -> int:
    """Use the physical cores: hyper-threads slow matmul-bound work down."""
    import torch

    count = threads or _physical_cores()
    torch.set_num_threads(count)
    return count


def _physical_cores() -> int:
    try:
        cores = set()
        block: dict[str, str] = {}
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines() + [""]:
            if not line.strip():
                if "core id" in block:
                    cores.add((block.get("physical id"), block["core id"]))
                block = {}
                continue
            key, _, value = line.partition(":")
            block[key.strip()] = value.strip()
        return max(len(cores), 1) if cores else os.cpu_count() or 1
    except OSError:
        return os.cpu_count() or 1
