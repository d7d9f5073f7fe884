"""How the rounds travel: Flower's local simulation, or a real server and client processes.

The simulation is `flwr.simulation.run_simulation` (Ray backend, one worker per core). The real
processes use Flower's gRPC server and client (`flwr.server.start_server` /
`flwr.client.start_client`, deprecated since Flower 1.13 in favour of SuperLink/SuperNode but
shipped and working in the pinned release); both run the same strategy and client.
"""

from __future__ import annotations

import os

from tunesmith.errors import UserError
from tunesmith.federated.flower_app import make_client

SERVER_WAIT_S = 600  # how long a client waits for the server to come up


def simulate(recipe, run_dir, strategy) -> None:
    """All clients as simulated Flower nodes on this machine."""
    from flwr.client import ClientApp
    from flwr.server import ServerApp, ServerAppComponents, ServerConfig
    from flwr.simulation import run_simulation

    fed = recipe.federated

    def server_fn(context):
        rounds = ServerConfig(num_rounds=strategy.rounds_to_run)  # after a resume: those left
        return ServerAppComponents(strategy=strategy, config=rounds)

    def client_fn(context):
        return make_client(recipe, run_dir, int(context.node_config["partition-id"]))

    cores = max(1, min(fed.clients, os.cpu_count() or 1))
    run_simulation(
        server_app=ServerApp(server_fn=server_fn),
        client_app=ClientApp(client_fn=client_fn),
        num_supernodes=fed.clients,
        backend_config={
            "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
            "init_args": {"num_cpus": cores, "include_dashboard": False, "log_to_driver": False},
        },
    )


def serve(recipe, run_dir, strategy) -> None:
    """A Flower server at federated.server_address, until every round is done."""
    from flwr.server import ServerConfig, start_server

    fed = recipe.federated
    start_server(
        server_address=fed.server_address,
        config=ServerConfig(num_rounds=strategy.rounds_to_run),  # after a resume: those left
        strategy=strategy,
    )


def run_client(recipe, run_dir, index: int, address: str) -> None:
    """Client `index` (0-based) of a real federation: connects to `address`, trains its rounds."""
    from flwr.client import start_client

    if not 0 <= index < recipe.federated.clients:
        raise UserError(
            f"--client {index + 1}: the recipe has clients 1-{recipe.federated.clients}"
        )
    _wait_for(address, SERVER_WAIT_S)  # the legacy gRPC client does not retry a refused dial
    start_client(
        server_address=address,
        client_fn=lambda context: make_client(recipe, run_dir, index),
        insecure=True,
    )


def _wait_for(address: str, seconds: float) -> None:
    """Until the server listens: it curates the data before serving the first round."""
    import socket
    import time

    host, _, port = address.rpartition(":")
    deadline = time.monotonic() + seconds
    while True:
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise UserError(f"--address {address}: no Flower server there") from None
            time.sleep(1.0)
