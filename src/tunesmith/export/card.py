"""Model cards: one Markdown card per export (README.md inside a folder, <file>.md beside a
GGUF), from files earlier stages wrote: the recipe, data card, compare.json, exports.json."""

from __future__ import annotations

import html
import re
from pathlib import Path

from tunesmith.artifacts import atomic_write_text
from tunesmith.artifacts.files import read_optional_object


def card_path(export_dir: Path, artefact: dict) -> Path:
    path = export_dir / artefact["path"]
    return path / "README.md" if not path.suffix else path.with_suffix(".md")


def card_inputs(recipe, run_dir) -> tuple:
    """What every card reads: (compare, data card, rendered prompt, prompt style). Read before
    an export writes anything: a damaged compare.json found after the new artefacts had moved
    in left them without their cards (the previous ones gone with the folders they were in)."""
    from tunesmith.export.prompt_card import prompt_example
    from tunesmith.methods import method_of

    compare = read_optional_object(run_dir.eval / "compare.json")
    data_card = read_optional_object(run_dir.data / "data_card.json")
    # the tokenizer saved with the trained result is the one every export ships
    prompt, style = prompt_example(recipe, run_dir.train / method_of(recipe.training).artefact)
    return compare, data_card, prompt, style


def write_cards(recipe, run_dir, record: dict, inputs: tuple | None = None) -> list[str]:
    """Write every artefact's card (from `inputs`, else `card_inputs` read now); returns their
    paths relative to the run folder."""
    compare, data_card, prompt, style = inputs or card_inputs(recipe, run_dir)
    written = []
    for name, artefact in record["artefacts"].items():
        path = card_path(run_dir.stage("export"), artefact)
        if path.parent.exists():
            text = render_card(recipe, name, artefact, record, compare, data_card, prompt, style)
            atomic_write_text(path, text)
            written.append(str(path.relative_to(run_dir.root)))
    return written


def render_card(
    recipe, name: str, artefact: dict, record: dict, compare, data_card, prompt=None, style=None
) -> str:
    """The card's Markdown; `prompt` is an example prompt as the model reads it (rendered
    with the run's tokenizer), shown under "Prompt format" when given; `style` is how
    training wrote prompts (export/prompt_card.py `prompt_style`; the chat template when
    not given)."""
    from tunesmith.export.formats import FORMATS
    from tunesmith.export.prompt_card import prompt_section
    from tunesmith.methods import describe
    from tunesmith.models.naming import public_model_name

    fmt = artefact.get("format", "")  # every exports.json record has it; a bare card not
    load = FORMATS.get(fmt).load_code(artefact["path"]) if fmt in FORMATS else []

    lines = [
        f"# {recipe.name}: {name}",
        "",
        f"- format: {artefact['description']}",
        f"- base model: {public_model_name(recipe.model.name)}",
        f"- task: {recipe.task}; training: {describe(recipe.training)}",
        f"- size on disk: {artefact['bytes']:,} bytes (tuned model in fp32: "
        f"{record['tuned']['bytes_fp32']:,} bytes)",
        f"- generation: {artefact['tokens_per_second']} tokens/s (tuned model: "
        f"{record['tuned']['tokens_per_second']} tokens/s; CPU, one prompt)",
        f"- licence: {_prose(record.get('license', 'unknown'))}",
        "",
        "## Data",
        "",
        _data_summary(data_card),
        *prompt_section(recipe, prompt, style or "chat", load),
        "",
        "## Quality on held-out test examples",
        "",
        *_metrics(compare, name),
        *_answer_end(compare, recipe, artefact.get("eos_token_id")),
    ]
    text = "\n".join(lines) + "\n"
    is_folder = not Path(artefact["path"]).suffix
    return front_matter(recipe, record) + text if is_folder else text


# a licence the Hub can take as an identifier (apache-2.0, mit, llama3.2, cc-by-4.0...)
_LICENSE_ID = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")


def front_matter(recipe, record: dict) -> str:
    """The Hub's YAML metadata block of a folder's README.md, as PEFT writes one into the
    adapter's: without it the Hub shows no base model, library or licence for the folder.

    Written with yaml.safe_dump: the run name, model name and licence are the user's text,
    and formatted into YAML by hand a ':' or newline in them would break or inject keys."""
    import yaml

    from tunesmith.methods import method_of
    from tunesmith.models.naming import base_hub_id

    hub = base_hub_id(recipe.model.name)
    meta = {"base_model": hub} if hub else {}  # the Hub takes only a Hub id here
    meta["library_name"] = "transformers"
    meta["pipeline_tag"] = "text-generation"
    tags = ["tunesmith", method_of(recipe.training).name, "transformers"]
    meta["tags"] = tags + ([f"base_model:finetune:{hub}"] if hub else [])
    license = _license_id(record.get("license"), recipe.model.name)
    if license:
        meta["license"] = license
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n\n"


def _license_id(configured: str | None, model_name: str) -> str | None:
    """export.license when it is an identifier, else the base model's when tunesmith knows
    it; None leaves the key out (free text stays in the card's body)."""
    from tunesmith.models.naming import base_license

    text = (configured or "").strip().lower()
    known = _LICENSE_ID.match(text) and text != "unknown"
    return text if known else base_license(model_name)


