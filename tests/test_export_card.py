"""Model cards of exports: Hub front matter, no local paths, where a scored answer ends."""

from __future__ import annotations

import pytest
import yaml

RECORD = {
    "artefacts": {},
    "tuned": {"bytes_fp32": 400, "tokens_per_second": 10.0},
    "license": "unknown (see the base model's licence)",
}
MERGED = {"path": "merged", "description": "merged folder", "bytes": 100, "tokens_per_second": 9}
MERGED["format"] = "merged"
GGUF = {"path": "model-f16.gguf", "description": "GGUF", "bytes": 50, "tokens_per_second": 8}
GGUF["format"] = "gguf"
COMPARE = {"sample_size": 8, "rows": {}, "comparisons": [], "stop": ["\n"]}


@pytest.fixture
def recipe(tmp_path, tiny_model_dir):
    from export_helpers import small_recipe

    return small_recipe(tmp_path, tiny_model_dir)


def _with_model(recipe, name: str):
    return recipe.model_copy(update={"model": recipe.model.model_copy(update={"name": name})})


def _front_matter(card: str) -> dict:
    assert card.startswith("---\n"), card[:80]
    return yaml.safe_load(card.split("---\n")[1])


def test_merged_card_has_hub_metadata_like_the_adapter_card(recipe):
    """It had none: the Hub showed no base model, library or licence for the folder."""
    from tunesmith.export.card import render_card

    recipe = _with_model(recipe, "smollm2-135m-instruct")
    meta = _front_matter(render_card(recipe, "merged", MERGED, RECORD, COMPARE, None))
    assert meta["base_model"] == "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert meta["library_name"] == "transformers"
    assert meta["license"] == "apache-2.0"  # the alias's, export.license being free text
    assert meta["tags"] == [
        "tunesmith",
        "lora",
        "transformers",
        "base_model:finetune:HuggingFaceTB/SmolLM2-135M-Instruct",
    ]


def test_front_matter_is_yaml_safe_for_user_text(recipe):
    """A licence or model name holding ': ' or a newline adds no key and breaks nothing."""
    from tunesmith.export.card import render_card

    recipe = _with_model(recipe, "org/model")
    record = {**RECORD, "license": "mit\nbase_model: evil/model"}
    meta = _front_matter(render_card(recipe, "merged", MERGED, record, None, None))
    assert meta["base_model"] == "org/model"
    assert "license" not in meta  # free text is not a licence identifier: left to the body


def test_a_local_base_model_path_appears_nowhere_in_the_card(recipe, tiny_model_dir):
    from tunesmith.export.card import render_card

    card = render_card(recipe, "merged", MERGED, {**RECORD, "license": "MIT"}, None, None)
    meta = _front_matter(card)
    assert "base_model" not in meta  # a folder name is no Hub id
    assert meta["license"] == "mit"
    assert str(tiny_model_dir) not in card
    assert f"- base model: {tiny_model_dir.name}" in card


def test_a_gguf_card_beside_its_file_has_no_front_matter(recipe):
    from tunesmith.export.card import render_card

    card = render_card(recipe, "gguf_f16", GGUF, RECORD, None, None)
    assert card.startswith("# ")


def test_card_says_where_scored_answers_end_and_its_cut_is_tunesmiths(recipe):
    """Evaluation cut answers at a line break (stop: auto on one-line answers) while the
    export's generation config stops only at end-of-turn: the card gives the stop strings
    and a cut that gives tunesmith's answers from plain generate() text."""
    from tunesmith.export.card import ANSWER_OF, render_card
    from tunesmith.models.stopping import cut_at_stop

    card = render_card(recipe, "merged", MERGED, RECORD, COMPARE, None)
    assert "## Where a scored answer ends" in card
    assert "answer = answer_of(text, ['\\n'])" in card
    assert ANSWER_OF in card
    scope: dict = {}
    exec(ANSWER_OF, scope)  # the card's own code
    stops = [("\n",), ("###", "\n\n"), ()]
    texts = ["a b\nc", "\n\nopening break\nrest", "  x ### y\n\nz", "one\n\ntwo", "  "]
    for stop in stops:
        for text in texts:
            assert scope["answer_of"](text, stop) == cut_at_stop(text, stop).strip()


