"""What the console shows between tunesmith's own progress lines: transformers' per-model
'Loading weights' bar and codecarbon's start-up lines are hidden, other bars are not, and a
long line is not broken at 80 columns."""

from __future__ import annotations

import logging

import pytest


def test_loading_a_model_draws_no_loading_weights_bar(tiny_model_dir, capfd):
    from transformers.utils import logging as hf_logging

    from tunesmith.config.schema import ModelConfig
    from tunesmith.models import load_model_and_tokenizer

    load_model_and_tokenizer(ModelConfig(name=str(tiny_model_dir), precision="fp32"), "cpu")
    assert "Loading weights" not in capfd.readouterr().err
    if not hf_logging.is_progress_bar_enabled():
        pytest.skip("transformers' bars are off in this environment")
    for _ in hf_logging.tqdm(range(3), desc="Downloading"):  # a bar a user waits for stays
        pass
    assert "Downloading: 100%" in capfd.readouterr().err


def test_codecarbon_starts_without_its_info_and_warning_lines(capfd, monkeypatch):
    pytest.importorskip("codecarbon")
    from tunesmith.config.tracking import EnergySettings
    from tunesmith.tracking import energy

    monkeypatch.setattr(energy, "_TRACKERS", {})
    logger = logging.getLogger("codecarbon")
    level = logger.level
    logger.setLevel(logging.NOTSET)  # as in a fresh process, whatever ran before
    energy._tracker(EnergySettings(measure_power_secs=7.5))
    err = capfd.readouterr().err
    assert "offline tracker init" not in err
    assert "Multiple instances" not in err
    logger.setLevel(level)


def test_a_long_line_reaches_a_log_file_whole(capsys):
    """stderr to a file or a pipe is 80 columns to rich: an energy line or a path was broken
    across two lines of the log."""
    from tunesmith.progress import console

    line = "  train       2.61e-05 kWh  0.00966 g CO2e  (estimated (TDP x CPU load; no RAPL), grid"
    console.print(line + " USA)", highlight=False, markup=False)
    assert capsys.readouterr().err == line + " USA)\n"


def test_generation_bars_follow_each_other_in_order(capsys):
    """Each row's bar stayed open under the next: a log showed them in reverse order with a
    blank line between."""
    from tunesmith.progress import GenerationBars

    bars = GenerationBars()
    for row in ("tuned", "few_shot", "base"):
        bars(row, 2)(2)
    bars.close()
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(")")[0] for line in lines] == [
        "generate (tuned",
        "generate (few_shot",
        "generate (base",
    ]
