"""An adapter_config.json that is valid JSON but not an adapter peft can load (emptied, an
unknown peft_type, a rank the saved weights do not have) is one line naming the adapter folder
wherever a run folder's adapter is loaded, not peft's KeyError or size-mismatch traceback."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from tunesmith.errors import UserError
from tunesmith.methods import METHODS

DAMAGES = {
    "emptied": (lambda config: {}, "adapter_config.json has no peft_type"),
    "unknown type": (
        lambda config: {**config, "peft_type": "LORRA"},
        "peft_type 'LORRA', not one the installed peft knows (did you mean 'LORA'?)",
    ),
    "not an object": (lambda config: [config], "adapter_config.json is a JSON list"),
    "other rank": (
        lambda config: {**config, "r": 4},
        "adapter_config.json does not match the saved weights "
        "(base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight: "
        "saved [2, 32], the config makes [4, 32])",
    ),
}


@pytest.fixture
def damaged_run(tmp_path, tiny_model_dir, request):
    """A run folder whose LoRA adapter (r 2) has its config damaged as `request.param` says."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from tunesmith.artifacts import RunDir

    run_dir = RunDir(tmp_path / "run")
    folder = run_dir.train / "adapter"
    base = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    get_peft_model(base, LoraConfig(r=2, target_modules=["q_proj"])).save_pretrained(folder)
    damage, fragment = DAMAGES[request.param]
    file = folder / "adapter_config.json"
    file.write_text(json.dumps(damage(json.loads(file.read_text()))))
    return run_dir, folder, fragment, file.read_bytes()


def _base(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))


def _assert_names_folder(info, folder, fragment, file_bytes):
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{folder}: damaged adapter, ")
    assert fragment in message
    assert message.endswith("; restore the folder or re-run the stage that wrote it")
    assert (folder / "adapter_config.json").read_bytes() == file_bytes  # nothing rewritten


@pytest.mark.parametrize("damaged_run", list(DAMAGES), indirect=True)
def test_tuned_model_load_names_the_adapter_folder(damaged_run, tiny_model_dir):
    """evaluate, export, distil and the UI playground load through load_tuned."""
    from tunesmith.config.training import training_config
    from tunesmith.methods import load_tuned

    run_dir, folder, fragment, file_bytes = damaged_run
    with pytest.raises(UserError) as info:
        load_tuned(training_config(method="lora"), run_dir.train, _base(tiny_model_dir))
    _assert_names_folder(info, folder, fragment, file_bytes)


@pytest.mark.parametrize("damaged_run", ["emptied", "other rank"], indirect=True)
def test_pretrained_weights_load_names_the_adapter_folder(damaged_run, tiny_model_dir):
    from tunesmith.models.base import apply_weights

    _, folder, fragment, file_bytes = damaged_run
    with pytest.raises(UserError) as info:
        apply_weights(_base(tiny_model_dir), folder, "run the pretrain stage first")
    _assert_names_folder(info, folder, fragment, file_bytes)


@pytest.mark.parametrize("damaged_run", ["emptied", "not an object"], indirect=True)
def test_group_merge_reads_member_config_checked(damaged_run):
    """The merge reads each member's config itself before peft does (its rank, its type)."""
    from tunesmith.config.training import training_config
    from tunesmith.ensemble.merge_check import adapter_config

    run_dir, folder, fragment, file_bytes = damaged_run
    member = SimpleNamespace(run_dir=run_dir, recipe=SimpleNamespace(training=training_config()))
    with pytest.raises(UserError) as info:
        adapter_config(member)
    _assert_names_folder(info, folder, fragment, file_bytes)


def test_a_sound_adapter_config_passes_the_check(tmp_path, tiny_model_dir):
    from peft import LoraConfig, get_peft_model

    from tunesmith.models.safe_files import check_adapter_config, require_readable

    folder = tmp_path / "adapter"
    model = get_peft_model(_base(tiny_model_dir), LoraConfig(r=2, target_modules=["q_proj"]))
    model.save_pretrained(folder)
    require_readable(folder)
    assert check_adapter_config(folder) is None


@pytest.mark.parametrize("method", METHODS.names())
def test_every_methods_sound_result_passes_the_up_front_check(tmp_path, tiny_model_dir, method):
    """The evaluate stage checks each saved result before any row generates (check_saved,
    adapter shapes built on the meta device): a sound one of every method must pass it."""
    from tunesmith.config.training import training_config
    from tunesmith.methods import build_trainable
    from tunesmith.models.base import check_saved

    settings = {"freeze": {"train_top": 1}} if method == "freeze" else {}
    training = training_config(method=method, **settings)
    model = _base(tiny_model_dir)
    folder = tmp_path / METHODS.get(method).artefact
    METHODS.get(method).save(build_trainable(model, training), folder)
    assert check_saved(folder, model.config) is None


@pytest.mark.parametrize("damaged_run", ["other rank"], indirect=True)
def test_the_up_front_check_finds_weights_the_config_does_not_make(damaged_run, tiny_model_dir):
    from tunesmith.models.base import check_saved

    _, folder, fragment, file_bytes = damaged_run
    with pytest.raises(UserError) as info:
        check_saved(folder, _base(tiny_model_dir).config)
    _assert_names_folder(info, folder, fragment, file_bytes)
