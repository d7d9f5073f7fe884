"""The machine's limits for a roofline line: matmul peaks (the training bench's measure),
memory bandwidth (a large tensor copy) and the instruction sets torch and the CPU report."""

from __future__ import annotations

import time
from pathlib import Path

from train_throughput import _matmul_peaks  # noqa: E402  (sibling script module)

ISA_FLAGS = ("avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16")
ISA_PREFIXES = ("amx",)


def instruction_sets() -> dict:
    """torch's dispatch level and the vector/matrix flags of /proc/cpuinfo."""
    import torch

    flags: set[str] = set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    found = [f for f in ISA_FLAGS if f in flags]
    found += sorted(f for f in flags if f.startswith(ISA_PREFIXES))
    return {"torch_cpu_capability": torch.backends.cpu.get_cpu_capability(), "cpu_flags": found}


def memory_bandwidth_gbs(megabytes: int = 512, repeats: int = 5) -> float:
    """Best GB/s of a copy of a tensor far larger than the caches (bytes read + written)."""
    import torch

    source = torch.ones(megabytes * (1 << 20) // 4, dtype=torch.float32)
    target = torch.empty_like(source)
    target.copy_(source)
    best = 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        target.copy_(source)
        best = max(best, 2 * source.numel() * 4 / (time.perf_counter() - started) / 1e9)
    return round(best, 1)


def limits() -> dict:
    """Everything a roofline line divides by, measured now."""
    return {
        "name": "machine",
        **instruction_sets(),
        "matmul_peak_gflops": _matmul_peaks(),
        "memory_bandwidth_gbs": memory_bandwidth_gbs(),
    }


def roofline(flops: float, weight_bytes: float, seconds: float, peak_gflops, bandwidth) -> dict:
    """Achieved compute and weight-read rates, and their share of the machine's limits."""
    gflops = flops / seconds / 1e9
    gbs = weight_bytes / seconds / 1e9
    return {
        "achieved_gflops": round(gflops, 1),
        "compute_fraction": round(gflops / peak_gflops, 3),
        "weight_read_gbs": round(gbs, 1),
        "bandwidth_fraction": round(gbs / bandwidth, 3),
    }
