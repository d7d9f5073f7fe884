"""The pretrain stage: runs before train, chains into fine-tuning, four rows, resume, bad input."""

from __future__ import annotations

import json

import pytest

from tunesmith.ablation.driver import run_with_ablation
from tunesmith.artifacts import RunDir, read_jsonl
from tunesmith.config import load_recipe
from tunesmith.errors import UserError
from tunesmith.pipeline import run_pipeline

TRAINING = {
    "max_steps": 3,
    "batch_size": 4,
    "learning_rate": 5e-3,
    "max_seq_length": 64,
    "eval_every": 3,
    "lora": {"r": 2, "alpha": 4, "dropout": 0.0},
}
PRETRAIN = {
    "max_seq_length": 32,
    "held_out": 4,
    "max_steps": 8,
    "batch_size": 4,
    "learning_rate": 1e-2,
    "eval_every": 4,
    "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
}
EVALUATION = {"sample_size": 3, "generation": {"max_new_tokens": 2, "batch_size": 4}}


def _corpus(folder):
    from conftest import make_records

    folder.mkdir(parents=True, exist_ok=True)
    for i, row in enumerate(make_records(48)):
        (folder / f"doc{i:02d}.txt").write_text(row["description"] + "\n" + row["synopsis"])
    return folder


def _recipe(tmp_path, tiny_recipe, **pretrain):
    settings = {"corpus": str(_corpus(tmp_path / "corpus")), **PRETRAIN, **pretrain}
    return load_recipe(tiny_recipe(pretrain=settings, training=TRAINING, evaluation=EVALUATION))


@pytest.fixture(scope="module")
def chained(tmp_path_factory, tiny_model_dir):
    """One pre-trained + fine-tuned tiny run, shared by the read-only tests."""
    from conftest import make_records, write_recipe

    folder = tmp_path_factory.mktemp("chained")
    path = write_recipe(
        folder,
        tiny_model_dir,
        make_records(40),
        {"validation": 4, "test": 4},
        pretrain={"corpus": str(_corpus(folder / "corpus")), "compare_without": True, **PRETRAIN},
        training=TRAINING,
        evaluation=EVALUATION,
    )
    recipe = load_recipe(path)
    run_dir = RunDir(folder / "run")
    seen = []
    outcome = run_with_ablation(recipe, run_dir, lambda *args: seen.append(args[:2]))
    return recipe, run_dir, outcome, seen


def test_pretrain_runs_before_train_and_lowers_domain_perplexity(chained):
    recipe, run_dir, outcome, _ = chained
    assert list(outcome) == ["data", "pretrain", "train", "evaluate", "domain", "checks", "report"]
    metrics = json.loads((run_dir.root / "pretrain" / "metrics.json").read_text())
    ppl = metrics["domain_perplexity"]
    assert ppl["pretrained"] < 0.8 * ppl["base"]
    assert metrics["held_out_blocks"] == 4 and metrics["documents"] == 48
    assert (run_dir.root / "pretrain/weights/adapter_config.json").is_file()
    # resume state is gone: best/ was a second copy of pretrain/weights/ left in every run
    assert sorted(p.name for p in (run_dir.root / "pretrain").iterdir()) == [
        "held_out.jsonl",
        "metrics.json",
        "metrics.jsonl",
        "weights",
    ]
    assert sorted(p.name for p in run_dir.train.iterdir()) == [
        "adapter",
        "metrics.jsonl",
        "summary.json",
    ]
    assert run_dir.stage_entry("pretrain")["result"]["steps"] == 8
    assert "pretrain/weights" in run_dir.stage_entry("train")["inputs"]
    assert set(run_pipeline(recipe, run_dir).values()) == {"skipped"}


