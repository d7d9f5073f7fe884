"""A run folder copied from someone else, served by `tunesmith ui`: its report is sandboxed,
and symbolic links in it never make the UI read or write outside it."""

from __future__ import annotations

import json

import pytest
import yaml
from ui_runs import make_run, recipe_dict

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from tunesmith.ui.app import create_app  # noqa: E402
from tunesmith.ui.progress import LAUNCH_FILE  # noqa: E402

TOKEN = "secret-token"
SECRET = "PRIVATE KEY of the user running the UI"


@pytest.fixture
def planted(tmp_path):
    """runs/copied: a run whose report, log and human-rating folder are links out of it."""
    secret = tmp_path / "home" / "id_rsa"
    secret.parent.mkdir()
    secret.write_text(SECRET, encoding="utf-8")
    root = make_run(tmp_path / "runs", "copied-1", report=False)
    (root / "report").mkdir(exist_ok=True)
    (root / "report" / "report.html").symlink_to(secret)
    (root / "logs").mkdir(exist_ok=True)
    (root / "logs" / LAUNCH_FILE).write_text('{"pid": null}', encoding="utf-8")
    (root / "logs" / "run.log").symlink_to(secret)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (root / "eval" / "human").symlink_to(outside, target_is_directory=True)
    return TestClient(create_app(tmp_path / "runs", TOKEN)), outside


def test_a_linked_report_is_refused_not_served(planted):
    client, _ = planted
    response = client.get("/runs/copied-1/report")
    assert response.status_code == 400 and SECRET not in response.text
    assert "leads outside" in response.text


def test_a_linked_log_is_not_shown_in_the_progress(planted):
    client, _ = planted
    assert SECRET not in client.get("/api/runs/copied-1/progress").json()["log_tail"]


def test_a_linked_rating_folder_is_never_written(planted):
    client, outside = planted
    form = {"session": "s1", "rater": "ann", "token": TOKEN}
    response = client.post("/runs/copied-1/human/sessions", data=form, follow_redirects=False)
    assert response.status_code == 400 and "leads outside" in response.text
    assert list(outside.iterdir()) == []


def test_a_linked_run_folder_is_not_listed(tmp_path):
    make_run(tmp_path / "elsewhere", "real-1")
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "linked-1").symlink_to(tmp_path / "elsewhere" / "real-1")
    client = TestClient(create_app(tmp_path / "runs", TOKEN))
    assert client.get("/api/runs").json()["runs"] == []


def test_a_planted_report_cannot_script_the_ui(tmp_path):
    """report.html is whatever the folder holds: served as its own sandboxed origin, a script
    in it cannot fetch a UI page (whose forms carry the token) and post with it."""
    root = make_run(tmp_path / "runs", "copied-1", report=False)
    (root / "report").mkdir(exist_ok=True)
    planted = "<script>fetch('/new').then(r => r.text()).then(steal)</script>"
    (root / "report" / "report.html").write_text(planted, encoding="utf-8")
    response = TestClient(create_app(tmp_path / "runs", TOKEN)).get("/runs/copied-1/report")
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == "sandbox"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_an_uploaded_recipe_is_read_no_further_than_its_limit(tmp_path, monkeypatch):
    """Checking an upload needs no token, so the upload was read whole into memory (then
    decoded) before its size was checked: now the size is refused from the first bytes."""
    from tunesmith.ui import launch

    monkeypatch.setattr(launch, "MAX_RECIPE_BYTES", 1024)
    monkeypatch.setattr("tunesmith.ui.routes_new.MAX_RECIPE_BYTES", 1024, raising=False)
    big = b"task: instruction\n" + b"#" * 4096 + b"\xff not UTF-8 past the limit\n"
    client = TestClient(create_app(tmp_path / "runs", TOKEN))
    response = client.post("/new/recipe", files={"recipe_file": ("big.yaml", big, "text/yaml")})
    assert response.status_code == 400 and "big.yaml: recipe larger than 1 KiB" in response.text


