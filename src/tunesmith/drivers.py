"""The driver contract: a driver above the pipeline (tune, group, ablation) registers a
`DriverSpec` from its package's `driver.py`, as a stage does a `StageSpec` from `stage.py`.

What a driver adds to the shared machinery goes through its spec, so the machinery names no
driver: today its pre-flight checks of its own recipe section (`search:`, `group:`).
"""

from __future__ import annotations

from dataclasses import dataclass

from tunesmith.registry import Registry
from tunesmith.stages import PreflightHook, import_every


@dataclass(frozen=True)
class DriverSpec:
    name: str
    # Its checks in `validate` and before `run`'s first stage, as a stage's (PreflightHook)
    preflight: tuple[PreflightHook, ...] = ()


DRIVERS: Registry[DriverSpec] = Registry("driver")


def register_driver(spec: DriverSpec) -> DriverSpec:
    DRIVERS.register(spec.name, spec)
    return spec


def registered_drivers() -> list[DriverSpec]:
    """Every driver (each `tunesmith.<package>.driver` module imported), by name."""
    import_every("driver")
    return [DRIVERS.get(name) for name in DRIVERS.names()]
