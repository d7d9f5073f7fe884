"""Federated LoRA (tunesmith.federated): the aggregations against the mean of the clients'
ΔW = B·A, partitions, bad input, and a Flower simulation of the whole run on the tiny model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tunesmith.config.federated import AGGREGATIONS as SCHEMA_NAMES
from tunesmith.config.federated import FederatedConfig
from tunesmith.errors import UserError
from tunesmith.federated.aggregation import AGGREGATIONS, delta_w, lora_pairs
from tunesmith.federated.partition import partition

A, B = "m.q_proj.lora_A.default.weight", "m.q_proj.lora_B.default.weight"


def _clients(count: int, rank: int, shared_a: bool, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(rank, 12)).astype(np.float32)
    return [
        {
            A: a if shared_a else rng.normal(size=(rank, 12)).astype(np.float32),
            B: rng.normal(size=(10, rank)).astype(np.float32),
        }
        for _ in range(count)
    ]


def _mean_delta(states, weights):
    total = sum(weights)
    return sum(delta_w(s, A, B) * (w / total) for s, w in zip(states, weights))


def test_schema_names_equal_the_registered_aggregations():
    assert set(SCHEMA_NAMES) == set(AGGREGATIONS.names())


def test_freeze_a_equals_the_mean_of_the_clients_products():
    states, weights = _clients(3, 4, shared_a=True), [5, 1, 2]
    merged = AGGREGATIONS.get("freeze_a").combine(states, weights)
    np.testing.assert_allclose(delta_w(merged, A, B), _mean_delta(states, weights), atol=1e-5)
    np.testing.assert_array_equal(merged[A], states[0][A])


def test_averaging_a_and_b_separately_is_not_the_mean_product():
    states, weights = _clients(3, 4, shared_a=False), [1, 1, 1]
    naive = np.mean([s[B] for s in states], 0) @ np.mean([s[A] for s in states], 0)
    assert np.abs(naive - _mean_delta(states, weights)).max() > 0.5


def test_freeze_a_refuses_clients_whose_a_moved():
    with pytest.raises(ValueError, match="A must stay frozen"):
        AGGREGATIONS.get("freeze_a").combine(_clients(2, 4, shared_a=False), [1, 1])


def test_svd_is_exact_when_the_mean_fits_the_rank():
    # 2 clients of rank 2 inside a rank-4 adapter: the mean has rank <= 4, so SVD is exact.
    states = _clients(2, 4, shared_a=False)
    for s in states:
        s[B][:, 2:] = 0
    merged = AGGREGATIONS.get("svd").combine(states, [3, 1])
    np.testing.assert_allclose(delta_w(merged, A, B), _mean_delta(states, [3, 1]), atol=1e-4)
    assert merged[A].shape == states[0][A].shape and merged[B].shape == states[0][B].shape


def test_svd_gives_the_best_rank_r_approximation_otherwise():
    states, weights = _clients(3, 2, shared_a=False), [1, 2, 3]
    mean = _mean_delta(states, weights)
    merged = AGGREGATIONS.get("svd").combine(states, weights)
    sigma = np.linalg.svd(mean, compute_uv=False)
    error = np.linalg.norm(delta_w(merged, A, B) - mean)
    assert error == pytest.approx(np.sqrt((sigma[2:] ** 2).sum()), rel=1e-4)  # Eckart-Young
    assert lora_pairs(merged) == [(A, B)]


def test_iid_partition_is_seeded_disjoint_and_complete():
    examples = [{"id": f"e{i}"} for i in range(10)]
    parts = partition(examples, FederatedConfig(clients=3, seed=1))
    ids = sorted(e["id"] for p in parts for e in p)
    assert ids == sorted(e["id"] for e in examples) and [len(p) for p in parts] == [4, 3, 3]
    assert parts == partition(examples, FederatedConfig(clients=3, seed=1))
    assert parts != partition(examples, FederatedConfig(clients=3, seed=2))


def test_partition_by_field_gives_one_client_per_value():
    examples = [{"id": str(i), "client": "abc"[i % 3]} for i in range(9)]
    parts = partition(examples, FederatedConfig(clients=3, partition_field="owner"))
    assert [sorted({e["client"] for e in p}) for p in parts] == [["a"], ["b"], ["c"]]
    with pytest.raises(UserError, match="3 distinct values"):
        partition(examples, FederatedConfig(clients=2, partition_field="owner"))


def test_more_clients_than_examples_is_one_clear_line():
    with pytest.raises(UserError, match="5 clients but only 3 training examples"):
        partition([{"id": "a"}, {"id": "b"}, {"id": "c"}], FederatedConfig(clients=5))


FEDERATED = {"clients": 3, "rounds": 2, "local_steps": 2}
CHECKS = ("forgetting", "robustness", "bias", "explain", "triggers")


def _write_recipe(folder, model_dir, training: dict | None = None, **federated):
    import yaml
    from conftest import make_records, write_jsonl

    recipe = {
        "name": "fed",
        "task": "summarization",
        "model": {"name": str(model_dir), "precision": "fp32", "threads": 1},
        "data": {
            "train": str(write_jsonl(folder / "data.jsonl", make_records(30))),
            "input_field": "description",
            "output_field": "synopsis",
            "split": {"validation": 4, "test": 6, "seed": 0},
        },
        "training": {
            "batch_size": 4,
            "learning_rate": 5e-3,
            "max_seq_length": 40,  # every row (42-45 tokens) is cut: the cut is counted
            "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
            **(training or {}),
        },
        "evaluation": {"few_shot": 0, "generation": {"max_new_tokens": 4}},
        "checks": {name: {"enabled": False} for name in CHECKS},  # tested on their own
        "federated": {**FEDERATED, **federated},
    }
    path = folder / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def simulated_run(tmp_path_factory, tiny_model_dir):
    """A whole run, federated by a Flower simulation of 3 clients on the tiny model."""
    from tunesmith.artifacts import RunDir
    from tunesmith.config.loader import load_recipe
    from tunesmith.pipeline import run_pipeline

    tmp = tmp_path_factory.mktemp("federated")
    run_dir = RunDir(tmp / "run")
    # 3 rounds, but no later round can beat the first by min_delta: patience 1 ends the run
    # after round 2, and round 1's adapter is the tuned model
    stop = {"early_stopping": {"patience": 1, "min_delta": 1e9}}
    run_pipeline(load_recipe(_write_recipe(tmp, tiny_model_dir, stop, rounds=3)), run_dir)
    return run_dir


def test_simulation_writes_the_aggregated_adapter_as_the_tuned_model(simulated_run):
    report = json.loads((simulated_run.train / "federated.json").read_text())
    assert [r["round"] for r in report["rounds"]] == [1, 2]
    assert [r["clients"] for r in report["rounds"]] == [[1, 2, 3], [1, 2, 3]]
    assert sum(report["client_examples"]) == 20 and report["aggregation"] == "freeze_a"
    assert (simulated_run.train / "adapter" / "adapter_model.safetensors").is_file()
    cut = {"rows": 20, "cut": 20, "prompt_cut": 20, "answer_cut": 0, "max_seq_length": 40}
    summary = json.loads((simulated_run.train / "summary.json").read_text())
    assert report["truncation"] == summary["truncation"] == cut  # the clients cut them silently
    page = (simulated_run.report / "report.html").read_text(encoding="utf-8")
    assert "Cut to max_seq_length 40: 20 of 20 training rows (100 %)" in page
    manifest = json.loads((simulated_run.root / "manifest.json").read_text())
    assert manifest["stages"]["federated"]["status"] == "done"
    assert "train" not in manifest["stages"]


def test_early_stopping_ends_the_rounds_and_ships_the_best_round(simulated_run):
    from tunesmith.config.loader import load_recipe
    from tunesmith.methods import load_tuned
    from tunesmith.models.base import load_base
    from tunesmith.models.nll import perplexity
    from tunesmith.train.encoded import encoded_split

    report = json.loads((simulated_run.train / "federated.json").read_text())
    first, second = [r["val_ppl"] for r in report["rounds"]]  # round 3 never ran
    assert report["best_round"] == 1 and report["stopped_early"] is True and second != first
    summary = json.loads((simulated_run.train / "summary.json").read_text())
    expected = {"steps": 4, "total_steps": 6, "rounds": 2, "best_round": 1, "best_step": 2}
    assert {key: summary[key] for key in expected} == expected
    assert summary["best_val_ppl"] == first and summary["stopped_early"] is True
    manifest = json.loads((simulated_run.root / "manifest.json").read_text())
    assert manifest["stages"]["federated"]["result"]["best_round"] == 1
    # the shipped adapter is round 1's: its validation perplexity is round 1's, not round 2's
    recipe = load_recipe(simulated_run.root.parent / "recipe.yaml")
    base, tokenizer = load_base(recipe, simulated_run, pretrained=True, device="cpu")
    model = load_tuned(recipe.training, simulated_run.train, base).eval()
    _, val = encoded_split(simulated_run.data / "val.jsonl", tokenizer, 40)
    shipped = perplexity(model, val, recipe.training.batch_size, tokenizer.pad_token_id)
    assert shipped == pytest.approx(first, rel=1e-4) and shipped != pytest.approx(second)


def test_federated_vs_centralised_vs_each_client_alone_with_intervals(simulated_run):
    compare = json.loads((simulated_run.eval / "compare.json").read_text())
    rows = set(compare["rows"])
    assert {"base", "tuned", "centralised", "client_1", "client_2", "client_3"} <= rows
    ppl = compare["rows"]["centralised"]["metrics"]["perplexity"]
    assert ppl["ci_low"] <= ppl["value"] <= ppl["ci_high"]
    page = (simulated_run.report / "report.html").read_text(encoding="utf-8")
    assert "centralised LoRA" in page and "client 3 alone" in page  # the report's table


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_real_server_and_two_client_processes_on_loopback(tmp_path, tiny_model_dir):
    """With federated.privacy on: the processes run the private strategy (the simulation above
    runs the plain one, through the same transport-free code)."""
    import subprocess
    import sys

    privacy = {"noise_multiplier": 0.5, "clip_norm": 1.0}
    recipe = _write_recipe(
        tmp_path, tiny_model_dir, clients=2, rounds=1, baselines=False, privacy=privacy
    )
    address = f"127.0.0.1:{_free_port()}"
    cli = [sys.executable, "-m", "tunesmith.cli", "federated"]
    run = tmp_path / "run"
    server = subprocess.Popen([*cli, "server", str(recipe), "-o", str(run), "--address", address])
    clients = [
        subprocess.Popen(
            [
                *cli,
                "client",
                str(recipe),
                "--run",
                str(run),
                "--client",
                str(i),
                "--address",
                address,
            ]
        )
        for i in (1, 2)
    ]
    try:
        assert [p.wait(timeout=600) for p in clients] == [0, 0]
        assert server.wait(timeout=600) == 0
    finally:  # a failed client leaves the server waiting for it
        for process in [server, *clients]:
            process.kill()
    report = json.loads((run / "train" / "federated.json").read_text())
    assert [r["clients"] for r in report["rounds"]] == [[1, 2]]
    assert report["privacy"]["epsilon"] > 0 and len(report["rounds"][0]["update_norms"]) == 2
    assert (run / "eval" / "compare.json").is_file()


def test_client_number_beyond_the_recipe_is_one_line_and_exit_2(tmp_path, tiny_model_dir):
    recipe = _write_recipe(tmp_path, tiny_model_dir, clients=2)
    done = _cli("federated", "client", recipe, "--run", tmp_path / "run", "--client", 3)
    assert done.returncode == 2 and "clients 1-2" in done.stderr
    assert "Traceback" not in done.stderr


def _cli(*args):
    import subprocess
    import sys

    command = [sys.executable, "-m", "tunesmith.cli", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_more_clients_than_examples_stops_the_run_with_exit_2(tmp_path, tiny_model_dir):
    done = _cli("run", _write_recipe(tmp_path, tiny_model_dir, clients=25), "-o", tmp_path / "r")
    assert done.returncode == 2, done.stderr[-2000:]
    assert "25 clients but only 20 training examples" in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "r" / "data").exists()  # refused by the pre-flight, before any stage


def test_unknown_aggregation_is_refused_by_validate_with_exit_2(tmp_path, tiny_model_dir):
    done = _cli("validate", _write_recipe(tmp_path, tiny_model_dir, aggregation="mean_ab"))
    assert done.returncode == 2 and "federated.aggregation" in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


# --- what every client trains with: the train stage's class weights and batch plan ---------


def _classification_run(folder, model_dir, **training):
    """A federated classification run with its data stage done (1:2 labels, class weights)."""
    from conftest import make_records, write_jsonl

    from tunesmith.artifacts import RunDir
    from tunesmith.config.loader import load_recipe
    from tunesmith.config.overrides import override_recipe
    from tunesmith.pipeline import run_pipeline

    folder.mkdir(parents=True)
    path = _write_recipe(folder, model_dir, training)
    records = make_records(30)
    for i, record in enumerate(records):
        record["label"] = "utils" if i % 3 == 0 else "devel"
    write_jsonl(folder / "data.jsonl", records)
    values = {
        "task": "classification",
        "data.output_field": "label",
        "data.curation.balance.method": "class_weights",
    }
    recipe = override_recipe(load_recipe(path), values)
    run_dir = RunDir(folder / "run")
    run_pipeline(recipe, run_dir, only=["data"])
    return recipe, run_dir


def _first_round(recipe, run_dir) -> tuple:
    """Client 1's round 1 through its Flower client (no simulation): (plan, loss)."""
    from flwr.common import Code, FitIns, ndarrays_to_parameters

    from tunesmith.federated.flower_app import Wire, local_model, make_client

    local = local_model(recipe, run_dir)
    start = ndarrays_to_parameters(Wire(local.initial, local.trained).arrays(local.initial))
    done = make_client(recipe, run_dir, 0).fit(FitIns(start, {"round": 1}))
    assert done.status.code == Code.OK
    return local.plans[0], float(done.metrics["loss"])


