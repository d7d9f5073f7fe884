"""peft refusing the recipe's adapter settings while a run builds the adapter (the pre-flight
target check cannot run for a hub id or GGUF file not converted yet, and does not check
`pretrain:`) is one line naming the recipe key, exit 2: not peft's traceback, exit 1. An error
that is not the recipe's still goes up as it is."""

from __future__ import annotations

import pytest

from tunesmith.errors import UserError


def _model(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))


def _build(tiny_model_dir, **training):
    from tunesmith.config.training import training_config
    from tunesmith.methods import build_trainable

    return build_trainable(_model(tiny_model_dir), training_config(**training))


REFUSED = {
    "no such module": (
        {"lora": {"target_modules": ["nope_proj"]}},
        "training.lora.target_modules: ['nope_proj'] match no module of model ",
    ),
    # peft drops an unmatched entry silently while another matches: refused like the pre-flight
    "one typo among matches": (
        {"lora": {"target_modules": ["q_proj", "v_porj"]}},
        "training.lora.target_modules: ['v_porj'] match no module of model ",
    ),
    "a module lora cannot adapt": (
        {"lora": {"target_modules": ["mlp"]}},
        "training.lora.target_modules: ['mlp'] select a module that peft cannot adapt "
        "(LlamaMLP); name weight-matrix modules: down_proj, ",
    ),
    "a module loha cannot adapt": (
        {"method": "loha", "loha": {"target_modules": ["self_attn"]}},
        "training.loha.target_modules: ['self_attn'] select a module that peft cannot adapt "
        "(LlamaAttention)",
    ),
    "feed-forward modules outside the targets": (
        {
            "method": "ia3",
            "ia3": {"target_modules": ["q_proj"], "feedforward_modules": ["up_proj"]},
        },
        "training.ia3: peft refuses these settings (`feedforward_modules` should be a subset of "
        "`target_modules`)",
    ),
    "blocks chosen for a regex target": (
        {"lora": {"target_modules": r".*\.k_proj", "layers_to_transform": [0]}},
        "training.lora: peft refuses these settings (`layers_to_transform` cannot be used when "
        "`target_modules` is a str.)",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_peft_refusing_the_settings_is_one_line_naming_the_key(tiny_model_dir, case):
    training, fragment = REFUSED[case]
    with pytest.raises(UserError) as info:
        _build(tiny_model_dir, **training)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(fragment), message


def test_pretrain_settings_are_named_under_pretrain(tmp_path, tiny_model_dir):
    from tunesmith.config.pretrain import PretrainConfig
    from tunesmith.methods import build_trainable

    cfg = PretrainConfig(corpus=[str(tmp_path)], lora={"target_modules": ["nope_proj"]})
    with pytest.raises(UserError, match=r"^pretrain\.lora\.target_modules: \['nope_proj'\] match"):
        build_trainable(_model(tiny_model_dir), cfg)


def test_an_error_that_is_not_the_recipes_goes_up_as_it_is(tiny_model_dir, monkeypatch):
    import peft

    def broken(model, config, **kwargs):
        raise ValueError("Target module wiring broke: a bug, not a setting")

    monkeypatch.setattr(peft, "get_peft_model", broken)
    with pytest.raises(ValueError, match="a bug, not a setting"):
        _build(tiny_model_dir, lora={"target_modules": ["q_proj"]})


def test_sound_targets_still_build(tiny_model_dir):
    model = _build(tiny_model_dir, lora={"target_modules": ["q_proj", "v_proj"], "r": 2})
    parts = [name.split(".") for name, _ in model.named_parameters() if "lora_A" in name]
    assert {p[p.index("lora_A") - 1] for p in parts} == {"q_proj", "v_proj"}


def test_run_with_unchecked_targets_exits_2_in_one_line(tiny_recipe, tmp_path, monkeypatch, capsys):
    """`tunesmith run` where the pre-flight could not build the model's modules (as for a hub
    id not on this machine yet): the train stage's peft refusal, not a traceback and exit 1."""
    import tunesmith.models.targets as targets
    from tunesmith.cli.main import main

    monkeypatch.setattr(targets, "module_names", lambda name: None)
    recipe = tiny_recipe(training={"max_steps": 2, "lora": {"target_modules": ["nope_proj"]}})
    out = tmp_path / "run"
    monkeypatch.setattr("sys.argv", ["tunesmith", "run", str(recipe), "-o", str(out)])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith("error: training.lora.target_modules: ['nope_proj'] match no module of model ")
    )
