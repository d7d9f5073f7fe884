"""The web app through FastAPI's TestClient: token, path checks, escaping, errors, forms."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest
import yaml
from ui_runs import HOSTILE, make_run

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from tunesmith.human.session import Session  # noqa: E402
from tunesmith.ui.app import create_app  # noqa: E402

TOKEN = "secret-token"
ESCAPED = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"


@pytest.fixture
def runs(tmp_path):
    folder = tmp_path / "runs"
    make_run(folder, "demo-1", items=12)
    make_run(folder, "other-2", items=4, report=False)
    return folder


@pytest.fixture
def client(runs):
    return TestClient(create_app(runs, TOKEN))


def test_run_list_shows_task_stages_headline_with_interval(client):
    page = client.get("/").text
    assert "demo-1" in page and "other-2" in page and "summarization" in page
    assert "rougeL <b>0.3400</b> vs 0.2100" in page and "[0.080, 0.180]" in page
    assert client.get("/api/runs").json()["runs"][0]["stages"]["train"] == "done"


def test_run_list_and_progress_show_every_stage_and_the_target_metric(client, runs):
    """Only data/train/evaluate/report were shown (a run busy in checks had no stage running)
    and the headline was compare.json's first metric (perplexity), not the target's."""
    import json

    from tunesmith.artifacts import RunDir

    root = runs / "demo-1"
    RunDir(root).update_stage("checks", status="running", seconds=None)
    compare = json.loads((root / "eval" / "compare.json").read_text(encoding="utf-8"))
    perplexity = {**compare["metrics"]["rougeL"], "base": 30.0, "tuned": 12.0}
    compare["metrics"] = {"perplexity": perplexity, **compare["metrics"]}
    compare["target"] = {"metric": "rougeL"}
    (root / "eval" / "compare.json").write_text(json.dumps(compare), encoding="utf-8")
    row = next(r for r in client.get("/api/runs").json()["runs"] if r["name"] == "demo-1")
    assert list(row["stages"]) == ["data", "train", "evaluate", "report", "checks"]
    assert row["headline"]["metric"] == "rougeL"
    progress = client.get("/api/runs/demo-1/progress").json()
    assert progress["stage"] == "checks" and progress["stages"]["checks"] == "running"


def test_json_endpoints_answer_standard_json_for_run_files_holding_nan(client, runs):
    """A diverged training's NaN loss (train/metrics.jsonl) or a compare.json with NaN /
    Infinity (a folder an older tunesmith wrote) made /api/runs and the polled progress a
    500: Starlette's JSONResponse refuses non-finite floats. They are null now."""
    root = runs / "demo-1"
    lines = ['{"step": 11, "loss": NaN, "total_steps": 20, "seconds": 5.5}']
    lines.append('{"step": 11, "val_ppl": Infinity}')
    with open(root / "train" / "metrics.jsonl", "a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    compare = (root / "eval" / "compare.json").read_text(encoding="utf-8")
    compare = compare.replace('"p_value": 0.003', '"p_value": NaN').replace("0.21", "-Infinity")
    (root / "eval" / "compare.json").write_text(compare, encoding="utf-8")

    def standard(text: str):
        return json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in {text}"))

    listed = client.get("/api/runs")
    assert listed.status_code == 200
    row = next(r for r in standard(listed.text)["runs"] if r["name"] == "demo-1")
    assert row["headline"]["base"] is None and row["headline"]["p_value"] is None
    progress = client.get("/api/runs/demo-1/progress")
    assert progress.status_code == 200
    train = standard(progress.text)["train"]
    assert train["step"] == 10 and train["loss"] is None and train["val_ppl"] is None


def test_state_changes_need_the_token(client):
    form = {"session": "s1", "rater": "ann"}
    refused = client.post("/runs/demo-1/human/sessions", data=form)
    assert refused.status_code == 403 and "token" in refused.text
    wrong = client.post("/runs/demo-1/human/sessions", data={**form, "token": "nope"})
    assert wrong.status_code == 403
    api = client.post("/api/runs/demo-1/human/s1/ratings", json={"item": "ex1"})
    assert api.status_code == 403 and api.json()["status"] == 403
    ok = client.post(
        "/runs/demo-1/human/sessions", data={**form, "token": TOKEN}, follow_redirects=False
    )
    assert ok.status_code == 303


def test_start_up_link_sets_a_cookie_that_then_counts_as_the_token(client):
    client.get(f"/?token={TOKEN}")
    created = client.post(
        "/runs/demo-1/human/sessions",
        data={"session": "s1", "rater": "ann"},
        follow_redirects=False,
    )
    assert created.status_code == 303
    fresh = TestClient(client.app)
    fresh.get("/?token=guess")
    assert fresh.post("/runs/demo-1/human/summary").status_code == 403


@pytest.mark.parametrize(
    "url",
    ["/runs/..%2F..%2Fetc/report", "/runs/%2e%2e/report", "/runs/.ssh", "/runs/a%5Cb"],
)
def test_names_never_reach_outside_the_runs_folder(client, url):
    response = client.get(url)
    assert response.status_code in (400, 404)
    assert "Traceback" not in response.text and "root:" not in response.text


def test_a_local_server_refuses_foreign_host_names(runs):
    from tunesmith.ui.app import LOCAL_HOSTS

    app = create_app(runs, TOKEN, allowed_hosts=LOCAL_HOSTS)
    assert TestClient(app, base_url="http://127.0.0.1:8765").get("/").status_code == 200
    assert TestClient(app, base_url="http://evil.example").get("/").status_code == 400


def test_session_name_with_dots_is_refused(client):
    bad = client.post(
        "/runs/demo-1/human/sessions", data={"session": "../../x", "rater": "a", "token": TOKEN}
    )
    assert bad.status_code == 400 and "not a valid name" in bad.text


def test_a_session_name_taken_by_other_systems_is_refused_with_the_form_again(client, runs):
    form = {"session": "s1", "rater": "ann", "show_reference": "1", "token": TOKEN}
    first = client.post("/runs/demo-1/human/sessions", data=form, follow_redirects=False)
    assert first.status_code == 303
    swapped = {**form, "rater": "bob", "system_a": "base", "system_b": "tuned"}
    refused = client.post("/runs/demo-1/human/sessions", data=swapped, follow_redirects=False)
    assert refused.status_code == 409
    message = "session &#39;s1&#39; already exists and compares tuned vs base on test"
    assert message in refused.text and 'id="new-session"' in refused.text
    assert 'name="rater" id="rater" required value="bob"' in refused.text  # what was typed
    assert Session(runs / "demo-1", "s1").systems == ("tuned", "base")  # kept as it was
    hidden = {**form, "show_reference": ""}  # same systems, reference now hidden: refused too
    assert client.post("/runs/demo-1/human/sessions", data=hidden).status_code == 409
    same = {**form, "rater": "bob"}
    joined = client.post("/runs/demo-1/human/sessions", data=same, follow_redirects=False)
    assert joined.status_code == 303 and joined.headers["location"].endswith("rate?rater=bob")


def test_the_downloaded_sheet_carries_no_live_formula(client, runs):
    from tunesmith.artifacts import write_jsonl

    formula = '=HYPERLINK("http://x","click")'
    for system in ("base", "tuned"):
        row = {"id": "ex0", "prompt": formula, "reference": "r", "prediction": "@SUM(A1)"}
        write_jsonl(runs / "demo-1" / "eval" / "predictions" / f"test.{system}.jsonl", [row])
    Session.create(runs / "demo-1", "s1")
    sheet = client.get("/runs/demo-1/human/s1/sheet.csv")
    assert sheet.status_code == 200
    assert (
        sheet.text.splitlines()[1]
        == 'ex0,"\'=HYPERLINK(""http://x"",""click"")",r,\'@SUM(A1),\'@SUM(A1),,'
    )


def test_untrusted_text_is_escaped_on_every_page(client, runs):
    Session.create(runs / "demo-1", "s1")
    session = Session(runs / "demo-1", "s1")
    order = [item.id for item in session.items()]
    for item_id in order[: order.index("ex0")]:  # rate until the hostile item comes up
        session.rate("ann", item_id, "tie")
    page = client.get("/runs/demo-1/human/s1/rate?rater=ann").text
    assert ESCAPED in page and HOSTILE not in page
    report = client.get("/runs/demo-1/report").text
    assert HOSTILE not in report
    error = client.get("/runs/%3Cscript%3E").text
    assert "<script>" not in error.replace('<script src="/static/app.js"></script>', "")


def test_rating_an_unknown_item_is_a_404_and_nothing_is_stored(client, runs):
    Session.create(runs / "demo-1", "s1")
    headers = {"X-Tunesmith-Token": TOKEN}
    body = {"rater": "ann", "item": "nope", "verdict": "A"}
    response = client.post("/api/runs/demo-1/human/s1/ratings", json=body, headers=headers)
    assert response.status_code == 404 and "not an item" in response.json()["error"]
    good = client.post(
        "/api/runs/demo-1/human/s1/ratings", json={**body, "item": "ex3"}, headers=headers
    )
    assert good.status_code == 201 and good.json()["item"] == "ex3"
    assert len(Session(runs / "demo-1", "s1").ratings()) == 1
    missing = client.get("/runs/demo-1/human/none/rate?rater=ann")
    assert missing.status_code == 404 and "does not exist" in missing.text


BAD_BODIES = {
    "malformed": (b'{"rater": "ann",', 400, "request body: not valid JSON"),
    "empty": (b"", 400, "request body: empty; send a JSON object"),
    "not utf-8": (b'{"rater": "\xff"}', 400, "request body: not UTF-8 text (byte 11)"),
    "nested": (b"[" * 50_000, 400, "request body: JSON nested too deeply"),
    "an array": (b"[1]", 400, "request body: expected a JSON object, not an array"),
    "huge integer": (b'{"a": ' + b"9" * 5000 + b"}", 400, "request body: not usable JSON"),
    "too large": (b" " * (65 * 1024), 413, "request body: larger than 64 KiB"),
}


@pytest.mark.parametrize("url", ["/api/runs/demo-1/human/s1/ratings", "/api/runs/demo-1/generate"])
@pytest.mark.parametrize("case", BAD_BODIES)
def test_a_json_body_that_cannot_be_read_is_a_4xx_with_one_message(client, runs, url, case):
    Session.create(runs / "demo-1", "s1")
    raw, status, message = BAD_BODIES[case]
    headers = {"X-Tunesmith-Token": TOKEN, "Content-Type": "application/json"}
    response = client.post(url, content=raw, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["error"].startswith(message), response.json()
    assert Session(runs / "demo-1", "s1").ratings() == []


@pytest.mark.parametrize(
    "url, raw",
    [
        (
            "/api/runs/demo-1/human/s1/ratings",
            b'{"rater": "ann", "item": "ex3", "verdict": "A", "reason": "x\\udc80"}',
        ),
        ("/api/runs/demo-1/generate", b'{"prompt": "x\\udc80", "system": "base"}'),
    ],
)
def test_a_json_string_that_is_no_text_is_a_400(client, runs, url, raw):
    """A \\udc80 escape is valid JSON but half of a UTF-16 pair, which no UTF-8 text holds:
    a rating with it was a 500 (its line could not be encoded) and a prompt an error event
    from the tokenizer after a 200."""
    Session.create(runs / "demo-1", "s1")
    headers = {"X-Tunesmith-Token": TOKEN, "Content-Type": "application/json"}
    response = client.post(url, content=raw, headers=headers)
    assert response.status_code == 400, response.text
    message = "request body: \\udc80 is half of a UTF-16 surrogate pair, not a character"
    assert response.json()["error"] == message
    assert Session(runs / "demo-1", "s1").ratings() == []


@pytest.mark.parametrize(
    "field, message",
    [
        ({"max_new_tokens": 1e400}, "max_new_tokens: input should be a valid integer"),  # inf
        ({"max_new_tokens": -1e400}, "max_new_tokens: input should be a valid integer"),
        ({"max_new_tokens": float("nan")}, "max_new_tokens: input should be a valid integer"),
        ({"max_new_tokens": "9" * 5000}, "max_new_tokens: input should be a valid integer"),
        ({"max_new_tokens": None}, "max_new_tokens: input should be a valid integer, not null"),
        # values that str() / int() used to turn into a prompt or a token count
        ({"max_new_tokens": "12"}, "max_new_tokens: input should be a valid integer, not a str"),
        ({"max_new_tokens": True}, "max_new_tokens: input should be a valid integer, not true"),
        ({"max_new_tokens": 3.9}, "max_new_tokens: input should be a valid integer, not a num"),
        ({"prompt": None}, "prompt: input should be a valid string, not null"),
        ({"prompt": ["hi"]}, "prompt: input should be a valid string, not an array"),
        ({"system": 1}, "system: input should be a valid string, not a number"),
        ({"temperature": 0.7}, "temperature: not a field of a playground prompt (only prompt,"),
    ],
)
def test_playground_settings_out_of_reason_are_a_400(client, field, message):
    headers = {"X-Tunesmith-Token": TOKEN, "Content-Type": "application/json"}
    raw = json.dumps({"prompt": "hi", **field})  # 1e400 and NaN as Python writes them
    response = client.post("/api/runs/demo-1/generate", content=raw, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith(message), response.json()


RATING = {"rater": "ann", "item": "ex3", "verdict": "A"}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"reason": 5}, "reason: input should be a valid string, not a number"),
        ({"reason": ["x"]}, "reason: input should be a valid string, not an array"),
        ({"item": 3}, "item: input should be a valid string, not a number"),
        ({"rater": None}, "rater: input should be a valid string, not null"),
        ({"verdict": True}, "verdict: input should be a valid string, not true or false"),
        ({"reasn": "typo"}, "reasn: not a field of a rating (only rater, item, verdict, reason)"),
        ({"rater": ...}, "rater: missing; a rating needs rater, item, verdict"),
    ],
)
def test_a_rating_with_an_unknown_key_or_a_value_not_a_string_is_a_400(
    client, runs, change, message
):
    """Every value went through str() (5 was stored as '5', a list as "['x']") and a
    misspelt key was dropped without a word."""
    Session.create(runs / "demo-1", "s1")
    body = {k: v for k, v in {**RATING, **change}.items() if v is not ...}
    headers = {"X-Tunesmith-Token": TOKEN}
    response = client.post("/api/runs/demo-1/human/s1/ratings", json=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == message
    assert Session(runs / "demo-1", "s1").ratings() == []
    good = {**RATING, "reason": "clearer"}
    stored = client.post("/api/runs/demo-1/human/s1/ratings", json=good, headers=headers)
    assert stored.status_code == 201 and stored.json()["reason"] == "clearer"


def test_results_page_shows_the_win_rate(client, runs):
    session = Session.create(runs / "demo-1", "s1")
    for item in session.items()[:10]:
        left, _ = session.order(item.id)
        session.rate("ann", item.id, "A" if left == "tuned" else "B")
    page = client.get("/runs/demo-1/human").text
    assert '100.0 % <span class="ci">[72.2, 100.0] (n 10)' in page


def test_an_uploaded_sheet_that_is_not_utf8_is_refused_whole(client, runs):
    """As `human import` reads it: a bad byte used to become U+FFFD inside a stored reason."""
    session = Session.create(runs / "demo-1", "s1")
    item = session.items()[0].id
    sheet = f"item,verdict,reason\n{item},A,caf\xe9 ok\n".encode("latin-1")
    response = client.post(
        "/runs/demo-1/human/s1/sheet",
        data={"rater": "ann", "token": TOKEN},
        files={"sheet": ("mine.csv", sheet, "text/csv")},
    )
    assert response.status_code == 400 and "mine.csv:2: not UTF-8 text (byte 0xe9)" in response.text
    assert Session(runs / "demo-1", "s1").ratings() == []


def test_invalid_upload_gets_the_clis_message(client, tmp_path):
    text = "name: x\ntask: summarization\ndata:\n  train: d.jsonl\n  trian_typo: 1\n"
    response = client.post(
        "/new/recipe", files={"recipe_file": ("mine.yaml", text, "application/x-yaml")}
    )
    assert response.status_code == 400
    (tmp_path / "mine.yaml").write_text(text, encoding="utf-8")
    cli = subprocess.run(
        [sys.executable, "-m", "tunesmith.cli", "validate", "mine.yaml"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    message = cli.stderr.strip().removeprefix("error: ")
    assert "unknown key" in message
    assert message.replace("&", "&amp;").replace("'", "&#39;") in response.text


def test_edit_form_has_every_key_with_its_help_and_starts_a_detached_run(
    client, runs, tiny_recipe, monkeypatch
):
    started = []

    class FakeProcess:
        pid = 424242

        def __init__(self, command, **kwargs):
            started.append((command, kwargs))

    monkeypatch.setattr("tunesmith.ui.launch.subprocess.Popen", FakeProcess)
    recipe = tiny_recipe()
    upload = client.post(
        "/new/recipe", files={"recipe_file": ("r.yaml", recipe.read_text(), "text/yaml")}
    )
    assert upload.status_code == 200
    assert 'name="f:training.lora.r"' in upload.text and "Peak learning rate" in upload.text
    form = _form_values(upload.text)
    form["f:training.learning_rate"] = "0.01"
    form["token"] = TOKEN
    response = client.post("/new/start", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text[-500:]
    name = response.headers["location"].rsplit("/", 1)[-1]
    root = runs / name
    assert name.startswith("tiny-") and "learning_rate: 0.01" in (root / "recipe.yaml").read_text()
    command, kwargs = started[0]
    assert command[1:4] == ["-m", "tunesmith.cli", "run"] and command[-1] == str(root)
    assert kwargs["start_new_session"] is True
    assert json.loads((root / "logs" / "ui-launch.json").read_text())["pid"] == 424242
    bad = client.post("/new/start", data={**form, "f:training.batch_size": "0"})
    assert bad.status_code == 400 and "training.batch_size" in bad.text


def test_edit_form_shows_control_characters_escaped_and_keeps_them(
    client, runs, tiny_recipe, monkeypatch
):
    """A stop list holding a line break reads `["\\n", END]` in the form (not a quoted blank
    line) and comes back from the unchanged form as the same strings."""
    monkeypatch.setattr(
        "tunesmith.ui.launch.subprocess.Popen", lambda *a, **k: type("P", (), {"pid": 1})()
    )
    recipe = tiny_recipe(
        evaluation={"generation": {"max_new_tokens": 8, "stop": ["\n", "END", "a\tb"]}}
    )
    upload = client.post(
        "/new/recipe", files={"recipe_file": ("r.yaml", recipe.read_text(), "text/yaml")}
    )
    form = _form_values(upload.text)
    assert form["f:evaluation.generation.stop"] == '["\\n", END, "a\\tb"]'
    response = client.post("/new/start", data={**form, "token": TOKEN}, follow_redirects=False)
    assert response.status_code == 303, response.text[-500:]
    written = yaml.safe_load(
        (runs / response.headers["location"].rsplit("/", 1)[-1] / "recipe.yaml").read_text()
    )
    assert written["evaluation"]["generation"]["stop"] == ["\n", "END", "a\tb"]


def _form_values(page: str) -> dict[str, str]:
    import html
    import re

    values = {}
    for name, value in re.findall(r'<input name="(f:[^"]+)" id="[^"]+" value="([^"]*)"', page):
        values[name] = html.unescape(value)
    for name, body in re.findall(r'<textarea name="(f:[^"]+)"[^>]*>(.*?)</textarea>', page, re.S):
        values[name] = html.unescape(body)
    for name, options in re.findall(r'<select name="(f:[^"]+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r"<option selected>([^<]*)</option>", options)
        values[name] = html.unescape(chosen.group(1))
    return values


def test_progress_of_a_running_training(runs):
    from tunesmith.artifacts import RunDir, write_jsonl
    from tunesmith.ui.progress import run_progress

    root = runs / "live"
    run_dir = RunDir(root)
    run_dir.update_stage("data", status="done", seconds=1.0)
    run_dir.update_stage("train", status="running")
    rows = [{"step": s, "total_steps": 40, "loss": 2.0, "seconds": 2.0 * s} for s in (1, 2, 10)]
    write_jsonl(run_dir.stage("train") / "metrics.jsonl", rows + [{"step": 10, "val_ppl": 9.5}])
    got = run_progress(root)
    assert got["state"] == "running" and got["stage"] == "train"
    assert got["train"] == {
        "step": 10,
        "total_steps": 40,
        "loss": 2.0,
        "val_ppl": 9.5,
        "eta_seconds": 60.0,
        "percent": 25.0,
    }


def test_a_stage_that_starts_mid_run_is_in_the_polled_json_in_run_order(client, runs):
    """The page's table has the stages it loaded with; the JSON it polls lists a stage that
    starts later in run order, and app.js adds its column (tests/test_ui_browser.py watches
    it happen; the ids it finds the columns by are the ones the page renders)."""
    from tunesmith.artifacts import RunDir

    run_dir = RunDir(runs / "live")
    run_dir.update_stage("data", status="done", seconds=1.0)
    run_dir.update_stage("train", status="running")
    page = client.get("/runs/live").text
    assert 'id="stage-names"' in page and 'id="stage-cells"' in page
    assert 'id="name-train"' in page and 'id="cell-train"' in page and "checks" not in page
    run_dir.update_stage("train", status="done", seconds=3.0)
    run_dir.update_stage("checks", status="running")
    progress = client.get("/api/runs/live/progress").json()
    assert progress["state"] == "running" and progress["stage"] == "checks"
    assert list(progress["stages"].items()) == [
        ("data", "done"),
        ("train", "done"),
        ("checks", "running"),
        ("evaluate", "pending"),
        ("report", "pending"),
    ]


def test_missing_runs_folder_and_port_in_use_are_clear(tmp_path):
    page = TestClient(create_app(tmp_path / "gone", TOKEN)).get("/")
    assert page.status_code == 404 and "does not exist" in page.text
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "tunesmith.cli",
                "ui",
                "--runs",
                str(tmp_path),
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_ui_is_a_command_with_options_not_a_group_of_commands(tmp_path):
    """Its help read `tunesmith ui [OPTIONS] COMMAND [ARGS]...`, with no command to give."""
    run = [sys.executable, "-m", "tunesmith.cli", "ui"]
    shown = subprocess.run([*run, "--help"], capture_output=True, text=True, timeout=60)
    assert "Usage: tunesmith ui [OPTIONS]" in shown.stdout and "COMMAND" not in shown.stdout
    extra = subprocess.run([*run, "extra"], capture_output=True, text=True, timeout=60)
    assert extra.returncode == 2
    assert "error: Got unexpected extra argument(s) (extra)" in extra.stderr


def test_playground_streams_the_base_model_and_explains_a_missing_adapter(tmp_path, tiny_model_dir):
    runs = tmp_path / "runs"
    make_run(runs, "play-1", model=str(tiny_model_dir), report=False)
    client = TestClient(create_app(runs, TOKEN))
    headers = {"X-Tunesmith-Token": TOKEN}
    body = {"prompt": "Summarise: a python editor", "system": "base", "max_new_tokens": 5}
    response = client.post("/api/runs/play-1/generate", json=body, headers=headers)
    assert response.status_code == 200
    events = [e for e in response.text.split("\n\n") if e]
    pieces = [json.loads(e[6:])["text"] for e in events if e.startswith("data: ")]
    assert events[-1].startswith("event: end") and len(pieces) >= 1
    tuned = client.post(
        "/api/runs/play-1/generate", json={**body, "system": "tuned"}, headers=headers
    )
    assert tuned.status_code == 400 and "no trained lora result" in tuned.json()["error"]
    refused = client.post("/api/runs/play-1/generate", json=body)
    assert refused.status_code == 403


def test_a_prompt_cut_to_max_seq_length_is_noted_before_the_answer(tmp_path, tiny_model_dir):
    """The playground cut a long prompt's middle and showed the answer as if it saw it all."""
    runs = tmp_path / "runs"
    make_run(runs, "play-1", model=str(tiny_model_dir), report=False)
    client = TestClient(create_app(runs, TOKEN))
    headers = {"X-Tunesmith-Token": TOKEN}

    def events(prompt: str) -> list[dict]:
        body = {"prompt": prompt, "system": "base", "max_new_tokens": 2}
        response = client.post("/api/runs/play-1/generate", json=body, headers=headers)
        assert response.status_code == 200
        return [json.loads(e[6:]) for e in response.text.split("\n\n") if e.startswith("data: ")]

    cut = events("word " * 1500)  # 7,500 characters, far over max_seq_length 256
    assert cut[0]["note"] is True and "longer than max_seq_length 256" in cut[0]["text"]
    assert cut[0]["text"].endswith("\n") and not any(e.get("note") for e in cut[1:])
    assert not any(e.get("note") for e in events("Summarise: a python editor"))
    page = client.get("/runs/play-1/playground")
    assert "longer than the run's max_seq_length is cut" in page.text


def test_compare_side_by_side_and_damaged_files_do_not_break_pages(client, runs):
    page = client.get("/compare?run=demo-1&run=other-2")
    assert page.status_code == 200 and page.text.count("<b>0.3400</b>") == 2
    (runs / "other-2" / "eval" / "compare.json").write_text(
        '{"metrics": {"rougeL": {"base": null, "tuned": "x"}, "bleu": 3}}', encoding="utf-8"
    )
    (runs / "other-2" / "manifest.json").write_text('{"stages": {"data": {"sta', encoding="utf-8")
    assert client.get("/compare?run=demo-1&run=other-2").status_code == 200
    assert client.get("/").status_code == 200
    assert client.get("/compare?run=demo-1").status_code == 400


def test_a_recipe_path_on_this_machine_needs_the_token_and_keeps_its_relative_paths(
    client, tmp_path
):
    from tunesmith.cli.init_cmd import write_starter

    write_starter(tmp_path / "proj", "demo")
    path = str(tmp_path / "proj" / "recipe.yaml")
    assert client.post("/new/recipe", data={"recipe_path": path}).status_code == 403
    page = client.post("/new/recipe", data={"recipe_path": path, "token": TOKEN})
    assert page.status_code == 200 and "recipe: ok" in page.text
    assert str(tmp_path / "proj" / "data") in page.text  # data path resolved from the recipe
    missing = client.post("/new/recipe", data={"recipe_path": path + ".x", "token": TOKEN})
    assert missing.status_code == 400 and "recipe file not found" in missing.text


def test_a_finished_federated_run_is_finished_and_has_no_train_stage(client, runs):
    """A federated run trains in the `federated` stage: the UI added the basic `train` stage
    as pending, so a finished federated run (started from the UI or not) showed `stopped`."""
    from tunesmith.artifacts import RunDir

    root = runs / "fed-1"
    run_dir = RunDir(root)
    for stage in ("data", "federated", "evaluate", "report"):
        run_dir.update_stage(stage, status="done", seconds=1.0)
    recipe = {"name": "fed", "task": "summarization", "federated": {"clients": 2}}
    (root / "recipe.yaml").write_text(yaml.safe_dump(recipe), encoding="utf-8")
    progress = client.get("/api/runs/fed-1/progress").json()
    assert progress["state"] == "finished"
    assert list(progress["stages"]) == ["data", "federated", "evaluate", "report"]
    row = next(r for r in client.get("/api/runs").json()["runs"] if r["name"] == "fed-1")
    assert row["stages"] == dict.fromkeys(["data", "federated", "evaluate", "report"], "done")
    (root / "manifest.json").unlink()  # not started yet: its stages to come, as they will run
    assert client.get("/api/runs/fed-1/progress").json()["stages"] == dict.fromkeys(
        ["data", "federated", "evaluate", "report"], "pending"
    )