def _laughs(levels: int) -> str:
    """YAML whose last anchor stands for 10**levels values, in a few lines."""
    lines = ["l0: &l0 [" + ",".join(["lol"] * 10) + "]"]
    for n in range(1, levels):
        lines.append(f"l{n}: &l{n} [" + ",".join([f"*l{n - 1}"] * 10) + "]")
    return "\n".join(lines) + f"\nname: evil\nmodel:\n  name: *l{levels - 1}\n"


def test_a_planted_billion_laughs_recipe_does_not_reach_the_run_list(tmp_path):
    """The run list read run folders' recipe.yaml with plain safe YAML: a few aliases became
    the model's name, printed to a string of 10**levels values (6 here: 14 MB; 9: 14 GB, for
    any GET / with no token). The recipe loader's YAML refuses it; the run is still listed."""
    root = tmp_path / "runs" / "evil-1"
    root.mkdir(parents=True)
    (root / "recipe.yaml").write_text(_laughs(6), encoding="utf-8")
    (root / "manifest.json").write_text("{}", encoding="utf-8")
    runs = TestClient(create_app(tmp_path / "runs", TOKEN)).get("/api/runs").json()["runs"]
    assert [(r["name"], r["model"]) for r in runs] == [("evil-1", "")]


def test_a_recipe_that_is_not_utf8_does_not_break_the_run_list(tmp_path):
    root = tmp_path / "runs" / "bad-1"
    root.mkdir(parents=True)
    (root / "recipe.yaml").write_bytes(b"name: \xff\n")  # was a 500 for the whole list
    response = TestClient(create_app(tmp_path / "runs", TOKEN)).get("/api/runs")
    assert response.status_code == 200 and response.json()["runs"][0]["name"] == "bad-1"


DEEP = "[" * 100_000 + "]" * 100_000


def test_planted_run_files_nested_too_deeply_or_not_objects_keep_the_ui_working(tmp_path):
    """json recurses once per level of nesting: a planted manifest.json of `[[[[...` was a
    RecursionError (a 500 for the whole run list); so were a metrics line that is not an
    object, or not UTF-8, for the run's progress."""
    root = make_run(tmp_path / "runs", "copied-1", report=False)
    (root / "manifest.json").write_text(DEEP, encoding="utf-8")
    metrics = b'5\n{"step": 1, "loss": \xff}\n' + DEEP.encode()
    (root / "train" / "metrics.jsonl").write_bytes(metrics)
    client = TestClient(create_app(tmp_path / "runs", TOKEN))
    assert client.get("/api/runs").json()["runs"][0]["name"] == "copied-1"
    progress = client.get("/api/runs/copied-1/progress")
    assert progress.status_code == 200 and progress.json()["train"]["loss"] is None


