"""The server's strategy: FedAvg whose aggregation is the recipe's LoRA-aware one
(aggregation.py), wrapped, with federated.privacy, in Flower's central-DP strategy (privacy.py),
and outermost a recorder of each round as it was released (after the noise)."""

from __future__ import annotations

import math
from contextlib import nullcontext

from tunesmith.errors import one_line
from tunesmith.federated import privacy as dp
from tunesmith.federated.aggregation import AGGREGATIONS
from tunesmith.federated.flower_app import Wire
from tunesmith.federated.stopping import RoundStopping


def make_strategy(recipe, local, val_items, log, resumed=None, on_round=None):
    """The strategy for `recipe.federated`; `log(record)` gets each round's clients, training
    loss, update norms and the released adapter's validation perplexity, then `on_round(self)`
    runs (the checkpoint, resume.py). `.latest` is the released adapter (whole state),
    `.rounds_done` the rounds finished, `.rounds_to_run` those a transport still runs,
    `.stopping` the best round and whether early stopping ended the run (stopping.py).

    `resumed` (resume.Resumed) goes on from a stopped federation: the transport's round 1 is
    the federation's round `resumed.rounds_done + 1`, and starts from its released adapter."""
    wire = Wire(local.initial, local.trained)
    start = resumed.latest if resumed else local.initial
    inner = _fedavg(recipe.federated, wire, start)
    outer = dp.wrap(inner, recipe.federated) if recipe.federated.privacy else inner
    stopping = RoundStopping(recipe.training.early_stopping)
    if resumed:
        stopping.restore(resumed.stopping, resumed.best_state)
    recorder = _recorder(outer, recipe.federated, wire, local, val_items, log, stopping)
    recorder.on_round = on_round or (lambda strategy: None)
    if resumed:
        recorder.offset = recorder.rounds_done = resumed.rounds_done
        recorder.latest = resumed.latest
    return recorder


def _fedavg(fed, wire: Wire, initial: dict):
    from flwr.common import FitIns, ndarrays_to_parameters, parameters_to_ndarrays
    from flwr.server.strategy import FedAvg

    combine = AGGREGATIONS.get(fed.aggregation).combine
    private = fed.privacy is not None

    class AdapterFedAvg(FedAvg):
        def configure_fit(self, server_round, parameters, client_manager):
            self.current = wire.state(parameters_to_ndarrays(parameters))
            pairs = super().configure_fit(server_round, parameters, client_manager)
            if not private:
                return pairs
            # Every client is asked; those outside the Poisson sample send a zero update.
            flags = dp.sample(len(pairs), fed.client_fraction)
            return [
                (client, FitIns(ins.parameters, {**ins.config, "sampled": int(flag)}))
                for (client, ins), flag in zip(pairs, flags)
            ]

        def aggregate_fit(self, server_round, results, failures):
            fits = [r for _, r in results]
            _check_frozen(fits, wire)
            states = [wire.state(parameters_to_ndarrays(r.parameters)) for r in fits]
            if private:  # uniform weights, over the fixed q·N: the noise is calibrated to that
                merged = combine(states, [1] * len(states)) if states else self.current
                scale = len(states) / (fed.client_fraction * fed.clients)
                merged = dp.rescale(merged, self.current, scale)
            else:  # FedAvg: each client weighted by its number of training examples
                merged = combine(states, [r.num_examples for r in fits])
            return ndarrays_to_parameters(wire.arrays(merged)), {}

    sampled = fed.clients if private else max(1, math.ceil(fed.clients * fed.client_fraction))
    strategy = AdapterFedAvg(
        fraction_fit=1.0 if private else fed.client_fraction,
        fraction_evaluate=0.0,  # the server validates the aggregated adapter itself
        # Flower sizes a round by the clients connected so far: a floor keeps late joiners in.
        min_fit_clients=sampled,
        min_evaluate_clients=0,
        min_available_clients=fed.clients,
        on_fit_config_fn=lambda server_round: {"round": server_round},
        accept_failures=False,
        initial_parameters=ndarrays_to_parameters(wire.arrays(initial)),
    )
    strategy.current = dict(initial)
    return strategy


