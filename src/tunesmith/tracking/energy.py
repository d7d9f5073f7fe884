"""Energy (kWh) and CO2e per stage with codecarbon, offline; and kWh per point of quality.

One codecarbon tracker per process, one codecarbon *task* per stage: the hardware probe
(~2 s) is paid once per run, not once per stage.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
from dataclasses import dataclass

from tunesmith.config.tracking import EnergySettings

# codecarbon's CPU modes that read a power counter; the others estimate from TDP or load.
MEASURED_MODES = {
    "intel_rapl": "measured (RAPL counters)",
    "windows_emi": "measured (Windows EMI)",
    "intel_power_gadget": "measured (Intel Power Gadget)",
    "apple_powermetrics": "measured (powermetrics)",
}
ESTIMATED_MODES = {
    "cpu_load": "estimated (TDP x CPU load; no RAPL)",
    "tdp": "estimated (CPU TDP; no RAPL)",
    "constant": "estimated (constant CPU power)",
}
NOT_INSTALLED = "not measured: codecarbon is not installed (pip install 'tunesmith[energy]')"
_TRACKERS: dict = {}


@dataclass
class EnergyReading:
    result: dict | None = None


def _tracker(settings: EnergySettings):
    key = (settings.country_iso_code, settings.scope, settings.measure_power_secs)
    if key not in _TRACKERS:
        from codecarbon import OfflineEmissionsTracker

        # before the tracker: its constructor logs 'offline tracker init' and a warning about
        # allow_multiple_runs before it applies its own log_level
        logging.getLogger("codecarbon").setLevel(logging.ERROR)
        _TRACKERS[key] = OfflineEmissionsTracker(
            country_iso_code=settings.country_iso_code,
            tracking_mode=settings.scope,
            measure_power_secs=settings.measure_power_secs,
            output_methods=[],  # figures go to the manifest, not to a CSV
            log_level="error",
            allow_multiple_runs=True,  # stages of concurrent runs each keep their own figures
        )
    return _TRACKERS[key]


@contextlib.contextmanager
def measure_energy(settings: EnergySettings, run_dir, stage: str):
    """Measure the enclosed stage; its figures go to the manifest (stages.<stage>.energy)."""
    reading = EnergyReading()
    if not settings.enabled:
        yield reading
        return
    if importlib.util.find_spec("codecarbon") is None:
        yield reading
        run_dir.update_stage(stage, energy={"note": NOT_INSTALLED})
        return
    tracker = _tracker(settings)
    tracker.start_task(stage)
    try:
        yield reading
    finally:
        reading.result = _figures(tracker, tracker.stop_task())
        run_dir.update_stage(stage, energy=reading.result)


def _figures(tracker, data) -> dict:
    modes = {type(h).__name__: getattr(h, "_mode", None) for h in tracker._hardware}
    cpu = modes.get("CPU")
    return {
        "kwh": data.energy_consumed,
        "co2e_kg": data.emissions,
        "cpu_kwh": data.cpu_energy,
        "ram_kwh": data.ram_energy,
        "gpu_kwh": data.gpu_energy,
        "seconds": round(data.duration, 2),
        "country": data.country_iso_code,
        "measured": cpu in MEASURED_MODES,
        "method": MEASURED_MODES.get(cpu) or ESTIMATED_MODES.get(cpu, f"codecarbon mode {cpu}"),
    }
