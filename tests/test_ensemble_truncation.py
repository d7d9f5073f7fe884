"""The likelihood ensemble counts, per member, the candidate rows max_seq_length cut, as a record
the group's compare.json can carry (it was a console line only)."""

from __future__ import annotations

from types import SimpleNamespace

from tunesmith.config import load_recipe
from tunesmith.ensemble.generation import likelihood
from tunesmith.ensemble.methods import EnsembleInputs


def _member(name: str, recipe) -> SimpleNamespace:
    return SimpleNamespace(member=SimpleNamespace(name=name), recipe=recipe, run_dir=None)


def test_each_members_cut_candidates_are_recorded(tiny_recipe, monkeypatch):
    import tunesmith.evaluate.rows as rows_module

    # the members' tuned weights are the plain tiny model: only the encoding is under test
    as_tuned = SimpleNamespace(load=lambda recipe, run_dir, model: model)
    monkeypatch.setattr(rows_module, "ROWS", SimpleNamespace(get=lambda name: as_tuned))
    long_prompt = " ".join(["a long prompt that the short member cuts"] * 8)
    examples = [{"id": f"t-{k}", "prompt": f"{long_prompt} {k}"} for k in range(3)]
    rows = [[{"prediction": f"answer {m} {k}"} for k in range(3)] for m in range(2)]
    fits = load_recipe(tiny_recipe(**{"training.max_seq_length": 512}))
    cuts = load_recipe(tiny_recipe(**{"training.max_seq_length": 24}))
    members = [_member("fits", fits), _member("cuts", cuts)]
    inputs = EnsembleInputs(fits, examples, rows, None, members)
    choices = likelihood(inputs)
    assert len(choices) == 3
    assert inputs.records["likelihood"]["truncation"] == {
        "fits": {"rows": 6, "cut": 0, "prompt_cut": 0, "answer_cut": 0, "max_seq_length": 512},
        "cuts": {"rows": 6, "cut": 6, "prompt_cut": 6, "answer_cut": 0, "max_seq_length": 24},
    }
