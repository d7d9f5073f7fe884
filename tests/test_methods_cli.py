"""Bad training-method input through the CLI: one line, exit code 2."""

from __future__ import annotations

import pytest
from conftest import make_records, write_recipe
from test_cli import assert_user_error, tunesmith


def _recipe(tmp_path, tiny_model_dir, training):
    # the model named as a bare path, the split left at its defaults
    return write_recipe(
        tmp_path, tiny_model_dir, make_records(20), {}, model=str(tiny_model_dir), training=training
    )


@pytest.mark.parametrize(
    ("training", "fragments"),
    [
        ({"method": "ia3", "lora": {"r": 4}}, ["training.lora", "training.method is 'ia3'"]),
        ({"method": "freeze", "freeze": {"train_top": 2}}, ["training.freeze.train_top: 2 >="]),
        ({"lora": {"layers_to_transform": [5]}}, ["training.lora.layers_to_transform: block 5"]),
        ({"method": "lorra"}, ["did you mean 'lora'"]),
    ],
    ids=["settings-of-another-method", "freeze-all-blocks", "layers-beyond-depth", "unknown"],
)
def test_validate_rejects_bad_method_settings(tmp_path, tiny_model_dir, training, fragments):
    done = tunesmith("validate", _recipe(tmp_path, tiny_model_dir, training))
    assert_user_error(done, *fragments)


def test_validate_accepts_a_method_that_fits(tmp_path, tiny_model_dir):
    training = {"method": "freeze", "freeze": {"train_top": 1}}
    done = tunesmith("validate", _recipe(tmp_path, tiny_model_dir, training))
    assert done.returncode == 0, done.stderr
    assert "training.method: ok (freeze, model of 2 blocks)" in done.stdout + done.stderr
