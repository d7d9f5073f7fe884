"""The CDA step's own lexicon file is a declared data-stage input (an edit re-runs the stage)."""

from __future__ import annotations

import json

from tunesmith.artifacts import RunDir
from tunesmith.config import load_recipe
from tunesmith.stages import STAGES, load_stages


def test_counterfactual_lexicon_is_a_data_stage_input(tiny_recipe, tmp_path):
    lexicon = tmp_path / "lexicon.json"
    lexicon.write_text(json.dumps({"groups": {"p": [["he", "she"]]}}), "utf-8")
    load_stages()
    run_dir = RunDir(tmp_path / "run")
    plain = load_recipe(tiny_recipe())
    cda = load_recipe(tiny_recipe(), [f"data.curation.counterfactual={{lexicon: {lexicon}}}"])
    assert lexicon not in STAGES.get("data").inputs(plain, run_dir)
    assert lexicon.resolve() in [p.resolve() for p in STAGES.get("data").inputs(cda, run_dir)]
