"""`validate` and `run` share one pre-flight: what validate refuses, run refuses up front."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def tunesmith(*args):
    return subprocess.run(
        [sys.executable, "-m", "tunesmith.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _refused(done, fragment):
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and fragment in last, done.stderr


def test_split_larger_than_the_data_after_max_examples(tiny_recipe, tmp_path):
    recipe = tiny_recipe(**{"data.max_examples": 20})  # 60 records, test asks for 10 + val 8
    path = recipe.read_text().replace("test: 10", "test: 15")
    recipe.write_text(path)
    _refused(tunesmith("validate", recipe), "data.split")
    out = tmp_path / "run"
    _refused(tunesmith("run", recipe, "--output", out), "data.split")
    assert not (out / "data").exists()  # refused before the data stage


def test_garbage_gguf_fails_at_validate(tiny_recipe, tmp_path):
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF" + b"\x00" * 64)
    _refused(tunesmith("validate", tiny_recipe(model=str(gguf))), "not a readable GGUF")


@pytest.mark.parametrize(
    ("weights", "fragment"),
    [(None, "no weights"), (b"x" * 16, "not a readable safetensors"), ("real", "tokenizer")],
    ids=["no-weights", "garbage-weights", "no-tokenizer"],
)
def test_folder_with_only_a_config_fails_at_validate(
    tiny_recipe, tiny_model_dir, tmp_path, weights, fragment
):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text('{"model_type": "llama"}')
    if weights == "real":
        (folder / "model.safetensors").write_bytes(
            (tiny_model_dir / "model.safetensors").read_bytes()
        )
    elif weights:
        (folder / "model.safetensors").write_bytes(weights)
    _refused(tunesmith("validate", tiny_recipe(model=str(folder))), fragment)


def test_validate_reports_what_it_checked(tiny_recipe):
    done = tunesmith("validate", tiny_recipe())
    assert done.returncode == 0, done.stderr
    for line in ("output: ok", "model: ok", "data.train: ok (60 examples", "data.split: ok"):
        assert line in done.stderr
    assert "train 42, val 8, test 10" in done.stderr


def test_validate_says_how_many_records_reading_dropped(tiny_recipe):
    recipe = tiny_recipe()
    data = recipe.parent / "data.jsonl"
    rows = [
        json.dumps({"package": f"x{i}", "description": f"d {i}", "synopsis": None})
        for i in range(3)
    ]
    data.write_text(data.read_text() + "\n".join(rows) + "\n")
    done = tunesmith("validate", recipe)
    assert done.returncode == 0, done.stderr
    assert "warning: read train: 3 of 63 records dropped (missing synopsis: 3;" in done.stderr


def test_headline_goes_to_stdout_with_directions(tmp_path, capsys):
    from tunesmith.artifacts import RunDir, write_json
    from tunesmith.cli.run_cmd import print_headline

    run_dir = RunDir(tmp_path)

    def pair(base, tuned, lower):
        delta = tuned - base
        return {
            "base": base,
            "tuned": tuned,
            "delta": delta,
            "ci_low": delta - 0.1,
            "ci_high": delta + 0.1,
            "lower_is_better": lower,
            "verdict": "better",
            "p_value": 0.01,
            "test": "paired bootstrap",
            "better": True,
            "worse": False,
        }

    def value(v):
        return {"value": v, "ci_low": v - 0.1, "ci_high": v + 0.1}

    metrics = {"perplexity": pair(2.0, 1.5, True), "rougeL": pair(0.1, 0.2, False)}
    rows = {
        name: {"label": name, "metrics": {k: value(m[name]) for k, m in metrics.items()}}
        for name in ("base", "tuned")
    }
    compare = {"sample_size": 40, "rows": rows, "metrics": metrics}
    write_json(run_dir.stage("evaluate") / "compare.json", compare)
    print_headline(run_dir)
    out = capsys.readouterr().out
    assert "perplexity" in out and "(lower is better)" in out
    assert "rougeL" in out and "(higher is better)" in out
    assert "warning: only 40 test examples (< 100)" in out


def _bad_json(tmp_path, name):
    path = tmp_path / name
    path.write_text('{"prompt": "a"\n', encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        (
            lambda tmp: {"training.replay": {"share": 0.2, "file": _bad_json(tmp, "r.jsonl")}},
            "training.replay.file",
        ),
        (
            lambda tmp: {"checks.bias": {"enabled": True, "lexicon": _bad_json(tmp, "lex.json")}},
            "not a readable JSON lexicon",
        ),
        (
            lambda tmp: {
                "data.curation": {"counterfactual": {"lexicon": str(tmp / "missing.json")}}
            },
            "not a readable JSON lexicon",
        ),
        (lambda tmp: {"evaluation.previous_run": str(tmp)}, "not a finished run folder"),
        (lambda tmp: {"model.device": "cuda"}, "model.device: 'cuda' is not available"),
        (
            lambda tmp: {
                "training": {"method": "full", "regularization": {"kl_to_base": 0.1}},
            },
            "kl_to_base: method 'full' has no adapter",
        ),
    ],
    ids=[
        "replay-file",
        "bias-lexicon",
        "counterfactual-lexicon",
        "previous-run",
        "device",
        "kl-to-base-without-adapter",
    ],
)
def test_files_and_devices_later_stages_need_are_checked_up_front(
    tiny_recipe, tmp_path, settings, fragment
):
    """Each of these used to pass validate and fail only in its stage, hours later."""
    import torch

    from tunesmith.config import load_recipe
    from tunesmith.errors import UserError
    from tunesmith.preflight import preflight

    if fragment.startswith("model.device") and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    recipe = load_recipe(tiny_recipe(**settings(tmp_path)))
    with pytest.raises(UserError, match=fragment):
        preflight(recipe, None)


def test_validate_refuses_a_bad_replay_file(tiny_recipe, tmp_path):
    replay = {"share": 0.2, "file": _bad_json(tmp_path, "replay.jsonl")}
    _refused(tunesmith("validate", tiny_recipe(**{"training.replay": replay})), "not JSON lines")


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"lora": {"target_modules": ["q_proj", "nope_proj"]}}, r"lora.target_modules: \['nope_"),
        ({"lora": {"target_modules": r".*\.nope"}}, r"lora.target_modules: '.*\\\\.nope' match"),
        (
            {"method": "ia3", "ia3": {"target_modules": ["qproj"]}},
            r"ia3.target_modules: \['qproj'\]",
        ),
    ],
    ids=["lora-list", "lora-regex", "ia3"],
)
def test_target_modules_the_model_lacks_are_refused_without_loading_it(
    tiny_recipe, settings, fragment
):
    """peft refused them only when training started (NoMatchingPeftModuleError, a traceback);
    the module names come from the architecture built on the meta device."""
    from tunesmith.config import load_recipe
    from tunesmith.errors import UserError
    from tunesmith.preflight import preflight

    recipe = load_recipe(tiny_recipe(training=settings))
    with pytest.raises(UserError, match=f"training.{fragment}") as info:
        preflight(recipe, None)
    assert "q_proj" in str(info.value)  # the hint lists the model's module names


@pytest.mark.parametrize("targets", [["q_proj", "v_proj"], r".*self_attn\.(q|v)_proj"])
def test_target_modules_the_model_has_pass(tiny_recipe, targets):
    from tunesmith.config import load_recipe
    from tunesmith.preflight import preflight

    recipe = load_recipe(tiny_recipe(training={"lora": {"target_modules": targets}}))
    assert any("target_modules: ok" in line for line in preflight(recipe, None))


def _with_pretrain_targets(tiny_recipe, tmp_path, targets):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("Domain text about packages and their dependencies.\n" * 20)
    settings = {"corpus": str(corpus), "max_steps": 1, "lora": {"target_modules": targets}}
    return tiny_recipe(pretrain=settings)


def test_pretrain_target_modules_the_model_lacks_are_refused_up_front(tiny_recipe, tmp_path):
    """Pre-training's LoRA passed validate and failed at its stage, after the data stage."""
    from tunesmith.config import load_recipe
    from tunesmith.errors import UserError
    from tunesmith.preflight import preflight

    path = _with_pretrain_targets(tiny_recipe, tmp_path, ["q_proj", "nope_proj"])
    with pytest.raises(UserError) as info:
        preflight(load_recipe(path), None)
    assert str(info.value).startswith("pretrain.lora.target_modules: ['nope_proj'] match no ")
    assert "q_proj" in str(info.value)  # the hint lists the model's module names
    _refused(tunesmith("validate", path), "pretrain.lora.target_modules: ['nope_proj']")


def test_pretrain_target_modules_the_model_has_pass(tiny_recipe, tmp_path):
    from tunesmith.config import load_recipe
    from tunesmith.preflight import preflight

    path = _with_pretrain_targets(tiny_recipe, tmp_path, ["q_proj", "v_proj"])
    lines = preflight(load_recipe(path), None)
    assert "pretrain.lora.target_modules: ok (q_proj, v_proj found in the model)" in lines
