"""Energy per stage (codecarbon, offline) and kWh per point of quality gained."""

from __future__ import annotations

import json

import pytest

from tunesmith.artifacts import RunDir, write_json
from tunesmith.config.tracking import EnergySettings
from tunesmith.tracking.energy import NOT_INSTALLED, measure_energy
from tunesmith.tracking.quality import energy_lines, energy_summary


def _stage_energy(kwh: float) -> dict:
    return {"kwh": kwh, "co2e_kg": kwh * 0.4, "measured": False, "method": "estimated (x)",
            "country": "USA"}  # fmt: skip


def _run(tmp_path, rows: dict) -> RunDir:
    run_dir = RunDir(tmp_path / "run")
    run_dir.update_stage("train", energy=_stage_energy(0.03))
    run_dir.update_stage("evaluate", energy=_stage_energy(0.01))
    write_json(run_dir.eval / "compare.json", {"sample_size": 10, "metrics": rows})
    return run_dir


def _row(base, tuned):
    return {"base": base, "tuned": tuned, "delta": tuned - base}


@pytest.mark.parametrize(
    ("rows", "headline", "points"),
    [
        ({"perplexity": _row(9.0, 5.0), "rouge1": _row(0.20, 0.28)}, "rouge1", 8.0),
        ({"perplexity": _row(9.0, 5.0), "bleu": _row(10.0, 14.0)}, "bleu", 4.0),
        ({"perplexity": _row(9.0, 5.0)}, "perplexity", 4.0),  # lower is better
    ],
)
def test_kwh_per_point_of_the_headline_metric(tmp_path, rows, headline, points):
    summary = energy_summary(_run(tmp_path, rows))
    assert summary["headline"] == headline
    assert summary["points_gained"] == pytest.approx(points)
    assert summary["kwh"] == pytest.approx(0.04)
    assert summary["kwh_per_point"] == pytest.approx(0.04 / points)


def test_no_gain_gives_no_energy_per_point(tmp_path):
    run_dir = _run(tmp_path, {"accuracy": _row(0.5, 0.4)})
    summary = energy_summary(run_dir)
    assert summary["points_gained"] == pytest.approx(-10.0)
    assert summary["kwh_per_point"] is None
    assert "no accuracy gained over the base model" in energy_lines(run_dir)[-1]


def test_missing_codecarbon_is_a_note_not_a_crash(tmp_path, monkeypatch):
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    run_dir = RunDir(tmp_path / "run")
    with measure_energy(EnergySettings(), run_dir, "train") as reading:
        pass
    assert reading.result is None
    assert run_dir.stage_entry("train")["energy"] == {"note": NOT_INSTALLED}
    assert energy_lines(run_dir) == [f"  train       {NOT_INSTALLED}"]


def test_codecarbon_measures_a_stage_and_says_how(tmp_path):
    run_dir = RunDir(tmp_path / "run")
    settings = EnergySettings(country_iso_code="fra", measure_power_secs=1)
    with measure_energy(settings, run_dir, "train") as reading:
        sum(i * i for i in range(2_000_000))
    energy = json.loads(run_dir.manifest_path.read_text())["stages"]["train"]["energy"]
    assert energy == reading.result
    assert energy["country"] == "FRA"
    assert energy["kwh"] > 0 and energy["co2e_kg"] > 0
    assert energy["kwh"] == pytest.approx(energy["cpu_kwh"] + energy["ram_kwh"] + energy["gpu_kwh"])
    assert energy["method"].startswith("measured" if energy["measured"] else "estimated")


def test_country_must_be_alpha3():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="alpha-3"):
        EnergySettings(country_iso_code="France")
