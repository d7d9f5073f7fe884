"""Which instruction sets this process really computes with, for `precision: auto` and benches.

/proc/cpuinfo says what the CPU has; what torch uses can be less: `ATEN_CPU_CAPABILITY`
lowers ATen's vector kernels and `ONEDNN_MAX_CPU_ISA` oneDNN's matmuls (and a VM may hide
flags). bf16 is only worth it where both run it natively: without, a bf16 matmul falls back
to a scalar path (measured ~2 GFLOP/s on one core under ATEN_CPU_CAPABILITY=avx2 +
ONEDNN_MAX_CPU_ISA=AVX2, against ~80 in fp32 and ~185 in native bf16).
"""

from __future__ import annotations

from pathlib import Path

FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
OVERRIDES = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")


def cpu_flags() -> set[str]:
    """The CPU's instruction-set flags (empty off Linux)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return set()


def torch_capability() -> str:
    """ATen's vector level for this process: AVX512, AVX2, DEFAULT, ..."""
    import torch

    return torch.backends.cpu.get_cpu_capability()


def onednn_bf16() -> bool:
    """oneDNN runs bf16 matmuls natively here (honours ONEDNN_MAX_CPU_ISA)."""
    import torch

    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(check()) if check is not None else False


def native_bf16(flags: set[str] | None = None) -> bool:
    """True when the CPU has AVX-512 BF16 or AMX and both ATen and oneDNN dispatch to it."""
    flags = cpu_flags() if flags is None else flags
    if not flags & {"avx512_bf16", "amx_bf16"}:
        return False
    return torch_capability().startswith("AVX512") and onednn_bf16()


def describe() -> dict:
    """What a bench prints: the CPU's flags of interest, torch's levels, any override."""
    import os

    flags = cpu_flags()
    return {
        "cpu_flags": [f for f in FLAGS if f in flags],
        "aten_capability": torch_capability(),
        "onednn_bf16": onednn_bf16(),
        "native_bf16": native_bf16(flags),
        "overrides": {k: os.environ[k] for k in OVERRIDES if k in os.environ},
    }
