"""GPT-2 through the methods, the pre-flight and the export: its config keys are n_layer and
n_embd, its blocks `h` and final norm `ln_f`, its layers transformers' Conv1D (not nn.Linear).
Each of these once failed late (a traceback after loading) or silently (an fp32 'int8')."""

from __future__ import annotations

import pytest
from conftest import make_records, write_recipe

from tunesmith.config import load_recipe
from tunesmith.config.training import training_config
from tunesmith.errors import UserError
from tunesmith.methods import build_trainable

torch = pytest.importorskip("torch")


@pytest.fixture(scope="session")
def gpt2_dir(tmp_path_factory, tiny_model_dir):
    """A saved tiny GPT-2 (2 blocks, tied head) with the tiny Llama's tokenizer."""
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    folder = tmp_path_factory.mktemp("tiny-gpt2")
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    tokenizer.save_pretrained(folder)
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=4, n_positions=256)
    config.bos_token_id = config.eos_token_id = tokenizer.eos_token_id
    torch.manual_seed(0)
    GPT2LMHeadModel(config).save_pretrained(folder)
    return folder


def _gpt2(gpt2_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(gpt2_dir)).eval()


def _training(method, **settings):
    return training_config(method=method, **settings)


def _recipe(tmp_path, model_dir, training, **extra):
    # the model named as a bare path, the split left at its defaults
    return write_recipe(
        tmp_path, model_dir, make_records(20), {}, model=str(model_dir), training=training, **extra
    )


# --- freeze: blocks and final norm found by shape, not by Llama's names ---------------------


def test_freeze_trains_gpt2s_top_block_and_final_norm(gpt2_dir):
    model = _gpt2(gpt2_dir)
    build_trainable(model, _training("freeze", freeze={"train_top": 1, "train_head": False}))
    trained = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trained == {
        n for n, _ in model.named_parameters() if n.startswith("transformer.h.1.")
    } | {
        "transformer.ln_f.weight",
        "transformer.ln_f.bias",
    }


def test_freeze_refuses_a_model_whose_blocks_cannot_be_found(gpt2_dir):
    model = _gpt2(gpt2_dir)
    model.config.n_layer = 3  # no list of 3 blocks in the decoder
    with pytest.raises(
        UserError, match=r"^training\.method: freeze cannot find the blocks of GPT2"
    ):
        build_trainable(model, _training("freeze", freeze={"train_top": 1}))


# --- pre-flight: the depth from AutoConfig (n_layer), not config.json's num_hidden_layers ---


def test_validate_checks_the_freeze_depth_of_gpt2(tmp_path, gpt2_dir):
    from tunesmith.preflight import check_methods

    too_deep = load_recipe(
        _recipe(tmp_path, gpt2_dir, {"method": "freeze", "freeze": {"train_top": 2}})
    )
    with pytest.raises(UserError, match=r"training\.freeze\.train_top: 2 >= the model's 2 blocks"):
        check_methods(too_deep)
    fits = load_recipe(
        _recipe(tmp_path, gpt2_dir, {"method": "freeze", "freeze": {"train_top": 1}})
    )
    assert check_methods(fits) == ["training.method: ok (freeze, model of 2 blocks)"]


def test_the_distil_check_reads_gpt2s_depth(tmp_path, gpt2_dir):
    from tunesmith.preflight import _deployment

    recipe = load_recipe(_recipe(tmp_path, gpt2_dir, {"method": "full"}, distill={}))
    assert "distill: ok (student of 1 blocks)" in _deployment(recipe)


# --- LoHa: peft has no LoHa layer for Conv1D; refused before any weights load ----------------


def test_validate_refuses_loha_on_gpt2_in_one_line(tmp_path, gpt2_dir):
    from test_cli import assert_user_error, tunesmith

    done = tunesmith("validate", _recipe(tmp_path, gpt2_dir, {"method": "loha"}))
    assert_user_error(done, "training.method: loha cannot adapt Conv1D layers", "use method lora")


@pytest.mark.parametrize("command", ["validate", "tune"])
def test_a_searched_loha_choice_is_refused_on_gpt2_up_front(tmp_path, gpt2_dir, command):
    """Each choice of a searched `training.method` gets the fixed method's check: LoHa on
    GPT-2's Conv1D layers is one line before the search, not a failed trial per pick."""
    from test_cli import assert_user_error, tunesmith

    space = {"training.method": {"type": "categorical", "choices": ["lora", "loha"]}}
    path = _recipe(tmp_path, gpt2_dir, {"method": "lora"}, search={"space": space})
    hpo = tmp_path / "hpo"
    done = tunesmith(command, path, "-o", hpo)
    assert_user_error(
        done, "error: search.space 'training.method'='loha': training.method: loha cannot adapt "
    )
    assert not hpo.exists()


def test_loha_is_refused_on_gpt2_before_peft_builds_it(gpt2_dir):
    with pytest.raises(UserError, match=r"^training\.method: loha cannot adapt Conv1D layers"):
        build_trainable(_gpt2(gpt2_dir), _training("loha", loha={"target_modules": ["c_attn"]}))