def test_evaluation_scores_four_rows(chained):
    _, run_dir, _, _ = chained
    metrics = json.loads((run_dir.eval / "metrics.json").read_text())
    assert {"base", "pretrained", "finetune_only", "tuned"} <= set(metrics)
    assert metrics["finetune_only"]["perplexity"] != metrics["tuned"]["perplexity"]
    domain = json.loads((run_dir.root / "domain" / "metrics.json").read_text())
    assert set(domain["perplexity"]) == {"base", "pretrained", "finetune_only", "tuned"}
    pretrain = json.loads((run_dir.root / "pretrain" / "metrics.json").read_text())
    # the domain stage rescoring the same blocks agrees with the pretrain stage's own figures
    assert domain["perplexity"]["base"] == pytest.approx(pretrain["domain_perplexity"]["base"])
    assert domain["perplexity"]["pretrained"] == pytest.approx(
        pretrain["domain_perplexity"]["pretrained"], rel=1e-4
    )
    page = (run_dir.report / "report.html").read_text()
    assert "Domain pre-training: what it bought" in page
    assert "fine-tuning only (no pre-training)" in page
    assert metrics["pretrained"]["perplexity"] != metrics["base"]["perplexity"]
    compare = json.loads((run_dir.eval / "compare.json").read_text())
    assert compare["rows"]["pretrained"]["metrics"]["perplexity"]["value"] == pytest.approx(
        metrics["pretrained"]["perplexity"]
    )
    pairs = {(c["a"], c["b"]): c["metrics"] for c in compare["comparisons"]}
    assert pairs[("base", "pretrained")]["perplexity"]["b"] == pytest.approx(
        metrics["pretrained"]["perplexity"]
    )
    assert pairs[("pretrained", "tuned")]["perplexity"]["a"] == pytest.approx(
        metrics["pretrained"]["perplexity"]
    )


def test_the_fine_tuning_only_twin_shares_the_curated_data(chained):
    from tunesmith.ablation.driver import sibling_of

    _, run_dir, _, seen = chained
    twin = sibling_of(run_dir)
    assert ("data (no pre-training)", "skipped") in seen  # shared, not curated again
    assert ("train (no pre-training)", "ran") in seen
    assert (twin.data / "train.jsonl").read_bytes() == (run_dir.data / "train.jsonl").read_bytes()
    assert "pretrain/weights" not in twin.stage_entry("train")["inputs"]
    assert (run_dir.root / "ablation/finetune_only/adapter_config.json").is_file()