def test_clients_train_with_the_class_weights_curriculum_and_replay(tmp_path, tiny_model_dir):
    from tunesmith.artifacts import read_jsonl

    extra = {"curriculum": {"scorer": "random", "start_fraction": 0.1}, "replay": {"share": 0.5}}
    plain, plain_dir = _classification_run(tmp_path / "plain", tiny_model_dir)
    planned, planned_dir = _classification_run(tmp_path / "planned", tiny_model_dir, **extra)
    weights = json.loads((plain_dir.data / "class_weights.json").read_text())
    assert weights and len(set(weights.values())) == 2
    examples = partition(read_jsonl(plain_dir.data / "train.jsonl"), plain.federated)[0]
    plan, plain_loss = _first_round(plain, plain_dir)
    rows = plan.items[: plan.train_count]
    assert [item.weight for item in rows] == [weights[e["label"]] for e in examples]
    assert plan.sampler is None and len(plan.items) == plan.train_count == len(examples)
    plan, planned_loss = _first_round(planned, planned_dir)
    assert plan.curriculum["scorer"] == "random" and len(plan.items) > plan.train_count
    assert planned_loss != pytest.approx(plain_loss)  # the same rows, batched by the plan


def test_a_clients_plan_goes_on_over_the_rounds():
    """Round r's local steps continue the client's schedule (the curriculum's pacing)."""
    from tunesmith.federated.local import _Continued
    from tunesmith.train.batching import LengthGroupedSampler

    inner = LengthGroupedSampler([5, 6, 7, 8, 9, 10, 11], 2, 0)
    later = _Continued(inner, 3).batches(0)
    expected = inner.batches(3)
    assert [next(later) for _ in range(4)] == [next(expected) for _ in range(4)]


