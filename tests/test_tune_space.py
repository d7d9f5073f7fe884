"""The `search:` section: space resolution, checks before anything runs, overrides."""

from __future__ import annotations

import pytest
import yaml
from tune_helpers import search_recipe

from tunesmith.config import load_recipe
from tunesmith.config.overrides import override_recipe, set_by_path
from tunesmith.config.search import DEFAULT_SPACES, parse_duration
from tunesmith.config.space import check_space, resolve_space
from tunesmith.config.training import METHOD_NAMES
from tunesmith.errors import UserError


def test_set_by_path_creates_nested_keys():
    raw = {"training": {"lora": {"r": 16}}}
    set_by_path(raw, ["training", "lora", "r"], 4, "test")
    set_by_path(raw, ["data", "curation", "dedup"], None, "test")
    assert raw == {"training": {"lora": {"r": 4}}, "data": {"curation": {"dedup": None}}}


def test_override_recipe_changes_only_the_key(tiny_recipe):
    recipe = load_recipe(tiny_recipe())
    tuned = override_recipe(recipe, {"training.lora.r": 8, "training.learning_rate": 1e-3})
    assert (tuned.training.lora.r, tuned.training.learning_rate) == (8, 1e-3)
    assert tuned.training.batch_size == recipe.training.batch_size


def test_default_space_exists_for_every_method(tiny_recipe):
    methods = METHOD_NAMES
    assert sorted(DEFAULT_SPACES) == sorted(methods)
    for method in methods:
        # freeze has no default for its block count: the space sets it
        extra = {"training.freeze": {"train_top": 1}} if method == "freeze" else {}
        recipe = override_recipe(
            load_recipe(tiny_recipe()), {"training.method": method, "search": {}, **extra}
        )
        space = check_space(recipe)  # every shipped choice is accepted by the schema
        assert list(space) == list(DEFAULT_SPACES[method])


def test_resolve_space_keeps_a_named_space(tiny_recipe):
    recipe = load_recipe(search_recipe(tiny_recipe))
    space = resolve_space(recipe)
    assert list(space) == ["training.learning_rate", "training.lora.r"]
    assert space["training.learning_rate"].log is True


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"training.lr": {"type": "float", "low": 0.1, "high": 0.2}}, "did you mean"),
        ({"training.lora.r": {"type": "categorical", "choices": [4, "big"]}}, "'big'"),
        ({"training.lora.dropout": {"type": "float", "low": 0.0, "high": 1.5}}, "dropout"),
        ({"training.method": {"type": "categorical", "choices": ["lora", "qlora"]}}, "qlora"),
    ],
)
def test_check_space_rejects_bad_keys_and_values(tiny_recipe, space, message):
    recipe = load_recipe(search_recipe(tiny_recipe, space=space))
    with pytest.raises(UserError, match=message):
        check_space(recipe)


def test_empty_range_is_a_recipe_error(tiny_recipe):
    space = {"training.learning_rate": {"type": "float", "low": 1e-2, "high": 1e-3}}
    path = search_recipe(tiny_recipe, space=space)
    line = path.read_text().splitlines().index("    training.learning_rate:") + 1
    with pytest.raises(UserError) as caught:
        load_recipe(path)
    # the key path as written: none of pydantic's union member names (dict[str,...], float)
    assert str(caught.value) == (
        f"{path}:{line}: search.space.training.learning_rate: "
        "empty range: high (0.001) is below low (0.01)"
    )


def test_parse_duration():
    assert [parse_duration(t) for t in ("90", "90s", "30m", "2h", "1.5d")] == [
        90,
        90,
        1800,
        7200,
        129600,
    ]
    with pytest.raises(ValueError):
        parse_duration("two hours")


UNREAD = {
    "distill.temperature": {"type": "float", "low": 1.0, "high": 4.0},
    "export.formats": {"type": "categorical", "choices": [["gguf"], ["merged"]]},
    "checks.forgetting.enabled": {"type": "categorical", "choices": [True, False]},
    # trials judged on validation perplexity generate nothing
    "evaluation.generation.max_new_tokens": {"type": "int", "low": 4, "high": 16},
}
READ = {
    "training.learning_rate": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
    "data.split.seed": {"type": "int", "low": 0, "high": 3},
    "model.precision": {"type": "categorical", "choices": ["fp32", "bf16"]},
    "training.lora.r": {"type": "categorical", "choices": [4]},  # one value: nothing to read
}


@pytest.mark.parametrize("key", UNREAD)
def test_a_key_no_trial_reads_is_refused(tiny_recipe, key):
    from tunesmith.tune.reads import check_space_is_read

    recipe = load_recipe(search_recipe(tiny_recipe, space={key: UNREAD[key]}))
    with pytest.raises(UserError) as caught:
        check_space_is_read(recipe, check_space(recipe))
    assert str(caught.value) == (
        f"search.space.{key}: no trial reads it (a trial runs the stages data, train and is "
        "judged on val_perplexity; none of them depends on it), so every trial would be the "
        "same; search a key they read, or leave it out"
    )


