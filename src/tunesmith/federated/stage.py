"""Federated stage: in place of `train` when the recipe has `federated:`. Clients train the LoRA
adapter on their partitions, the server aggregates (Flower); the aggregated adapter is written
as train/adapter/ (the run's tuned model), with train/federated.json (rounds, clients) and,
with `baselines`, train/baselines/{centralised,client_N}/adapter/ for the comparison rows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tunesmith.artifacts import RunDir, read_jsonl, write_json
from tunesmith.config.schema import Recipe
from tunesmith.errors import PeerLost


@dataclass
class FederatedResult:
    rounds: int
    clients: int
    aggregation: str
    final_val_ppl: float | None
    epsilon: float | None = None  # federated.privacy: the (epsilon, delta) per client
    delta: float | None = None
    best_round: int | None = None  # the round whose adapter is shipped (None: no validation)
    stopped_early: bool = False


def run(recipe: Recipe, run_dir: RunDir) -> FederatedResult:
    from tunesmith.federated import resume
    from tunesmith.federated.flower_app import local_model
    from tunesmith.federated.partition import partition
    from tunesmith.federated.strategy import make_strategy
    from tunesmith.federated.transport import serve, simulate
    from tunesmith.models.truncation import cut_record
    from tunesmith.tracking import open_trackers

    fed, out, length = recipe.federated, run_dir.stage("train"), recipe.training.max_seq_length
    shares = partition(read_jsonl(run_dir.data / "train.jsonl"), fed)  # bad split: before Flower
    local = local_model(recipe, run_dir)
    # the clients cut their rows as training does: counted here, once, over every partition
    cut = cut_record("federated training", local.encode([e for s in shares for e in s]), length)
    val = local.encode(read_jsonl(run_dir.data / "val.jsonl"), weighted=False)
    val = val[: recipe.training.val_max_examples]
    checkpoint = resume.checkpoint_dir(out)
    resumed = resume.load(checkpoint, local.initial)
    tracker, rounds = open_trackers(out / "metrics.jsonl"), list(resumed.rows if resumed else [])
    if resumed:  # rows a stopped attempt logged after its last checkpoint are logged again
        tracker.truncate_after(resumed.rounds_done * fed.local_steps)

    def log(record: dict) -> None:
        rounds.append(record)
        step = record["round"] * fed.local_steps  # the report plots loss per optimizer step
        loss = {} if record["train_loss"] is None else {"loss": record["train_loss"]}
        tracker.log({"step": step, **loss, **_val(record)})

    def keep(strategy) -> None:
        resume.save_round(checkpoint, strategy, rounds)

    strategy = make_strategy(recipe, local, val, log, resumed, keep)
    transport = simulate if fed.server_address is None else serve
    if strategy.rounds_to_run:  # none left: stopped after its last round, before the save
        transport(recipe, run_dir, strategy)
    stopping = strategy.stopping
    if strategy.failure:  # the clients still connected were released; nothing is saved
        again = "start the server and its clients again" if fed.server_address else "run again"
        raise PeerLost(f"federated: {strategy.failure}; {again}")
    if strategy.rounds_done != fed.rounds and not stopping.stopped_early:
        raise RuntimeError(f"federated: {strategy.rounds_done} of {fed.rounds} rounds finished")
    # As centralised training ships its best evaluated weights: the best round's adapter.
    local.save(stopping.best_state or strategy.latest, out / "adapter")
    baselines = _baselines(recipe, run_dir, local, shares) if fed.baselines else {}
    final = rounds[-1].get("val_ppl")
    privacy = _privacy(fed, strategy.rounds_done)
    report = {
        "aggregation": fed.aggregation,
        **privacy,
        "client_examples": [len(s) for s in shares],
        "truncation": cut,
        "best_round": stopping.best_round,
        "stopped_early": stopping.stopped_early,
        "rounds": rounds,
        "baselines": baselines,
        "config": fed.model_dump(mode="json"),
    }
    write_json(out / "federated.json", report)
    summary = {**_summary(recipe, shares, val, strategy), "truncation": cut, **privacy}
    summary["resumed"] = resumed is not None
    write_json(out / "summary.json", summary)
    budget = privacy.get("privacy", {})
    return FederatedResult(
        strategy.rounds_done,
        fed.clients,
        fed.aggregation,
        final,
        budget.get("epsilon"),
        budget.get("delta"),
        stopping.best_round,
        stopping.stopped_early,
    )


def _privacy(fed, rounds: int) -> dict:
    """{"privacy": the (epsilon, delta) budget and its settings}; {} without privacy."""
    from tunesmith.federated.privacy import budget

    return {} if fed.privacy is None else {"privacy": budget(fed, rounds)}


def _val(record: dict) -> dict:
    import math

    ppl = record.get("val_ppl")
    return {} if ppl is None else {"val_ppl": ppl, "val_loss": math.log(ppl)}


def _baselines(recipe, run_dir, local, shares) -> dict:
    """Centralised on the union and each client alone, the same number of steps as a client
    takes in all rounds, from the same initial adapter (A frozen too under freeze_a)."""
    from tunesmith.federated.partition import client_label
    from tunesmith.federated.rows import baseline_dir

    steps = recipe.federated.rounds * recipe.federated.local_steps
    groups = {"centralised": [e for share in shares for e in share]}
    groups.update({client_label(i): share for i, share in enumerate(shares)})
    done = {}
    seed = recipe.training.seed
    for name, examples in groups.items():
        folder = baseline_dir(run_dir, name)
        plan = local.plan(examples, local.encode(examples), steps, seed, folder)
        result = local.train(local.initial, plan, steps, folder, seed)
        local.save(local.state(), folder / "adapter")
        done[name] = {"examples": len(examples), **result}
    return done


def _summary(recipe, shares, val, strategy) -> dict:
    """Centralised training's summary keys; steps count every client's local steps once
    (a round is `local_steps`), as the round rows of metrics.jsonl do."""
    fed, stopping = recipe.federated, strategy.stopping
    best = stopping.best_round
    return {
        "method": recipe.training.method,
        "federated": True,
        "steps": strategy.rounds_done * fed.local_steps,
        "total_steps": fed.rounds * fed.local_steps,
        "rounds": strategy.rounds_done,
        "best_round": best,
        "best_step": None if best is None else best * fed.local_steps,
        "best_val_ppl": stopping.best_val_ppl,
        "stopped_early": stopping.stopped_early,
        "train_examples": sum(len(s) for s in shares),
        "val_examples": len(val),
    }


# Training keys the clients never read: each round trains `federated.local_steps` steps
# (federated/local.py sets max_steps, eval_every and checkpoint_every per round; epochs is then
# overridden). Out of the stage's hash, so changing them re-runs nothing, and hyperparameter
# search refuses them as keys no trial reads instead of training identical trials.
UNREAD_TRAINING = {"epochs", "max_steps", "eval_every", "checkpoint_every"}


def _config(recipe: Recipe) -> tuple:
    training = recipe.training.model_dump(mode="json", exclude=UNREAD_TRAINING)
    return (recipe.task, recipe.model, training, recipe.federated)


def _inputs(recipe: Recipe, run_dir: RunDir) -> list[Path]:
    from tunesmith.models.base import base_inputs
    from tunesmith.train.stage import training_data

    return [*training_data(recipe, run_dir), *base_inputs(recipe, run_dir)]


def _outputs(run_dir: RunDir) -> list[Path]:
    return [run_dir.train / "federated.json"]


def _reset(run_dir: RunDir) -> list[Path]:
    return [run_dir.train]


def _scratch(run_dir: RunDir) -> list[Path]:
    from tunesmith.federated.resume import checkpoint_dir

    return [checkpoint_dir(run_dir.train)]  # the rounds' checkpoint: resume state


def _applies(recipe: Recipe) -> bool:
    return recipe.federated is not None


def _partitions_possible(recipe: Recipe, facts) -> list[str]:
    """Flower importable and the clients' split possible on the planned training split."""
    if recipe.federated is None:
        return []
    from tunesmith.federated.partition import check_federated

    return [check_federated(recipe, facts.splits()["train"])]


def _register() -> None:
    from tunesmith.federated import rows  # noqa: F401  (registers the comparison rows)
    from tunesmith.stages import PreflightHook, StageSpec, register_stage

    register_stage(
        StageSpec(
            "federated",
            30,
            _config,
            _inputs,
            _outputs,
            run,
            _reset,
            _scratch,
            resumes=True,
            applies=_applies,
            # 2: the best round's adapter is shipped, early stopping, class weights, the plan
            revision=2,
            preflight=(PreflightHook("data", _partitions_possible),),
        )
    )


_register()
