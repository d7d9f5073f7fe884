"""Every route of the web app as an HTTP client meets it: HEAD and wrong methods, bodies of the
wrong kind, names in the URL; each answer is the app's own page or JSON error, never a 500."""

from __future__ import annotations

import pytest
from ui_runs import make_run

pytest.importorskip("fastapi")
from fastapi.routing import APIRoute  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from tunesmith.human.session import Session  # noqa: E402
from tunesmith.ui import routes_human, routes_new, routes_play, routes_runs  # noqa: E402
from tunesmith.ui.app import create_app  # noqa: E402

TOKEN = "secret-token"
PARAMS = {"name": "demo-1", "session": "s1"}
QUERY = {"/compare": "?run=demo-1&run=demo-1"}


def _routes(method: str) -> list[str]:
    """The URL of every route answering `method`, its path parameters filled in."""
    urls = []
    for module in (routes_runs, routes_new, routes_human, routes_play):
        for route in module.router.routes:
            if isinstance(route, APIRoute) and method in route.methods:
                urls.append(route.path.format(**PARAMS) + QUERY.get(route.path, ""))
    return urls


@pytest.fixture
def client(tmp_path):
    root = make_run(tmp_path / "runs", "demo-1", items=4)
    Session.create(root, "s1")
    return TestClient(create_app(tmp_path / "runs", TOKEN), raise_server_exceptions=False)


def _error_kind(url: str, response) -> str:
    kind = response.headers["content-type"].split(";")[0]
    assert kind == ("application/json" if url.startswith("/api/") else "text/html"), url
    return kind


@pytest.mark.parametrize("url", _routes("GET"))
def test_every_page_answers_head_like_get_without_a_body(client, url):
    """FastAPI's routes answered HEAD with 405 (HTTP requires HEAD wherever GET is)."""
    got, head = client.get(url), client.head(url)
    assert got.status_code == 200, got.text
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]


@pytest.mark.parametrize("url", _routes("GET") + _routes("POST"))
@pytest.mark.parametrize("method", ["OPTIONS", "PUT", "DELETE", "PATCH"])
def test_a_wrong_method_is_a_405_page_naming_the_allowed_ones(client, url, method):
    """A wrong method came back as FastAPI's {"detail": "Method Not Allowed"} JSON on every
    page; it is the app's own error (a page, or {"error", "status"} under /api/) with Allow."""
    response = client.request(method, url)
    assert response.status_code == 405
    allowed = response.headers["allow"]
    assert _error_kind(url, response)
    assert f"{method} is not allowed here (only {allowed})" in response.text


@pytest.mark.parametrize("url", [u for u in _routes("POST") if not u.startswith("/api/")])
def test_a_form_that_cannot_be_parsed_is_a_400_page(client, url):
    """Starlette's multipart errors ("Missing boundary in multipart.") were FastAPI's JSON
    {"detail": ...} on the app's HTML forms."""
    headers = {"X-Tunesmith-Token": TOKEN, "Content-Type": "multipart/form-data"}
    response = client.post(url, content=b"garbage", headers=headers)
    assert response.status_code == 400 and _error_kind(url, response) == "text/html"
    assert "Missing boundary in multipart." in response.text


@pytest.mark.parametrize("url", [u for u in _routes("POST") if u.startswith("/api/")])
def test_a_json_endpoint_sent_a_form_is_a_400_json_error(client, url):
    form = {"rater": "ann", "item": "ex1", "verdict": "A", "prompt": "hi"}
    response = client.post(url, data=form, headers={"X-Tunesmith-Token": TOKEN})
    assert response.status_code == 400
    assert response.json()["error"].startswith("request body: not valid JSON")


@pytest.mark.parametrize("system", ["../../../etc/x", "x" * 300, "a/b"])
def test_a_session_system_name_is_checked_before_it_reaches_a_path(client, tmp_path, system):
    """The two systems of a new session were joined into the predictions' file names
    unchecked (`eval/predictions/test.../../../etc/x.jsonl`); the refusal named that path."""
    form = {"session": "s2", "rater": "ann", "system_a": system, "token": TOKEN}
    response = client.post("/runs/demo-1/human/sessions", data=form)
    assert response.status_code == 400
    assert "system: " in response.text and "is not a valid name" in response.text
    assert str(tmp_path) not in response.text


STATE_CHANGES = {  # every POST that needs the token, with a body it would otherwise accept
    "/new/start": {"data": {"f:name": "x"}},
    "/runs/demo-1/human/sessions": {"data": {"session": "s2", "rater": "ann"}},
    "/runs/demo-1/human/s1/rate": {"data": {"rater": "ann", "item": "ex1", "verdict": "A"}},
    "/api/runs/demo-1/human/s1/ratings": {"json": {"rater": "ann", "item": "ex1", "verdict": "A"}},
    "/runs/demo-1/human/summary": {"data": {}},
    "/runs/demo-1/human/s1/sheet": {
        "data": {"rater": "ann"},
        "files": {"sheet": ("s.csv", b"item,verdict\nex1,A\n", "text/csv")},
    },
    "/api/runs/demo-1/generate": {"json": {"prompt": "hi"}},
}


def test_every_state_change_is_listed():
    assert set(STATE_CHANGES) == set(_routes("POST")) - {"/new/recipe"}  # checking needs none


@pytest.mark.parametrize("url", STATE_CHANGES)
@pytest.mark.parametrize("token", [None, "", "wrong", "secret-token-and-more", "sécret"])
def test_a_missing_or_wrong_token_is_a_403_of_the_right_kind(client, url, token):
    body = dict(STATE_CHANGES[url])
    headers = {} if token is None else {b"X-Tunesmith-Token": token.encode("utf-8")}
    response = client.post(url, headers=headers, **body)
    assert response.status_code == 403 and _error_kind(url, response)
    assert "needs the token" in response.text
    assert Session(client.app.state.runs_dir / "demo-1", "s1").ratings() == []