# --- round-level early stopping, the server's strategy driven by hand --------------------------


def test_round_early_stopping_asks_no_client_after_patience_and_keeps_the_best():
    from types import SimpleNamespace

    from flwr.common import Code, FitRes, Status, ndarrays_to_parameters, parameters_to_ndarrays
    from flwr.server.client_manager import SimpleClientManager
    from test_federated_privacy import _Local, _proxy

    from tunesmith.config.training import training_config
    from tunesmith.federated.flower_app import Wire
    from tunesmith.federated.strategy import make_strategy

    local = _Local()
    scores = iter([5.0, 4.0, 4.5, 4.2, 3.0])  # best at round 2, then two rounds without gain
    local.val_perplexity = lambda state, items: next(scores)
    stop = {"early_stopping": {"patience": 2, "min_delta": 0.0}}
    recipe = SimpleNamespace(federated=FederatedConfig(clients=2), training=training_config(**stop))
    records, released = [], {}
    strategy = make_strategy(recipe, local, ["a validation row"], records.append)
    manager = SimpleClientManager()
    for cid in ("0", "1"):
        manager.register(_proxy(cid))
    parameters = strategy.initialize_parameters(manager)
    digest = Wire(local.initial, local.trained).digest
    asked = []
    for server_round in range(1, 6):
        pairs = strategy.configure_fit(server_round, parameters, manager)
        asked.append(len(pairs))
        if not pairs:
            continue
        fits = []
        for i, (proxy, ins) in enumerate(pairs):
            (b,) = parameters_to_ndarrays(ins.parameters)
            sent = ndarrays_to_parameters([b + 0.01 * server_round])
            metrics = {"client": i, "frozen": digest, "sampled": 1, "loss": 1.0}
            fits.append((proxy, FitRes(Status(Code.OK, ""), sent, 5, metrics)))
        parameters, _ = strategy.aggregate_fit(server_round, fits, [])
        released[server_round] = parameters_to_ndarrays(parameters)[0]
    assert asked == [2, 2, 2, 2, 0] and strategy.rounds_done == 4
    stopping = strategy.stopping
    assert (stopping.best_round, stopping.best_val_ppl, stopping.stopped_early) == (2, 4.0, True)
    np.testing.assert_array_equal(stopping.best_state[B], released[2])
    assert [r["val_ppl"] for r in records] == [5.0, 4.0, 4.5, 4.2]