def test_a_run_file_nested_too_deeply_is_one_error_naming_it(tmp_path):
    from tunesmith.artifacts.files import read_json, read_jsonl
    from tunesmith.errors import UserError

    (tmp_path / "compare.json").write_text(DEEP, encoding="utf-8")
    (tmp_path / "rows.jsonl").write_text("{}\n" + DEEP + "\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"compare.json:1: damaged run file, JSON nested too"):
        read_json(tmp_path / "compare.json")
    with pytest.raises(UserError, match=r"rows.jsonl:2: damaged run file, JSON nested too"):
        read_jsonl(tmp_path / "rows.jsonl")


@pytest.mark.parametrize(
    ("manifest", "compare", "human"),
    [
        ({"stages": 5, "created": 7}, {"metrics": [1]}, {"comparisons": 3}),
        ({"stages": {"train": "done"}}, {"metrics": {"rouge": 1}, "target": 2}, {}),
        ({"stages": ["data"]}, {"metrics": {"rouge": {}}, "target": {"metric": 1}}, {}),
        ({}, {}, {"comparisons": ["x"]}),
    ],
)
def test_planted_run_files_of_the_wrong_shape_keep_the_run_list_working(
    tmp_path, manifest, compare, human
):
    """Valid JSON of the wrong shape in a copied run folder (`"stages": 5`, a stage that is a
    string, metrics that are a list) was a 500 for the whole run list and the run's progress."""
    root = make_run(tmp_path / "runs", "odd-1", report=False)
    (root / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (root / "eval" / "compare.json").write_text(json.dumps(compare), encoding="utf-8")
    (root / "eval" / "human.json").write_text(json.dumps(human), encoding="utf-8")
    make_run(tmp_path / "runs", "fine-1", report=False)
    client = TestClient(create_app(tmp_path / "runs", TOKEN))
    response = client.get("/api/runs")
    assert response.status_code == 200
    runs = {r["name"]: r for r in response.json()["runs"]}
    assert set(runs) == {"odd-1", "fine-1"}
    assert isinstance(runs["odd-1"]["date"], str)
    assert runs["fine-1"]["stages"]["evaluate"] == "done"
    progress = client.get("/api/runs/odd-1/progress")
    assert progress.status_code == 200 and "evaluate" in progress.json()["stages"]


LINKED_RUN_FILES = (
    "manifest.json",
    "recipe.yaml",
    "eval/compare.json",
    "eval/human.json",
    "train/summary.json",
    "train/metrics.jsonl",
    "logs/" + LAUNCH_FILE,
)


def test_no_run_file_is_parsed_through_a_link_out_of_the_run_folder(tmp_path):
    """The run list, run page, progress, comparison and human-rating pages parsed a run
    folder's manifest.json, recipe.yaml, compare.json, human.json, train files and launch
    record through links leading anywhere (only report.html, run.log and eval/human were
    checked): a copied folder could make them show a file of the user's. Each is now read
    through ui/runs.run_file, and a link out of the folder reads as a missing file."""
    outside = tmp_path / "home"
    outside.mkdir()
    secret = {
        "stages": {"SECRET-stage": {"status": "done"}},
        "metrics": {"SECRET-metric": {"base": 1.0, "tuned": 2.0}},
        "comparisons": [{"label": "SECRET-label", "systems": ["a", "b"], "win_rate": 0.5}],
        "model": {"name": "SECRET-model"},
        "task": "SECRET-task",
        "created": "SECRET-date",
        "steps": 4242,
        "total_steps": 4343,
        "pid": 1,
    }
    (outside / "secret.json").write_text(json.dumps(secret), encoding="utf-8")
    (outside / "secret.jsonl").write_text('{"step": 7, "loss": 42.4242}\n', encoding="utf-8")
    root = make_run(tmp_path / "runs", "copied-1", report=False)
    make_run(tmp_path / "runs", "fine-1", report=False)
    (root / "logs").mkdir(exist_ok=True)
    for relative in LINKED_RUN_FILES:
        target = outside / ("secret.jsonl" if relative.endswith(".jsonl") else "secret.json")
        (root / relative).unlink(missing_ok=True)
        (root / relative).symlink_to(target)
    client = TestClient(create_app(tmp_path / "runs", TOKEN))
    urls = ["/", "/api/runs", "/runs/copied-1", "/api/runs/copied-1/progress"]
    urls += ["/compare?run=copied-1&run=fine-1", "/runs/copied-1/human", "/api/runs/copied-1/human"]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, (url, response.text)
        assert "SECRET" not in response.text and "4242" not in response.text, url
    progress = client.get("/api/runs/copied-1/progress").json()
    assert progress["train"]["step"] == 0 and progress["stages"]["train"] == "pending"


def test_linked_predictions_are_not_rated(tmp_path):
    """A session's items came from eval/predictions/*.jsonl followed wherever it led."""
    root = make_run(tmp_path / "runs", "copied-1", report=False)
    from tunesmith.human.session import Session

    Session.create(root, "s1")
    outside = tmp_path / "home" / "test.tuned.jsonl"
    outside.parent.mkdir()
    row = {"id": "ex1", "prompt": "SECRET-prompt", "reference": "r", "prediction": "p"}
    outside.write_text(json.dumps(row) + "\n", encoding="utf-8")
    predictions = root / "eval" / "predictions" / "test.tuned.jsonl"
    predictions.unlink()
    predictions.symlink_to(outside)
    response = TestClient(create_app(tmp_path / "runs", TOKEN)).get(
        "/runs/copied-1/human/s1/rate?rater=ann"
    )
    assert response.status_code == 400 and "SECRET" not in response.text
    assert "predictions: " in response.text and "leads outside" in response.text


def test_the_playground_loads_no_recipe_or_model_through_a_link(tmp_path):
    root = make_run(tmp_path / "runs", "copied-1", report=False)
    outside = tmp_path / "home" / "recipe.yaml"
    outside.parent.mkdir()
    outside.write_text("task: SECRET\n", encoding="utf-8")
    (root / "recipe.yaml").unlink()
    (root / "recipe.yaml").symlink_to(outside)
    client = TestClient(create_app(tmp_path / "runs", TOKEN))
    headers = {"X-Tunesmith-Token": TOKEN}
    response = client.post("/api/runs/copied-1/generate", json={"prompt": "hi"}, headers=headers)
    assert response.status_code == 400 and "SECRET" not in response.text
    assert response.json()["error"].startswith("recipe.yaml: ")
    assert "leads outside" in response.json()["error"]
    (root / "recipe.yaml").unlink()
    (root / "recipe.yaml").write_text(yaml.safe_dump(recipe_dict("copied")), encoding="utf-8")
    weights = root / "train" / "adapter" / "adapter_model.safetensors"
    weights.parent.mkdir(parents=True)
    weights.symlink_to(outside)
    response = client.post("/api/runs/copied-1/generate", json={"prompt": "hi"}, headers=headers)
    assert response.status_code == 400 and "leads outside" in response.json()["error"]
    assert response.json()["error"].startswith("train: ")


def test_a_run_whose_recipe_does_not_load_is_still_compared(tmp_path):
    """The side-by-side page loaded each run's recipe to compare tokenizers: a run without
    one, or with one that does not load, made the whole page a 400."""
    make_run(tmp_path / "runs", "fine-1", report=False)
    broken = make_run(tmp_path / "runs", "broken-1", report=False)
    client = TestClient(create_app(tmp_path / "runs", TOKEN))
    (broken / "recipe.yaml").write_text("name: [\n", encoding="utf-8")
    assert client.get("/compare?run=fine-1&run=broken-1").status_code == 200
    (broken / "recipe.yaml").unlink()
    response = client.get("/compare?run=fine-1&run=broken-1")
    assert response.status_code == 200 and 'href="/runs/broken-1"' in response.text


DAMAGED_SESSION_FILES = {  # file under eval/, its content, what the one line says
    "settings not JSON": ("human/s1.json", b"{not json", "damaged run file, not valid JSON"),
    "settings of another shape": ("human/s1.json", b'{"systems": 5}', "no pair of systems"),
    "a system leading elsewhere": (
        "human/s1.json",
        b'{"systems": ["../../x", "base"], "split": "test"}',
        "s1.json: system: ",
    ),
    "a rating not JSON": ("human/s1.jsonl", b"not json\n", "damaged run file, not valid JSON"),
    "a rating not an object": ("human/s1.jsonl", b"5\n", "a row is a number, not an object"),
    "predictions not UTF-8": (
        "predictions/test.base.jsonl",
        b'{"id": "\xff"}\n',
        "damaged run file, not UTF-8 text",
    ),
    "predictions not objects": (
        "predictions/test.base.jsonl",
        b"5\n",
        "a row is a number, not an object",
    ),
}


@pytest.mark.parametrize("case", DAMAGED_SESSION_FILES)
def test_a_damaged_session_file_is_one_line_naming_it_not_a_500(tmp_path, case):
    """A copied run folder's rating-session files were parsed with bare json.loads and used
    as they came: not JSON, not UTF-8 or of another shape, each was a 500 (the rating page,
    the sheet, the results page and its JSON)."""
    from tunesmith.human.session import Session

    root = make_run(tmp_path / "runs", "copied-1", report=False)
    Session.create(root, "s1")
    relative, content, message = DAMAGED_SESSION_FILES[case]
    (root / "eval" / relative).write_bytes(content)
    client = TestClient(create_app(tmp_path / "runs", TOKEN), raise_server_exceptions=False)
    pages = [
        "/runs/copied-1/human/s1/rate?rater=ann",
        "/runs/copied-1/human/s1/sheet.csv?rater=ann",
    ]
    if relative.startswith("human/"):  # the results read every session's settings and ratings
        pages += ["/runs/copied-1/human", "/api/runs/copied-1/human"]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 400, (url, response.text)
        assert relative.split("/")[-1] in response.text and message in response.text, url
