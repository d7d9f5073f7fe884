"""A federation stopped midway goes on from its last finished round when the same command
runs again: the rounds after it train as in an unbroken run, to the same adapter."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_federated import _write_recipe
from test_federated_privacy import _proxy

from tunesmith.artifacts import RunDir
from tunesmith.config.loader import load_recipe
from tunesmith.errors import UserError


class Stop(KeyboardInterrupt):
    """Ctrl-C during a round: what a killed server leaves is what the round before saved."""


def _in_process(stop_at: int | None = None, asked: list | None = None):
    """A transport running the rounds in this process with the real clients (what Flower's
    simulation does, without Ray), stopped in federation round `stop_at` once its clients
    trained; `asked` gets the federation round of every round it runs."""

    def transport(recipe, run_dir, strategy) -> None:
        from flwr.server.client_manager import SimpleClientManager

        from tunesmith.federated.flower_app import make_client

        count = recipe.federated.clients
        clients = {str(i): make_client(recipe, run_dir, i) for i in range(count)}
        manager = SimpleClientManager()
        for cid in clients:
            manager.register(_proxy(cid))
        parameters = strategy.initialize_parameters(manager)
        for server_round in range(1, strategy.rounds_to_run + 1):
            pairs = strategy.configure_fit(server_round, parameters, manager)
            if not pairs:
                break
            federation_round = int(pairs[0][1].config["round"])
            if asked is not None:
                asked.append(federation_round)
            results = [(proxy, clients[proxy.cid].fit(ins)) for proxy, ins in pairs]
            if federation_round == stop_at:  # the clients trained, the server did not hear back
                raise Stop
            parameters, _ = strategy.aggregate_fit(server_round, results, [])

    return transport


def _run(folder, recipe, monkeypatch, transport) -> RunDir:
    from tunesmith.federated import transport as transports
    from tunesmith.pipeline import run_pipeline

    monkeypatch.setattr(transports, "simulate", transport)
    run_dir = RunDir(folder)
    run_pipeline(recipe, run_dir, only=["data", "federated"])
    return run_dir


def _adapter(run_dir: RunDir) -> dict:
    from safetensors.numpy import load_file

    return load_file(str(run_dir.train / "adapter" / "adapter_model.safetensors"))


@pytest.fixture(scope="module")
def recipe(tmp_path_factory, tiny_model_dir):
    folder = tmp_path_factory.mktemp("fed-resume")
    return load_recipe(_write_recipe(folder, tiny_model_dir, rounds=3, baselines=False))


@pytest.fixture(scope="module")
def unbroken(recipe, tmp_path_factory):
    monkeypatch = pytest.MonkeyPatch()
    try:
        return _run(tmp_path_factory.mktemp("unbroken") / "run", recipe, monkeypatch, _in_process())
    finally:
        monkeypatch.undo()


def test_a_stopped_federation_goes_on_from_its_last_round_to_the_same_adapter(
    recipe, unbroken, tmp_path, monkeypatch
):
    folder = tmp_path / "run"
    with pytest.raises(Stop):
        _run(folder, recipe, monkeypatch, _in_process(stop_at=3))
    saved = json.loads((folder / "train/checkpoints/federated/progress.json").read_text())
    assert saved["rounds_done"] == 2 and [r["round"] for r in saved["rows"]] == [1, 2]
    asked = []
    run_dir = _run(folder, recipe, monkeypatch, _in_process(asked=asked))
    assert asked == [3]  # rounds 1 and 2 were not trained again
    for name, value in _adapter(unbroken).items():
        np.testing.assert_allclose(_adapter(run_dir)[name], value, rtol=1e-5, atol=1e-7)
    report = json.loads((run_dir.train / "federated.json").read_text())
    expected = json.loads((unbroken.train / "federated.json").read_text())
    assert [r["round"] for r in report["rounds"]] == [1, 2, 3]
    for key in ("val_ppl", "train_loss"):  # round 3's clients trained twice: counted once
        assert [r[key] for r in report["rounds"]] == pytest.approx(
            [r[key] for r in expected["rounds"]], rel=1e-5
        )
    steps = [json.loads(line)["step"] for line in (run_dir.train / "metrics.jsonl").open()]
    assert steps == [2, 4, 6]  # one row per round, none twice
    for client in (run_dir.train / "clients").iterdir():  # round 3 trained again, logged once
        logged = (client / "round_3" / "metrics.jsonl").read_text().splitlines()
        assert [json.loads(line)["step"] for line in logged] == [1, 2]
    summary = json.loads((run_dir.train / "summary.json").read_text())
    assert summary["resumed"] is True and summary["rounds"] == 3
    assert not (run_dir.train / "checkpoints").exists() or not any(
        (run_dir.train / "checkpoints").iterdir()
    )  # resume state removed once the stage finished


def test_a_stop_before_the_first_round_ends_starts_from_round_one(recipe, tmp_path, monkeypatch):
    folder = tmp_path / "run"
    with pytest.raises(Stop):
        _run(folder, recipe, monkeypatch, _in_process(stop_at=1))
    asked = []
    _run(folder, recipe, monkeypatch, _in_process(asked=asked))
    assert asked == [1, 2, 3]


def test_a_damaged_round_checkpoint_is_one_line(recipe, tmp_path, monkeypatch):
    folder = tmp_path / "run"
    with pytest.raises(Stop):
        _run(folder, recipe, monkeypatch, _in_process(stop_at=2))
    latest = folder / "train/checkpoints/federated/latest.safetensors"
    latest.write_bytes(b"not safetensors")
    with pytest.raises(UserError, match="delete .* to start the federation over"):
        _run(folder, recipe, monkeypatch, _in_process())