def test_a_gguf_card_passes_the_turn_end_to_generate(recipe):
    """A GGUF whose EOS is not the turn end (exports.json names the ids evaluation stopped
    at): the card's generate() stops at them too, with stop strings or without."""
    from tunesmith.export.card import render_card

    gguf = {**GGUF, "eos_token_id": [0, 2]}
    card = render_card(recipe, "gguf_f16", gguf, RECORD, COMPARE, None)
    assert "do_sample=False, eos_token_id=[0, 2])" in card
    card = render_card(recipe, "gguf_f16", gguf, RECORD, {**COMPARE, "stop": []}, None)
    assert "## Where a scored answer ends" in card and "eos_token_id=[0, 2])" in card
    assert "answer = answer_of(text, [])" in card and "stop_strings" not in card
    card = render_card(recipe, "gguf_f16", GGUF, RECORD, COMPARE, None)
    assert "do_sample=False)" in card and "eos_token_id" not in card


def test_card_without_stop_strings_has_no_answer_end_section(recipe):
    from tunesmith.export.card import render_card

    card = render_card(recipe, "merged", MERGED, RECORD, {**COMPARE, "stop": []}, None)
    assert "Where a scored answer ends" not in card


# tuned scores 0.05 ROUGE-L above the q8_0 file: compare.json stores each (a, b) pair as b - a
LOST = {
    "delta": 0.05,
    "ci_low": 0.02,
    "ci_high": 0.08,
    "p_value": 0.01,
    "significant": True,
    "better": True,
    "worse": False,
    "lower_is_better": False,
    "verdict": "significantly better",
}
LOSING = {
    **COMPARE,
    "target": {"metric": "rouge_l"},
    "rows": {"gguf_q8_0": {"metrics": {}}},
    "comparisons": [{"a": "gguf_q8_0", "b": "tuned", "metrics": {"rouge_l": LOST}}],
}


def _report_difference(tmp_path, compare) -> str:
    """The report's "vs tuned" cell of the gguf_q8_0 row, as rendered."""
    import json
    import re

    from tunesmith.artifacts import RunDir
    from tunesmith.report.deploy import deploy_context
    from tunesmith.report.html import environment

    run_dir = RunDir(tmp_path / "run")
    artefact = {**GGUF, "path": "model-q8_0.gguf", "format": "gguf"}
    exports = {"tuned": RECORD["tuned"], "artefacts": {"gguf_q8_0": artefact}}
    (run_dir.root / "export").mkdir(parents=True)
    (run_dir.root / "export" / "exports.json").write_text(json.dumps(exports))
    page = environment().get_template("deploy.html.j2").render(**deploy_context(run_dir, compare))
    row = re.search(r"<td>gguf_q8_0</td>(.*?)</tr>", page).group(1)
    return re.findall(r'<td class="num">([^<]*)</td>', row)[-1]


def test_card_and_report_give_an_export_loss_the_same_sign(recipe, tmp_path):
    """The card said "tuned minus this export" (+0.05), the report "export minus tuned"
    (-0.05) for the same pair: both now read export minus tuned, from one function."""
    from tunesmith.export.card import render_card

    card = render_card(recipe, "gguf_q8_0", GGUF, RECORD, LOSING, None)
    assert "This export minus the tuned model, paired on the same examples:" in card
    line = "- rouge_l: -0.05 [-0.08, -0.02], p = 0.01 (significantly worse)"
    assert line in card
    assert _report_difference(tmp_path, LOSING) == "-0.0500 [-0.0800, -0.0200], p 0.01"


def test_a_pair_stored_the_other_way_reads_the_same(tmp_path):
    from tunesmith.stats.compare import paired_difference

    flipped = {"a": "tuned", "b": "gguf_q8_0", "metrics": {"rouge_l": {**LOST, "delta": -0.05}}}
    flipped["metrics"]["rouge_l"] |= {"ci_low": -0.08, "ci_high": -0.02, "better": False}
    flipped["metrics"]["rouge_l"] |= {"worse": True, "verdict": "significantly worse"}
    both = [LOSING, {**LOSING, "comparisons": [flipped]}]
    read = [paired_difference(c, "gguf_q8_0", "tuned")["rouge_l"] for c in both]
    assert read[0] == read[1]
    assert read[0]["delta"] == -0.05 and read[0]["worse"] and not read[0]["better"]


def _with_data(recipe, **data):
    return recipe.model_copy(update={"data": recipe.data.model_copy(update=data)})