def test_loha_on_nn_linear_layers_passes_the_check(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    wrapped = build_trainable(model, _training("loha", loha={"r": 2, "alpha": 4}))
    assert any(p.requires_grad for p in wrapped.parameters())


@pytest.mark.parametrize(
    "training",
    [
        {"method": "lora", "lora": {"r": 2, "use_dora": True}},
        {"method": "ia3"},
        {"method": "prompt_tuning", "prompt_tuning": {"num_virtual_tokens": 2}},
    ],
    ids=["dora", "ia3", "prompt_tuning"],
)
def test_the_other_peft_methods_train_on_gpt2s_conv1d(gpt2_dir, training):
    """Only LoHa lacks a Conv1D layer: these build, and a step's loss has gradients."""
    model = build_trainable(_gpt2(gpt2_dir), training_config(**training))
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    model(input_ids=ids, labels=ids).loss.backward()
    assert any(p.grad is not None for p in model.parameters() if p.requires_grad)


# --- int8: torchao quantises nn.Linear only; GPT-2's folder came out all fp32 ----------------


def test_int8_export_refuses_gpt2_and_gguf_no_longer_suggests_it(gpt2_dir):
    from tunesmith.export.formats import FORMATS
    from tunesmith.export.gguf_file import check_architecture

    with pytest.raises(UserError, match=r"^export\.formats: int8 quantises nn\.Linear .*Conv1D"):
        FORMATS.get("int8").check(_gpt2(gpt2_dir), gpt2_dir)
    with pytest.raises(UserError, match=r"not 'gpt2'; use the merged format$"):
        check_architecture("gpt2")
    with pytest.raises(UserError, match=r"not 'phi3'; use the merged or int8 format$"):
        check_architecture("phi3")


def test_int8_refusal_comes_before_any_artefact_is_written(tmp_path, gpt2_dir, monkeypatch):
    from tunesmith.artifacts import RunDir
    from tunesmith.config.export import ExportConfig
    from tunesmith.export.build import export_run
    from tunesmith.methods import tuned

    model = _gpt2(gpt2_dir)
    monkeypatch.setattr(tuned, "merged_tuned", lambda *args: (model, None, gpt2_dir))
    run_dir = RunDir(tmp_path / "run")
    with pytest.raises(UserError, match="int8 quantises nn.Linear"):
        export_run(None, run_dir, ExportConfig(formats=["merged", "int8"]))
    assert not (run_dir.stage("export") / "merged").exists()


def test_int8_export_of_a_linear_model_holds_int8_tensors(tmp_path, tiny_model_dir):
    """The case int8 is for: the check passes, the folder reloads int8 with close logits."""
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM

    from tunesmith.export.formats import FORMATS, Artefact

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)).eval()
    fmt = FORMATS.get("int8")
    fmt.check(model, tiny_model_dir)
    staging = tmp_path / "int8"
    fmt.write(model, tiny_model_dir, staging, Artefact("int8", "int8", "int8"), None)
    with safe_open(str(staging / "model.safetensors"), "pt") as f:
        dtypes = {f.get_slice(k).get_dtype() for k in f.keys()}  # noqa: SIM118 (no __iter__)
    assert "I8" in dtypes
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    with torch.no_grad():
        expected, got = model(input_ids=ids).logits, fmt.load(staging)(input_ids=ids).logits
    assert (got - expected).abs().max() <= 0.05 * expected.abs().max()


# --- regularisation: GPT-2's blocks `h` with `attn`, its attention dropout `attn_dropout` ------


def test_dropouts_reach_gpt2s_blocks_and_are_undone(gpt2_dir):
    """hidden_dropout read `get_decoder().layers` (AttributeError on GPT-2), and
    attention_dropout set a config field GPT-2 never reads (silently nothing)."""
    from test_strategies import assert_training_only

    from tunesmith.config.strategies import Regularization

    model = _gpt2(gpt2_dir)
    for layer in model.modules():  # GPT-2's own dropouts off: only the recipe's act
        if isinstance(layer, torch.nn.Dropout):
            layer.p = 0.0
    inputs = {"input_ids": torch.arange(3, 19).view(2, 8)}
    for reg in (Regularization(hidden_dropout=0.5), Regularization(attention_dropout=0.5)):
        assert_training_only(model, inputs, reg)


def test_validate_refuses_an_int8_export_of_gpt2_before_training(tmp_path, gpt2_dir):
    """A run with export int8 on GPT-2 trained first, then stopped at the export stage."""
    from tunesmith.preflight import _deployment

    recipe = load_recipe(
        _recipe(tmp_path, gpt2_dir, {"method": "lora"}, export={"formats": ["int8"]})
    )
    with pytest.raises(UserError, match=r"^export\.formats: int8 quantises nn\.Linear .*Conv1D"):
        _deployment(recipe)
    merged = load_recipe(
        _recipe(tmp_path, gpt2_dir, {"method": "lora"}, export={"formats": ["merged"]})
    )
    assert _deployment(merged) == ["export: ok (merged)"]
