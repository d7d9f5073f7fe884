"""`tunesmith ui`: serve the web app over a runs folder (localhost and a token by default)."""

from __future__ import annotations

import socket
from pathlib import Path

import typer

from tunesmith.errors import UserError


def ui(
    runs: Path = typer.Option(
        Path("runs"), "--runs", help="Runs folder to show and start runs in."
    ),
    host: str = typer.Option("127.0.0.1", help="Address to bind (localhost by default)."),
    port: int = typer.Option(8765, help="Port to listen on."),
) -> None:
    """Web app: runs, reports, live progress, comparison, new runs, blind human evaluation."""
    serve(runs, host, port)


def serve(runs: Path, host: str, port: int) -> None:
    try:
        import uvicorn

        from tunesmith.ui.app import LOCAL_HOSTS, create_app
        from tunesmith.ui.security import TOKEN_ENV, make_token
    except ImportError as exc:
        raise UserError(f"the web app needs: pip install 'tunesmith[ui]' ({exc.name})") from None
    if not runs.is_dir():
        raise UserError(f"--runs: folder {runs} does not exist (create it or run `tunesmith run`)")
    _check_port(host, port)
    token = make_token()
    typer.echo(f"tunesmith ui: serving {runs.resolve()}")
    typer.echo(f"  open http://{host}:{port}/?token={token}")
    typer.echo(f"  token for changes (start runs, ratings): {token}  (or set ${TOKEN_ENV})")
    hosts = LOCAL_HOSTS if host in LOCAL_HOSTS else None  # a local server answers local names only
    app = create_app(runs, token, allowed_hosts=hosts)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UserError(f"--port: cannot listen on {host}:{port} ({exc.strerror})") from None
