"""Registry of model risk checks: one file per check, one `register_check` call each.

The checks stage runs every registered check whose recipe settings (`checks.<name>`) are
enabled; tests parametrize over `CHECKS.names()`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tunesmith.registry import Registry


def _applies(recipe) -> str | None:
    return None


def _no_inputs(recipe, run_dir) -> list[Path]:
    return []


def _valid(recipe, run_dir) -> None:
    return None


def _fits(recipe, test_count: int) -> None:
    return None


@dataclass(frozen=True)
class Check:
    name: str  # also the key of its settings in the recipe's `checks:` section
    title: str  # the report section's heading
    order: int  # run and report order
    run: Callable  # (CheckContext, settings) -> dict written to eval/checks/<name>.json
    # (recipe) -> None if the check applies, else why not (a skip notice in the report)
    skip_reason: Callable = _applies
    # (recipe, run_dir) -> run-folder files it reads beyond the test split (stage inputs)
    inputs: Callable = _no_inputs
    # (recipe, run_dir) -> None; raises UserError on bad input BEFORE any check runs
    validate: Callable = _valid
    # (recipe, test_count) -> None; raises UserError when a test split of that size is too
    # small for the check: pre-flight asks it of the planned split, before any training
    fits_test: Callable = _fits


CHECKS: Registry[Check] = Registry("check")


def register_check(check: Check) -> Check:
    CHECKS.register(check.name, check)
    return check


def load_checks() -> None:
    """Import every check module so each registers itself."""
    from tunesmith.checks import (  # noqa: F401
        bias,
        explain,
        forgetting,
        robustness,
        triggers,
    )


def settings_of(recipe, name: str):
    return getattr(recipe.checks, name)


def enabled_checks(recipe) -> list[Check]:
    load_checks()
    checks = [CHECKS.get(n) for n in CHECKS.names()]
    return sorted((c for c in checks if settings_of(recipe, c.name).enabled), key=lambda c: c.order)