def _recorder(outer, fed, wire: Wire, local, val_items, log, stopping: RoundStopping):
    from flwr.common import parameters_to_ndarrays
    from flwr.server.strategy import Strategy

    class Recorder(Strategy):
        """Delegates to `outer`; records the round from what it released."""

        def __init__(self) -> None:
            self.latest, self.rounds_done, self.sent = dict(local.initial), 0, []
            self.stopping = stopping
            self.failure: str | None = None  # why the rounds stopped: a client failed
            self.offset = 0  # rounds a stopped federation had finished before this command

        @property
        def rounds_to_run(self) -> int:
            return 0 if stopping.stopped_early else fed.rounds - self.offset

        def initialize_parameters(self, client_manager):
            return outer.initialize_parameters(client_manager)

        def configure_fit(self, server_round, parameters, client_manager):
            # no client asked: Flower skips the remaining rounds
            if stopping.stopped_early or self.failure:
                return []
            self.sent = parameters_to_ndarrays(parameters)
            return outer.configure_fit(server_round + self.offset, parameters, client_manager)

        def aggregate_fit(self, server_round, results, failures):
            # the transport counts the rounds it runs; a resumed federation's start later
            server_round += self.offset
            if failures:  # a lost client would silently change the average: stop instead
                # Not raised here: an error inside Flower's server loop left its gRPC server
                # running (start_server stops it only on a normal return), so a real server
                # hung after printing it, and so did the clients still connected. The rounds
                # end as early stopping ends them; the stage raises `failure` after.
                self.failure = failed_round(server_round, results, failures)
                return None, {}
            record = _round_record(server_round, [r for _, r in results])
            # Before Flower's wrapper clips them in place: the norms to choose clip_norm by.
            norms = [_norm(r, self.sent) for _, r in results]
            record["update_norms"] = [
                round(n, 6) for n, (_, r) in zip(norms, results) if _sampled(r)
            ]
            if fed.privacy:  # a zero update adds nothing to the sum, and Flower's clip of it
                # divides by its norm (ZeroDivisionError): unsampled clients sent theirs back.
                results = [pair for pair, norm in zip(results, norms) if norm > 0]
                record["clipped"] = sum(n > fed.privacy.clip_norm for n in record["update_norms"])
            with dp.secret_noise() if fed.privacy else nullcontext():
                released, metrics = outer.aggregate_fit(server_round, results, failures)
            self.latest = wire.state(parameters_to_ndarrays(released))
            if val_items:
                record["val_ppl"] = local.val_perplexity(self.latest, val_items)
                stopping.update(server_round, record["val_ppl"], self.latest)
            self.rounds_done = server_round
            log(record)
            self.on_round(self)
            return released, metrics

        def configure_evaluate(self, server_round, parameters, client_manager):
            return outer.configure_evaluate(server_round + self.offset, parameters, client_manager)

        def aggregate_evaluate(self, server_round, results, failures):
            return outer.aggregate_evaluate(server_round + self.offset, results, failures)

        def evaluate(self, server_round, parameters):
            # round 0 is Flower's look at the initial parameters, before any round
            return outer.evaluate(server_round and server_round + self.offset, parameters)

    return Recorder()


def failed_round(server_round: int, results: list, failures: list) -> str:
    """One line: how many clients of the round failed, and the first one's reason (a lost
    connection, or the error a client reported)."""
    first = failures[0]
    if isinstance(first, BaseException):
        reason = one_line(first)
    else:  # (client, FitRes) with a status other than OK
        reason = first[1].status.message or str(first[1].status.code)
    asked = len(results) + len(failures)
    return f"round {server_round}: {len(failures)} of {asked} clients failed (first: {reason})"


def _check_frozen(fits: list, wire: Wire) -> None:
    """The premise of freeze_a's exactness: every client holds the server's A."""
    for r in fits:
        if r.metrics.get("frozen") != wire.digest:
            client = int(r.metrics["client"]) + 1
            raise ValueError(
                f"client {client}: its frozen adapter tensors differ from the server's"
            )


def _norm(fit, sent: list) -> float:
    from flwr.common import parameters_to_ndarrays

    return dp.update_norm(parameters_to_ndarrays(fit.parameters), sent)


def _sampled(fit) -> bool:
    return bool(int(fit.metrics.get("sampled", 1)))


def _round_record(server_round: int, fits: list) -> dict:
    trained = [r for r in fits if _sampled(r)]
    weights = [r.num_examples for r in trained]
    losses = [float(r.metrics["loss"]) for r in trained]
    return {
        "round": server_round,
        "clients": sorted(int(r.metrics["client"]) + 1 for r in trained),
        "examples": int(sum(weights)),
        # None when the Poisson sample was empty: the round released noise only.
        "train_loss": sum(v * w for v, w in zip(losses, weights)) / sum(weights)
        if trained
        else None,
    }
