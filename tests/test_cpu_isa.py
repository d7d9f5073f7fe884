"""`precision: auto` picks bf16 only where torch really runs it natively (issue 14, item 4)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tunesmith.models import cpu_isa


@pytest.mark.parametrize(
    ("flags", "capability", "onednn", "expected"),
    [
        ({"avx2", "avx512f", "avx512_bf16"}, "AVX512", True, True),
        ({"avx2", "amx_bf16"}, "AVX512", True, True),
        ({"avx2", "avx512f", "avx512_bf16"}, "AVX2", True, False),  # ATEN_CPU_CAPABILITY
        ({"avx2", "avx512f", "avx512_bf16"}, "AVX512", False, False),  # ONEDNN_MAX_CPU_ISA
        ({"avx2", "avx512f"}, "AVX512", True, False),  # AVX-512 without BF16
    ],
)
def test_native_bf16_needs_the_flag_and_both_dispatchers(
    monkeypatch, flags, capability, onednn, expected
):
    monkeypatch.setattr(cpu_isa, "torch_capability", lambda: capability)
    monkeypatch.setattr(cpu_isa, "onednn_bf16", lambda: onednn)
    assert cpu_isa.native_bf16(flags) is expected


def test_simulated_avx2_cpu_resolves_auto_to_fp32():
    env = dict(os.environ, ATEN_CPU_CAPABILITY="avx2", ONEDNN_MAX_CPU_ISA="AVX2")
    code = (
        "from tunesmith.models import resolve_precision; from tunesmith.models.cpu_isa import "
        "describe; d = describe(); print(resolve_precision('auto', 'cpu'), d['aten_capability'],"
        " d['overrides']['ONEDNN_MAX_CPU_ISA'])"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    precision, capability, onednn_cap = out.stdout.split() or [out.stderr[-2000:]] * 3
    # a CPU without AVX2 falls to a lower ATen level still: never AVX-512, never bf16
    assert (precision, onednn_cap) == ("fp32", "AVX2") and not capability.startswith("AVX512")