def test_fine_tuning_starts_from_the_pretrained_weights(chained, monkeypatch):
    """The train stage's starting logits equal plain peft's base + merged pre-training adapter."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from tunesmith.train import loop

    recipe, run_dir, _, _ = chained
    probe = torch.tensor([[5, 17, 42, 8, 99, 3]])
    seen = {}
    original = loop.Trainer.run

    def record(self, on_step=None):
        with torch.no_grad():
            seen["logits"] = self.model(probe).logits
        return original(self, on_step)

    monkeypatch.setattr(loop.Trainer, "run", record)
    run_pipeline(recipe, run_dir, only=["train"])
    plain = AutoModelForCausalLM.from_pretrained(recipe.model.name).eval()
    with torch.no_grad():
        base_logits = plain(probe).logits
        weights = str(run_dir.root / "pretrain" / "weights")
        merged = PeftModel.from_pretrained(plain, weights).merge_and_unload().eval()
        pretrained_logits = merged(probe).logits
    assert torch.allclose(seen["logits"], pretrained_logits, atol=1e-5)
    assert not torch.allclose(seen["logits"], base_logits, atol=1e-3)


def test_full_pretraining_writes_a_plain_model(tmp_path, tiny_recipe):
    from transformers import AutoModelForCausalLM

    recipe = _recipe(tmp_path, tiny_recipe, method="full", learning_rate=1e-3, max_steps=4)
    run_dir = RunDir(tmp_path / "run")
    outcome = run_pipeline(recipe, run_dir, only=["pretrain"])
    assert outcome == {"pretrain": "ran"}
    model = AutoModelForCausalLM.from_pretrained(run_dir.root / "pretrain" / "weights")
    assert model.config.vocab_size > 0
    ppl = json.loads((run_dir.root / "pretrain/metrics.json").read_text())["domain_perplexity"]
    assert ppl["pretrained"] < ppl["base"]


class Crash(Exception):
    pass


def test_interrupted_pretraining_resumes_to_identical_weights(tmp_path, tiny_recipe, monkeypatch):
    import torch
    from safetensors.torch import load_file

    from tunesmith.train import loop

    recipe = _recipe(
        tmp_path, tiny_recipe, max_steps=8, eval_every=2, lora={"r": 4, "dropout": 0.1}
    )
    clean = RunDir(tmp_path / "clean")
    run_pipeline(recipe, clean, only=["pretrain"])
    original = loop.Trainer._optimizer_step

    def crash_at_step_6(self, batches):
        if self.state.step == 5:
            raise Crash
        return original(self, batches)

    broken = RunDir(tmp_path / "broken")
    monkeypatch.setattr(loop.Trainer, "_optimizer_step", crash_at_step_6)
    with pytest.raises(Crash):
        run_pipeline(recipe, broken, only=["pretrain"])
    assert broken.stage_entry("pretrain")["status"] == "failed"
    monkeypatch.setattr(loop.Trainer, "_optimizer_step", original)
    run_pipeline(recipe, broken, only=["pretrain"])
    assert broken.stage_entry("pretrain")["result"]["resumed"] is True
    steps = [r["step"] for r in read_jsonl(broken.root / "pretrain/metrics.jsonl") if "loss" in r]
    assert steps == list(range(1, 9))
    a = load_file(clean.root / "pretrain/weights/adapter_model.safetensors")
    b = load_file(broken.root / "pretrain/weights/adapter_model.safetensors")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_corpus_problems_are_one_line_errors(tmp_path, tiny_recipe):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "image.png").write_bytes(b"\x89PNG")
    cases = {
        str(empty): "the folder has no .txt or .md files",
        str(tmp_path / "nope"): "nope, which does not exist",
    }
    for corpus, expected in cases.items():
        recipe = _recipe(tmp_path, tiny_recipe, corpus=corpus)
        with pytest.raises(UserError, match=expected):
            run_pipeline(recipe, RunDir(tmp_path / "r"), only=["pretrain"])
    short = tmp_path / "short"
    short.mkdir()
    (short / "a.txt").write_text("tiny text")
    recipe = _recipe(tmp_path, tiny_recipe, corpus=str(short), max_seq_length=64)
    with pytest.raises(UserError, match="shorter than one block"):
        run_pipeline(recipe, RunDir(tmp_path / "r2"), only=["pretrain"])


def test_non_utf8_files_are_skipped_and_counted(tmp_path):
    from tunesmith.pretrain.corpus import read_corpus

    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "good.md").write_text("good text")
    (folder / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (folder / "binary.txt").write_bytes(b"ab\0cd")
    corpus = read_corpus([str(folder)], "text")
    assert corpus.documents == ["good text"] and corpus.files == 3
    assert sorted(p.rsplit("/", 1)[-1] for p in corpus.skipped) == ["binary.txt", "latin1.txt"]
    with pytest.raises(UserError, match="the corpus is empty"):
        read_corpus([str(folder / "latin1.txt")], "text")


def test_a_dotted_text_field_reads_the_nested_text_of_a_record_file(tmp_path):
    from tunesmith.pretrain.corpus import read_corpus

    records = tmp_path / "docs.jsonl"
    rows = [
        {"meta": {"body": "nested text", "lang": "en"}},
        {"meta.body": "a field named with a dot", "meta": {"body": "not this"}},
    ]
    records.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    corpus = read_corpus([str(records)], "meta.body")
    assert corpus.documents == ["nested text", "a field named with a dot"]
    records.write_text(json.dumps({"meta": {"lang": "en"}}) + "\n")
    with pytest.raises(UserError, match=r"docs.jsonl:1: pretrain.text_field 'meta.body' is miss"):
        read_corpus([str(records)], "meta.body")


def _losses(run_dir) -> list[float]:
    return [r["loss"] for r in read_jsonl(run_dir.root / "pretrain/metrics.jsonl") if "loss" in r]


def test_curriculum_and_replay_shape_the_pretraining_batches(tmp_path, tiny_recipe):
    plain = RunDir(tmp_path / "plain")
    run_pipeline(_recipe(tmp_path, tiny_recipe, max_steps=4), plain, only=["pretrain"])
    planned = RunDir(tmp_path / "planned")
    recipe = _recipe(
        tmp_path,
        tiny_recipe,
        max_steps=4,
        curriculum={"scorer": "random", "start_fraction": 0.1},
        replay={"share": 0.5},
    )
    run_pipeline(recipe, planned, only=["pretrain"])
    assert _losses(planned) != _losses(plain)
    metrics = json.loads((planned.root / "pretrain/metrics.json").read_text())
    assert metrics["replay_examples"] > 0
    assert json.loads((plain.root / "pretrain/metrics.json").read_text())["replay_examples"] == 0
    curriculum = json.loads((planned.root / "pretrain/curriculum.json").read_text())
    assert curriculum["scorer"] == "random" and curriculum["examples"] == metrics["train_blocks"]


def test_curriculum_scorers_that_cannot_rank_blocks_are_refused(tmp_path, tiny_recipe):
    for scorer in ("length", "field"):
        with pytest.raises(UserError, match=f"pretrain.curriculum.scorer: .*'{scorer}' does not"):
            _recipe(tmp_path, tiny_recipe, curriculum={"scorer": scorer})
    recipe = _recipe(tmp_path, tiny_recipe, curriculum={})
    assert recipe.pretrain.curriculum.scorer == "base_loss"


def _duplicated_corpus(folder):
    """Every other document twice, so the held-out slice copies some training documents."""
    from conftest import make_records

    folder.mkdir(parents=True, exist_ok=True)
    for i, row in enumerate(make_records(32)):
        for copy in ("a", "b")[: 1 + i % 2]:
            (folder / f"doc{i:02d}{copy}.txt").write_text(row["description"])
    return str(folder)


def _held_out(tmp_path, tiny_recipe, leakage: str):
    from transformers import AutoTokenizer

    from tunesmith.pretrain.blocks import build_blocks

    dedup = {"exact": False, "near": False, "leakage": leakage}
    corpus = _duplicated_corpus(tmp_path / "dup")
    recipe = _recipe(tmp_path, tiny_recipe, corpus=corpus, dedup=dedup)
    tokenizer = AutoTokenizer.from_pretrained(recipe.model.name)
    return build_blocks(recipe.pretrain, tokenizer)


def test_leakage_drops_or_counts_held_out_copies_of_training_documents(tmp_path, tiny_recipe):
    off = _held_out(tmp_path, tiny_recipe, "off")
    report = _held_out(tmp_path, tiny_recipe, "report")
    drop = _held_out(tmp_path, tiny_recipe, "drop")
    assert off.stats["leakage"] == {"checked": False, "reason": "dedup.leakage is off"}
    found = report.stats["leakage"]["found"]["held_out"]
    assert found["exact"] > 0 and report.stats["leakage"]["dropped"] == 0
    assert report.held_out == off.held_out and report.train == drop.train == off.train
    assert drop.stats["leakage"]["dropped"] == found["exact"]
    assert drop.stats["funnel"][-1]["step"] == "leakage"
    assert drop.stats["funnel"][-1]["dropped"] == {"leakage_exact": found["exact"]}
    assert sum(map(len, drop.held_out)) < sum(map(len, off.held_out))
    assert drop.stats["held_out_blocks"] == len(drop.held_out)
    assert _copies(off) and not _copies(drop)


def _documents(blocks: list[list[int]]) -> list[tuple[int, ...]]:
    """The EOS-separated token runs of packed blocks (the tiny tokenizer's EOS is 2)."""
    runs, current = [], []
    for token in (t for block in blocks for t in block):
        if token == 2:
            runs.append(tuple(current))
            current = []
        else:
            current.append(token)
    return runs


def _copies(blocks) -> list:
    """Whole held-out documents (not the one cut by the boundary) that are also trained on."""
    trained = set(_documents(blocks.train))
    return [d for d in _documents(blocks.held_out)[1:] if d in trained]


def test_leakage_is_recorded_in_the_pretrain_metrics(tmp_path, tiny_recipe):
    dedup = {"exact": False, "near": False, "leakage": "drop"}
    corpus = _duplicated_corpus(tmp_path / "dup")
    recipe = _recipe(tmp_path, tiny_recipe, corpus=corpus, dedup=dedup, max_steps=1)
    run_dir = RunDir(tmp_path / "run")
    run_pipeline(recipe, run_dir, only=["pretrain"])
    metrics = json.loads((run_dir.root / "pretrain/metrics.json").read_text())
    assert metrics["leakage"]["action"] == "drop" and metrics["leakage"]["dropped"] > 0
    held = read_jsonl(run_dir.root / "pretrain/held_out.jsonl")
    assert len(held) == metrics["held_out_blocks"]


def test_a_dedup_block_keeps_the_documented_leakage_default(tmp_path, tiny_recipe):
    """docs/recipe.md documents pretrain.dedup.leakage: off; a `dedup:` block naming other keys
    used to get the data stage's default (drop) instead."""
    recipe = _recipe(tmp_path, tiny_recipe, dedup={"near": False})
    assert recipe.pretrain.dedup.leakage == "off" and recipe.pretrain.dedup.near is False
