"""Exports on the tiny random Llama: merged folder, GGUF round trip, int8; rows and cards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tunesmith.artifacts import RunDir
from tunesmith.pipeline import run_pipeline

# GGUF round trip through transformers' loader: largest |logit difference| over the largest
# |logit|. f16 rounds each weight to 11 bits; q8_0 to 8 bits per 32-value block.
TOLERANCE = {"gguf_f16": 0.01, "gguf_q8_0": 0.05}
STAGES = ["data", "train", "export", "evaluate", "export_card", "report"]  # checks: own tests


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_model_dir):
    from export_helpers import small_recipe

    folder = tmp_path_factory.mktemp("export-run")
    export = {"formats": ["merged", "gguf", "int8"], "speed_tokens": 4}
    recipe = small_recipe(folder, tiny_model_dir, export=export)
    run_dir = RunDir(folder / "out")
    outcome = run_pipeline(recipe, run_dir, only=STAGES)
    return recipe, run_dir, outcome


def _tuned(recipe, run_dir):
    import torch

    from tunesmith.methods import load_tuned
    from tunesmith.models.base import load_base

    base, tokenizer = load_base(recipe, run_dir, pretrained=True, device="cpu")
    return load_tuned(recipe.training, run_dir.train, base.to(torch.float32)), tokenizer


def _logits(model, tokenizer):
    import torch

    ids = tokenizer("Summarise: a small python editor for users", return_tensors="pt")
    with torch.no_grad():
        return model(**ids).logits


def test_stages_ran_in_order(exported):
    _, _, outcome = exported
    names = list(outcome)
    assert names.index("train") < names.index("export") < names.index("evaluate")
    assert names.index("evaluate") < names.index("export_card")


def test_merged_export_loads_in_plain_transformers_to_identical_logits(exported):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    recipe, run_dir, _ = exported
    tuned, tokenizer = _tuned(recipe, run_dir)
    folder = run_dir.root / "export" / "merged"
    plain = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    assert AutoTokenizer.from_pretrained(folder)("a b").input_ids == tokenizer("a b").input_ids
    assert torch.allclose(_logits(plain, tokenizer), _logits(tuned, tokenizer), atol=1e-5)


@pytest.mark.parametrize("name", sorted(TOLERANCE))
def test_gguf_round_trip_within_tolerance(exported, name):
    from transformers import AutoTokenizer

    from tunesmith.export.gguf_file import gguf_roundtrip

    recipe, run_dir, _ = exported
    tuned, tokenizer = _tuned(recipe, run_dir)
    path = run_dir.root / "export" / f"model-{name.split('_', 1)[1]}.gguf"
    expected = _logits(tuned, tokenizer)
    error = (_logits(gguf_roundtrip(path), tokenizer) - expected).abs().max()
    assert error / expected.abs().max() < TOLERANCE[name]
    assert error > 0  # really quantised, not the same tensors copied
    text = "Summarise: a python editor<|im_end|>"
    from_gguf = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    assert from_gguf(text).input_ids == tokenizer(text).input_ids


def test_quantised_exports_are_smaller(exported):
    _, run_dir, _ = exported
    record = json.loads((run_dir.root / "export" / "exports.json").read_text())
    sizes = {name: a["bytes"] for name, a in record["artefacts"].items()}
    assert sizes["gguf_q8_0"] < 0.7 * sizes["gguf_f16"]
    assert sizes["int8"] < sizes["merged"]
    assert all(a["tokens_per_second"] > 0 for a in record["artefacts"].values())


def test_int8_linears_are_int8_after_reload(exported):
    from tunesmith.export.formats import FORMATS

    _, run_dir, _ = exported
    model = FORMATS.get("int8").load(run_dir.root / "export" / "int8")
    weight = model.model.layers[0].mlp.up_proj.weight
    assert "int8" in type(weight).__name__.lower()


def test_every_export_is_an_evaluation_row_compared_with_tuned(exported):
    _, run_dir, _ = exported
    compare = json.loads((run_dir.eval / "compare.json").read_text())
    for name in ("merged", "gguf_f16", "gguf_q8_0", "int8"):
        assert "rouge_l" in compare["rows"][name]["metrics"] or compare["rows"][name]["metrics"]
        pairs = [c for c in compare["comparisons"] if (c["a"], c["b"]) == (name, "tuned")]
        assert pairs and pairs[0]["metrics"]
    merged = compare["rows"]["merged"]["metrics"]
    tuned = compare["rows"]["tuned"]["metrics"]
    assert {k: v["value"] for k, v in merged.items()} == {k: v["value"] for k, v in tuned.items()}


def test_model_cards_name_base_metrics_and_licence(exported):
    recipe, run_dir, _ = exported
    card = (run_dir.root / "export" / "merged" / "README.md").read_text()
    # the base model by its folder's name: a local path is not written into a shared card
    assert f"base model: {Path(recipe.model.name).name}" in card and "licence:" in card
    assert recipe.model.name not in card
    assert "| tuned |" in card and "| merged |" in card and "bytes" in card
    assert (run_dir.root / "export" / "model-q8_0.md").is_file()


@pytest.mark.parametrize("name", ["merged", "int8", "gguf_q8_0"])
def test_model_card_code_runs_as_written_on_its_export(exported, name, monkeypatch):
    """The card's Python used a `tokenizer` (and then a `model`) it never loaded: pasted as it
    stands, it stopped at a NameError. Now it loads the export from `path` first; run from
    the run folder, every block of the card runs and greedy-answers the example prompt."""
    import re

    from tunesmith.export.card import card_path

    recipe, run_dir, _ = exported
    record = json.loads((run_dir.root / "export" / "exports.json").read_text())
    card = card_path(run_dir.root / "export", record["artefacts"][name]).read_text()
    blocks = re.findall(r"```python\n(.*?)\n```", card, re.S)
    assert len(blocks) == 2 and "path = " in blocks[0]  # prompt format, where answers end
    monkeypatch.chdir(run_dir.root)  # the path is the run folder's export/...
    scope: dict = {}
    exec(blocks[0], scope)
    assert type(scope["model"]).__name__ == "LlamaForCausalLM"
    rendered = card.split("The text the model reads")[1].split("```text\n")[1].split("\n```")[0]
    assert scope["text"] == rendered  # the prompt the card shows, built by its own code
    exec(blocks[1], scope)
    assert isinstance(scope["answer"], str)


def test_failed_export_leaves_no_partial_file(tmp_path):
    from tunesmith.artifacts.files import write_atomically

    target = tmp_path / "model.gguf"

    def broken(staging):
        staging.write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomically(target, broken)
    assert list(tmp_path.iterdir()) == []


def test_format_names_equal_the_registry():
    from typing import get_args

    from tunesmith.config.export import ExportFormat
    from tunesmith.export.formats import FORMATS
    from tunesmith.export.gguf_file import TYPES

    assert sorted(get_args(ExportFormat)) == FORMATS.names()
    from tunesmith.config.export import GgufType

    assert sorted(get_args(GgufType)) == sorted(TYPES)


def test_cli_refuses_an_unknown_format_in_one_line(exported):
    from test_cli import assert_user_error, tunesmith

    _, run_dir, _ = exported
    done = tunesmith("export", run_dir.root, "--format", "onnx")
    assert_user_error(done, "--format: unknown export format 'onnx'", "known: gguf, int8, merged")
    assert (run_dir.root / "export" / "merged" / "config.json").is_file()  # nothing lost


def test_cli_export_writes_the_chosen_gguf_type(exported):
    from typer.testing import CliRunner

    from tunesmith.cli.main import app

    _, run_dir, _ = exported
    args = ["export", str(run_dir.root), "--format", "gguf", "--gguf-type", "q4_0"]
    done = CliRunner().invoke(app, args)  # in-process: the subprocess start costs more here
    assert done.exit_code == 0, done.output
    record = json.loads((run_dir.root / "export" / "exports.json").read_text())
    assert record["artefacts"]["gguf_q4_0"]["bytes"] < record["artefacts"]["gguf_q8_0"]["bytes"]
    card = run_dir.root / "export" / "model-q4_0.md"
    assert "No evaluation row for this export yet" in card.read_text()  # evaluate comes next
    card.unlink()
    done = CliRunner().invoke(app, ["export", str(run_dir.root), "--cards"])
    assert done.exit_code == 0 and "| tuned |" in card.read_text()


def test_report_lists_exports_with_size_speed_and_quality_vs_tuned(exported):
    import re

    _, run_dir, _ = exported
    page = (run_dir.report / "report.html").read_text()
    table = page[page.index('<h2 id="exports">') :].split("</table>")[0]
    for name in ("tuned", "merged", "gguf_f16", "gguf_q8_0", "int8"):
        assert f"<td>{name}</td>" in table
    merged = re.search(r"<td>merged</td>(.*?)</tr>", table).group(1)
    assert "+0.0000 [+0.0000, +0.0000]" in merged  # identical predictions: no difference


def test_gguf_for_an_unsupported_architecture_is_refused_before_anything_is_written(
    tmp_path, tiny_model_dir
):
    """GGUF export writes llama and qwen2 models only: asked of a Qwen3 run with the merged
    format too, it exits with one line before writing any artefact (not after the merged
    folder, whose record would then be missing from exports.json)."""
    import shutil

    import torch
    from export_helpers import small_recipe
    from test_cli import assert_user_error, tunesmith
    from transformers import AutoConfig, Qwen3Config, Qwen3ForCausalLM

    qwen = tmp_path / "tiny-qwen3"
    shutil.copytree(tiny_model_dir, qwen)
    llama = AutoConfig.from_pretrained(tiny_model_dir)
    shape = {k: getattr(llama, k) for k in ("vocab_size", "hidden_size", "intermediate_size")}
    heads = {"num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 2}
    ids = {k: getattr(llama, k) for k in ("pad_token_id", "eos_token_id", "bos_token_id")}
    torch.manual_seed(0)
    Qwen3ForCausalLM(Qwen3Config(**shape, **heads, **ids)).save_pretrained(qwen)
    recipe = small_recipe(tmp_path, qwen, export={"formats": ["merged", "gguf"]})
    run_dir = RunDir(tmp_path / "out")
    run_pipeline(recipe, run_dir, only=["data", "train"])
    done = tunesmith("export", run_dir.root, "--format", "merged", "--format", "gguf")
    assert_user_error(done, "GGUF export supports llama, qwen2 models, not 'qwen3'")
    assert not (run_dir.root / "export" / "merged").exists()


def test_cli_evaluate_on_its_own_scores_the_exports_too(exported):
    """`tunesmith evaluate RUN` runs the evaluate stage alone, in a fresh process: the export
    rows register with the export stage's import, which the pipeline does but the command
    did not; compare.json then lost every export row."""
    import subprocess
    import sys

    _, run_dir, _ = exported
    done = subprocess.run(
        [sys.executable, "-m", "tunesmith.cli", "evaluate", str(run_dir.root)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    compare = json.loads((run_dir.eval / "compare.json").read_text())
    assert {"merged", "gguf_f16", "gguf_q8_0", "int8", "tuned"} <= set(compare["rows"])
    assert "test split evaluated" in done.stdout and "gguf_q8_0" in done.stdout  # figures: stdout
    # the report is re-rendered: it kept the figures (and the count) of before
    page = (run_dir.report / "report.html").read_text(encoding="utf-8")
    count = compare["test_evaluations"]
    assert count >= 2 and f"evaluated <b>{count}</b> times" in page