def _prose(text: str) -> str:
    """Free text of the recipe as one line of Markdown text: a newline would let it start a
    heading or an HTML block of its own, and inline HTML would be markup (&lt; shows as <)."""
    return html.escape(" ".join(str(text).split()), quote=False)


def _data_summary(card) -> str:
    if not card:
        return "No data card in the run folder."
    sizes = card.get("sizes", {})
    parts = [f"{split}: {count}" for split, count in sizes.items() if isinstance(count, int)]
    return "Examples per split: " + (", ".join(parts) or "unknown") + "."


def _metrics(compare, name: str) -> list[str]:
    if not compare:
        return ["Not evaluated yet: `tunesmith evaluate RUN`, then `tunesmith export RUN --cards`."]
    level = f"{100 * compare.get('confidence', 0.95):.0f} %"
    lines = [f"n = {compare['sample_size']}; intervals are {level} bootstrap intervals.", ""]
    lines += ["| model | metric | value | interval |", "| --- | --- | --- | --- |"]
    cautions = {}  # a macro interval over a class of few test rows (stats: `caution`)
    for row in ("base", "tuned", name):
        for key, value in compare["rows"].get(row, {}).get("metrics", {}).items():
            lines.append(
                f"| {row} | {key} | {value['value']:.4g} | "
                f"[{value['ci_low']:.4g}, {value['ci_high']:.4g}] |"
            )
            cautions.update({key: value["caution"]} if value.get("caution") else {})
    if cautions:
        lines += ["", *(f"{key} intervals: {words}." for key, words in cautions.items())]
    lines += _versus_tuned(compare, name)
    if name not in compare["rows"]:
        lines += ["", "No evaluation row for this export yet (or export.evaluate is off)."]
    return lines


def _versus_tuned(compare, name: str) -> list[str]:
    """This export minus the tuned model, as the report reads it (stats.paired_difference):
    where higher is better a negative difference is quality the export lost."""
    from tunesmith.stats.compare import paired_difference

    versus = paired_difference(compare, name, "tuned")
    if not versus:
        return []
    lines = ["", "This export minus the tuned model, paired on the same examples:", ""]
    for key, d in versus.items():
        lines.append(
            f"- {key}: {_signed(d['delta'])} [{_signed(d['ci_low'])}, {_signed(d['ci_high'])}], "
            f"p = {_number(d['p_value'], '.3g')} ({d['verdict']}"
            f"{'; lower is better' if d['lower_is_better'] else ''})"
        )
    return lines


def _signed(value) -> str:
    return _number(value, "+.4g")


def _number(value, spec: str) -> str:
    """A figure compare.json could not compute is null there: shown as '–', not a crash."""
    return "–" if value is None else format(value, spec)


# How a scored answer ends, as Python a user runs on generate()'s text: tunesmith's
# cut_at_stop (models/stopping.py), written out so the card needs no tunesmith to follow.
ANSWER_OF = """def answer_of(text, stop):
    body = text.lstrip()  # a stop string only counts once the answer has started
    for s in stop:
        body = body.split(s, 1)[0]
    return body.strip()"""


def _answer_end(compare, recipe, ends: list[int] | None = None) -> list[str]:
    """Where tunesmith's scored answers end, and how to get the same answers from plain
    transformers. The stop strings are not put in generation_config.json: there they make
    every generate() call without `tokenizer=` (and the text-generation pipeline) raise.
    `ends`: the tokens evaluation stopped at, for an export plain transformers loads
    stopping at fewer (export/build.py `missing_stops`: a GGUF), passed to generate()."""
    from tunesmith.export.prompt_card import code_span

    stop = (compare or {}).get("stop") or []
    if not stop and not ends:
        return []
    tokens = recipe.evaluation.generation.max_new_tokens
    where = f"or at the first of the stop strings {code_span(repr(stop))} after the answer's "
    where = where + "first non-whitespace character " if stop else ""
    lines = [
        "",
        "## Where a scored answer ends",
        "",
        f"The answers scored above end at end-of-turn {where}(greedy, at most {tokens} new "
        "tokens). To get the same answers, generate greedily and cut the text:",
    ]
    if ends:
        lines += [
            "",
            "Loaded with transformers, this export stops only at its EOS, not at the chat "
            "template's end of turn (llama.cpp reads both from a GGUF file): "
            f"{code_span('eos_token_id')} below names every token evaluation stopped at.",
        ]
    stopping = f", eos_token_id={ends!r}" if ends else ""
    lines += [
        "",
        "```python",
        f"out = model.generate(**inputs, max_new_tokens={tokens}, do_sample=False{stopping})",
        "text = tokenizer.decode(out[0, inputs.input_ids.shape[1]:], skip_special_tokens=True)",
        ANSWER_OF,
        f"answer = answer_of(text, {stop!r})",
        "```",
    ]
    if stop:
        lines += [
            "",
            f"Adding {code_span(f'stop_strings={stop!r}, tokenizer=tokenizer')} to `generate` "
            "stops early (faster, same answers) except when the model opens its answer with a "
            "stop string, where transformers stops at once and tunesmith reads on.",
        ]
    return lines