def _round_with_a_lost_client(recipe, run_dir, strategy) -> None:
    """A transport whose round 1 has one client's result and one lost client (the failure
    Flower reports for a client process killed mid-round), then asks for round 2."""
    from flwr.common import Code, FitRes, Status

    ins = strategy.configure_fit(1, strategy.initialize_parameters(None), _TwoClients())
    [(_, first), _] = ins
    fit = FitRes(Status(Code.OK, ""), first.parameters, 5, {"train_loss": 1.0})
    released, _ = strategy.aggregate_fit(1, [(None, fit)], [ConnectionError("client gone")])
    assert released is None  # nothing aggregated from a round that lost a client
    assert strategy.configure_fit(2, first.parameters, _TwoClients()) == []  # no more rounds


class _TwoClients:
    """A Flower client manager with two connected clients (FedAvg samples both)."""

    def num_available(self) -> int:
        return 2

    def sample(self, num_clients, min_num_clients=None, criterion=None):
        return [object(), object()][:num_clients]


def test_a_client_lost_mid_round_ends_the_rounds_and_the_stage_in_one_line(
    tmp_path, tiny_model_dir, monkeypatch
):
    """Before, the strategy raised inside Flower's server loop: a real server printed a
    traceback and hung (its gRPC server still running), and so did the clients connected."""
    from tunesmith.artifacts import RunDir
    from tunesmith.config.loader import load_recipe
    from tunesmith.federated import transport
    from tunesmith.pipeline import run_pipeline

    monkeypatch.setattr(transport, "simulate", _round_with_a_lost_client)
    recipe = load_recipe(_write_recipe(tmp_path, tiny_model_dir, clients=2, baselines=False))
    run_dir = RunDir(tmp_path / "run")
    with pytest.raises(UserError) as failed:  # one line, no traceback
        run_pipeline(recipe, run_dir)
    assert str(failed.value).startswith(
        "federated: round 1: 1 of 2 clients failed (first: ConnectionError: client gone); run again"
    )
    assert failed.value.exit_code == 1
    manifest = json.loads((run_dir.root / "manifest.json").read_text())
    assert manifest["stages"]["federated"]["status"] == "failed"
    assert not (run_dir.train / "adapter").exists()