@pytest.mark.parametrize("key", READ)
def test_keys_the_trials_read_are_searched(tiny_recipe, key):
    from tunesmith.tune.reads import check_space_is_read

    recipe = load_recipe(search_recipe(tiny_recipe, space={key: READ[key]}))
    check_space_is_read(recipe, check_space(recipe))


def test_generation_settings_are_read_when_trials_generate(tiny_recipe):
    from tunesmith.tune.reads import check_space_is_read

    key = "evaluation.generation.max_new_tokens"
    space = {key: UNREAD[key]}
    recipe = load_recipe(search_recipe(tiny_recipe, space=space, objective="val_metric"))
    check_space_is_read(recipe, check_space(recipe))


@pytest.mark.parametrize("command", ["validate", "tune"])
def test_validate_and_tune_refuse_an_unread_key_in_one_line(tiny_recipe, tmp_path, command):
    from test_cli import assert_user_error, tunesmith

    path = search_recipe(tiny_recipe, space={"export.formats": UNREAD["export.formats"]})
    hpo = tmp_path / "hpo"
    done = tunesmith(command, path, "-o", hpo)
    assert_user_error(done, "error: search.space.export.formats: no trial reads it")
    assert not (hpo / "study.journal").exists()


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        ("rogue", "search.metric: unknown metric 'rogue' (did you mean 'rouge'?)"),
        ("perplexity", "search.metric: val_metric maximises its metric; search perplexity"),
    ],
)
def test_validate_refuses_a_search_metric_no_trial_could_maximise(tiny_recipe, metric, message):
    """Before, a misspelt metric passed `validate` and every trial trained, then failed; and
    `perplexity` was maximised, so the worst trial became best.yaml."""
    from test_cli import assert_user_error, tunesmith

    path = search_recipe(tiny_recipe, objective="val_metric", metric=metric)
    assert_user_error(tunesmith("validate", path), "recipe.yaml:", message)


def test_validate_refuses_val_metric_on_a_task_without_one(tiny_recipe):
    from test_cli import assert_user_error, tunesmith

    path = search_recipe(tiny_recipe, objective="val_metric")
    done = tunesmith(
        "validate", path, "--set", "task=completion", "--set", "data.text_field=description"
    )
    assert_user_error(
        done, "error: search.objective: task 'completion' has no metric besides perplexity"
    )
    fine = tunesmith("validate", search_recipe(tiny_recipe, objective="val_metric"))
    assert "search.objective: ok (val_metric maximises rouge)" in fine.stderr


def test_epochs_under_a_fixed_max_steps_is_refused(tiny_recipe):
    """`max_steps` overrides `epochs`: searching epochs under it trained every trial for the
    same steps, while validate said every key was read."""
    from tunesmith.tune.reads import check_space_is_read

    epochs = {"training.epochs": {"type": "float", "low": 0.5, "high": 3}}
    recipe = load_recipe(search_recipe(tiny_recipe, space=epochs))  # max_steps: 4
    with pytest.raises(UserError) as caught:
        check_space_is_read(recipe, check_space(recipe))
    assert str(caught.value) == (
        "search.space.training.epochs: training.max_steps (4) overrides it, so it changes no "
        "trial's training; leave training.max_steps unset (null) or training.epochs out"
    )
    steps = {"type": "categorical", "choices": [4, None]}  # epochs read when max_steps is null
    both = load_recipe(search_recipe(tiny_recipe, space={**epochs, "training.max_steps": steps}))
    check_space_is_read(both, check_space(both))
    unset = override_recipe(recipe, {"training.max_steps": None})
    check_space_is_read(unset, check_space(unset))


def _federated(tiny_recipe, space: dict, max_steps):
    path = search_recipe(tiny_recipe, space=space)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw["training"]["max_steps"] = max_steps
    raw["federated"] = {"clients": 2, "rounds": 1, "local_steps": 2}
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return load_recipe(path)


@pytest.mark.parametrize("key", ["training.epochs", "training.max_steps", "training.eval_every"])
def test_training_length_keys_are_refused_for_federated_trials(tiny_recipe, key):
    """Federated clients train rounds x local_steps: searching how long training runs trained
    every trial the same, while validate said every key was read."""
    from tunesmith.tune.reads import check_space_is_read

    space = {key: {"type": "categorical", "choices": [2, 3]}}
    recipe = _federated(tiny_recipe, space, None if key == "training.epochs" else 4)
    with pytest.raises(UserError, match=rf"search.space.{key}: no trial reads it .*federated"):
        check_space_is_read(recipe, check_space(recipe))
    rate = {"training.learning_rate": READ["training.learning_rate"]}
    recipe = _federated(tiny_recipe, rate, 4)
    check_space_is_read(recipe, check_space(recipe))  # what the clients do read
