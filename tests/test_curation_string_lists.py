"""Fields holding lists of strings (WordNet-style `words`, `examples`) are text to every step.

They used to be read as chat messages with no content: `clean` dropped every row as empty and
`data inspect` counted the fields empty in every row.
"""

from __future__ import annotations

import json

import pytest
from curation_data import config, context, distinct_texts
from typer.testing import CliRunner

from tunesmith.cli.data_cmd import data_app
from tunesmith.data.curate import post_split, pre_split
from tunesmith.data.curate.rows import collect_texts, input_text, preview, texts_of
from tunesmith.errors import UserError

runner = CliRunner()


def _glosses(n: int = 300) -> list[dict]:
    texts = distinct_texts(n)
    return [
        {
            "synset": f"thing{i}.n.01",
            "pos": "n",
            "words": [f"  thing{i} ", f"domestic_thing{i}"],
            "definition": texts[i],
            "examples": [f"the   thing{i} barked"],
        }
        for i in range(n)
    ]


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_curate_keeps_the_rows_and_cleans_each_element_of_a_list(tmp_path):
    source = _write(tmp_path / "wn.jsonl", _glosses())
    out = tmp_path / "wn.clean.jsonl"
    result = runner.invoke(data_app, ["curate", str(source), "--steps", "clean", "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 300
    assert rows[7]["words"] == ["thing7", "domestic_thing7"]  # trimmed, still a list
    assert rows[7]["examples"] == ["the thing7 barked"]
    card = json.loads((tmp_path / "wn.clean.card.json").read_text())
    assert card["funnel"][-1]["dropped"] == {}


def test_inspect_counts_the_words_of_list_fields(tmp_path):
    source = _write(tmp_path / "wn.jsonl", _glosses())
    result = runner.invoke(data_app, ["inspect", str(source), "--no-pii", "--json"])
    assert result.exit_code == 0, result.output
    fields = json.loads(result.output)["fields"]
    assert fields["words"] == {
        "n": 300,
        "min": 2,
        "median": 2,
        "mean": 2.0,
        "p95": 2,
        "max": 2,
        "empty": 0,
    }
    assert fields["examples"]["empty"] == 0 and fields["examples"]["mean"] == 3.0


def test_a_list_is_empty_only_when_none_of_its_strings_has_text():
    rows = [
        {"id": "blank-element", "words": ["dog", " "]},
        {"id": "all-blank", "words": ["  ", ""]},
        {"id": "no-element", "words": []},
    ]
    kept, funnel = pre_split(rows, config(clean={}), context(fields=("words",)))
    assert [r["id"] for r in kept] == ["blank-element"] and kept[0]["words"] == ["dog", ""]
    assert funnel[-1]["dropped"] == {"empty_words": 2}


def test_dedup_compares_the_strings_of_a_list():
    rows = [{"id": str(i), "examples": [t, "shared"]} for i, t in enumerate(distinct_texts(20))]
    rows.append({"id": "copy", "examples": list(rows[4]["examples"])})
    kept, funnel = pre_split(rows, config(dedup={}), context(fields=("examples",)))
    assert len(kept) == 20  # before: every row's text was empty, all 20 later rows dropped
    assert funnel[-1]["examples"]["exact_duplicate"][0]["duplicate_of"] == "4"


def test_pii_masks_inside_a_list():
    pytest.importorskip("presidio_analyzer")
    rows = [{"id": "1", "examples": ["write to ann@corp.com", "no address"]}]
    cfg = config(pii={"mode": "mask", "person_names": "gazetteer"})
    kept, _ = pre_split(rows, cfg, context(fields=("examples",)))
    assert kept[0]["examples"] == ["write to <EMAIL_ADDRESS>", "no address"]


def test_augment_rewrites_the_strings_of_a_list():
    pytest.importorskip("nlpaug")
    rows = [{"id": str(i), "words": [t], "label": "x"} for i, t in enumerate(distinct_texts(10))]
    cfg = config(augment={"methods": ["char_noise"], "fraction": 1.0})
    out, _, card = post_split({"train": rows}, cfg, context(label=True, fields=("words",)))
    augmented = [r for r in out["train"] if r.get("augmented")]
    assert card["augment"]["added"] == {"char_noise": 10}
    assert all(isinstance(r["words"], list) and len(r["words"]) == 1 for r in augmented)


def test_shapes_read_as_text():
    chat = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    assert texts_of(["a", "b"]) == ["a", "b"]
    assert texts_of(chat, roles=("user",)) == ["hi"]
    assert texts_of(["a", "b"], roles=("user",)) == ["a", "b"]  # roles pick messages only
    assert texts_of([{"name": "a"}]) == [] and texts_of(["a", 1]) == [] and texts_of(None) == []
    assert collect_texts([{"w": ["a", "b"], "m": chat}], ["w", "m"]) == ["a", "b", "hi", "yo"]
    ctx = context(fields=("words", "messages"))
    assert input_text({"words": ["a", "b"], "messages": chat}, ctx) == "a\nb\nhi"
    assert preview({"id": "1", "words": ["abcdef"]}, ["words"], limit=4)["words"] == ["abc…"]


def test_lists_that_are_not_text_are_left_out_or_refused(tmp_path):
    from tunesmith.data.curate.adhoc import rows_from_file

    rows = [{"text": "t", "tags": [{"k": 1}], "ids": [1, 2], "words": []}, {"words": ["w"]}]
    source = _write(tmp_path / "d.jsonl", rows)
    assert rows_from_file(source, None, None)[1] == ["text", "words"]
    with pytest.raises(UserError, match=r"field 'tags' holds no text \(list\)"):
        rows_from_file(source, ["tags"], None)