def test_card_shows_the_prompt_format_training_used(recipe, tiny_model_dir):
    """The card did not say how to prompt the model: now the template, the text the model
    reads (the run's chat template applied) and transformers code that builds it."""
    from transformers import AutoTokenizer

    from tunesmith.export.card import render_card
    from tunesmith.export.prompt_card import rendered_prompt
    from tunesmith.models.formatting import conversation, render

    recipe = _with_data(
        recipe, prompt_template="Summarise:\n{description}", system_prompt="Be brief."
    )
    prompt = rendered_prompt(recipe, tiny_model_dir)
    card = render_card(recipe, "merged", MERGED, RECORD, None, None, prompt)
    assert "## Prompt format" in card
    assert "```text\nSummarise:\n{description}\n```" in card
    # exactly what training and evaluation build for a record whose description is <description>
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    example = {"system": "Be brief.", "prompt": "Summarise:\n<description>", "response": "x"}
    expected = render(conversation(example, with_answer=False), tokenizer, generation_prompt=True)
    assert prompt == expected
    assert prompt.endswith("<|im_start|>assistant\n")
    assert f"```text\n{prompt}\n```" in card
    code = card.split("```python\n")[1].split("\n```")[0]
    scope: dict = {}
    exec("messages = " + code.split("messages = ")[1].split("\ntext = ")[0], scope)  # as Python
    assert scope["messages"] == conversation(example, with_answer=False)


HOSTILE = (
    "```\n<script>alert(1)</script>\n# Injected\n---\nlicense: evil\n"
    "''' \"\"\" \\ {{x}} {description}"
)


def test_recipe_text_in_the_prompt_section_stays_inert(recipe, tiny_model_dir):
    """Recipe text holding a code fence, HTML, a heading, YAML and quotes stays inside code
    blocks: no markup of its own, no front-matter key, and the Python example still parses
    to exactly that text."""
    import ast

    from markdown_it import MarkdownIt

    from tunesmith.export.card import render_card
    from tunesmith.export.prompt_card import rendered_prompt

    recipe = _with_data(recipe, prompt_template=HOSTILE, system_prompt=HOSTILE)
    card = render_card(
        recipe, "merged", MERGED, RECORD, None, None, rendered_prompt(recipe, tiny_model_dir)
    )
    assert set(_front_matter(card)) == {"library_name", "pipeline_tag", "tags"}
    body = card.split("---\n", 2)[2]
    tokens = MarkdownIt("commonmark").parse(body)
    assert not [t for t in tokens if t.type.startswith("html")]
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert "Injected" not in headings and "Prompt format" in headings
    fences = [t for t in tokens if t.type == "fence"]
    # template, system message, rendered prompt, code: each whole, and nowhere else
    assert sum("<script>" in t.content for t in fences) == 4
    assert body.count("<script>") == sum(t.content.count("<script>") for t in fences)
    assert "<script>" not in MarkdownIt("commonmark").render(body)
    code = next(t.content for t in fences if t.info == "python")
    messages = ast.literal_eval(code.split("messages = ", 1)[1].split("\ntext = ")[0])
    assert messages[0] == {"role": "system", "content": HOSTILE}
    assert messages[1]["content"].endswith("{x} <description>")  # slots as <field>, {{ as {


def test_a_template_with_sections_shows_them_kept_and_says_when(recipe, tiny_model_dir):
    """A {#context}...{/context} section appears in the card's example as training wrote a
    record with every field, not as '<#context>' slots, and the card says when it was dropped."""
    from tunesmith.export.card import render_card
    from tunesmith.export.prompt_card import rendered_prompt

    template = (
        "{description}{#section}\n\nSection: {section}{/section}{^package}\n\nNone.{/package}"
    )
    recipe = _with_data(recipe, prompt_template=template)
    card = render_card(
        recipe, "merged", MERGED, RECORD, None, None, rendered_prompt(recipe, tiny_model_dir)
    )
    code = card.split("```python\n")[1].split("\n```")[0]
    scope: dict = {}
    exec("messages = " + code.split("messages = ")[1].split("\ntext = ")[0], scope)
    assert scope["messages"][-1]["content"] == "<description>\n\nSection: <section>"
    assert "was kept only when the record's field was not blank" in card


def test_card_says_which_intervals_average_over_a_thin_class(recipe):
    from tunesmith.export.card import render_card

    thin = "1 class(es) averaged over have fewer than 10 test rows (fewest: 2)"
    f1 = {"value": 0.5, "ci_low": 0.3, "ci_high": 0.7, "n": 20}
    rows = {"tuned": {"metrics": {"f1": {**f1, "caution": thin}, "accuracy": f1}}}
    card = render_card(recipe, "merged", MERGED, RECORD, {**COMPARE, "rows": rows}, None)
    assert f"f1 intervals: {thin}." in card and "accuracy intervals" not in card
    plain = {"tuned": {"metrics": {"f1": f1}}}
    assert "intervals:" not in render_card(
        recipe, "merged", MERGED, RECORD, {**COMPARE, "rows": plain}, None
    )
