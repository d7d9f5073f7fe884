"""Stop strings (`evaluation.generation.stop`): the fast loop's outputs equal plain greedy
`model.generate` cut at the first stop string after the answer starts, it stops decoding early,
and `auto` is decided by the training answers."""

from __future__ import annotations

import pytest
from test_fast_generation import EOS, _plain, _prompts
from test_perf_invariants import PAD, VOCAB, _tiny_llama

from tunesmith.models.stopping import cut_at_stop

NEW = 16


class WordTokenizer:
    """Token i reads as `texts[i]`; PAD and EOS read as nothing (special tokens)."""

    pad_token_id, eos_token_id = PAD, EOS

    def __init__(self, texts: dict[int, str]):
        self.texts = texts

    def decode(self, ids, skip_special_tokens=True):
        ids = [ids] if isinstance(ids, int) else ids
        return "".join(self.texts.get(i, f"w{i} ") for i in ids if i not in (PAD, EOS))

    def batch_decode(self, rows, skip_special_tokens=True):
        return [self.decode(row) for row in rows]

    def __len__(self):
        return VOCAB


def _full(model, prompt: list[int]) -> list[int]:
    """Plain greedy `model.generate` to the token limit, cut at EOS (as token ids)."""
    return [int(token) for token in _plain(model, prompt, NEW).split()]


@pytest.fixture(scope="module")
def model():
    return _tiny_llama(3)


@pytest.fixture(scope="module")
def greedy(model):
    return [_full(model, p) for p in _prompts()]


@pytest.fixture(scope="module")
def lead(greedy) -> int:
    """A row whose first four tokens differ (its first and fourth become line breaks)."""
    return next(i for i, row in enumerate(greedy) if len(row) > 6 and len(set(row[:4])) == 4)


@pytest.fixture(scope="module")
def tokenizer(greedy, lead):
    """Line breaks where they test something: the `lead` row opens with one (it must not cut
    that row to nothing) and has another later (which must cut it); a token reading "end.\n"
    in another row (the answer keeps "end.")."""
    row = greedy[lead]
    texts = {row[0]: "\n", row[3]: "\n"}
    later = next(t for r in greedy for t in r[2:] if t not in row[:4])
    texts[later] = "end.\n"
    return WordTokenizer(texts)


def _expected(tokenizer, greedy, stop) -> list[str]:
    return [cut_at_stop(tokenizer.decode(row), stop).strip() for row in greedy]


@pytest.mark.parametrize("batch_size", [1, 3, 4])
@pytest.mark.parametrize("stop", [("\n",), ("\n", "7 w"), ("end.",)])
def test_fast_and_plain_generation_equal_the_cut_greedy_text(
    model, greedy, tokenizer, batch_size, stop
):
    from tunesmith.models.generation import generate_texts, generate_texts_hf

    expected = _expected(tokenizer, greedy, stop)
    assert expected != _expected(tokenizer, greedy, ())  # the stop strings cut something
    fast = generate_texts(model, tokenizer, _prompts(), NEW, batch_size, stop=stop)
    plain = generate_texts_hf(model, tokenizer, _prompts(), NEW, batch_size, stop=stop)
    assert fast == expected
    assert plain == expected


def test_a_leading_line_break_does_not_end_the_answer(model, greedy, tokenizer, lead):
    from tunesmith.models.generation import generate_texts

    first = generate_texts(model, tokenizer, [_prompts()[lead]], NEW, 1, stop=("\n",))[0]
    # the row reads "\n w w \n ...": the opening break is skipped, the second one cuts
    assert first == f"w{greedy[lead][1]} w{greedy[lead][2]}"


def test_stop_strings_end_decoding_early(model, tokenizer):
    from tunesmith.models.generation import generate_texts

    steps = []
    handle = model.register_forward_hook(lambda *_: steps.append(1))
    try:
        generate_texts(model, tokenizer, _prompts(), NEW, 16)
        unstopped = len(steps)
        steps.clear()
        # every word token ends in a space: each row's answer is its first word
        words = generate_texts(model, tokenizer, _prompts(), NEW, 16, stop=(" ",))
    finally:
        handle.remove()
    assert unstopped == NEW  # prefill + NEW - 1 steps: some row runs to the limit
    assert len(steps) <= 3  # prefill, then a line break or two before the first word
    assert all(w.startswith("w") and " " not in w for w in words if w)


@pytest.mark.parametrize(
    ("text", "stop", "cut"),
    [
        ("one\ntwo", ("\n",), "one"),
        ("\n\n one\ntwo", ("\n",), "\n\n one"),
        ("a###b\nc", ("\n", "###"), "a"),
        ("no stop here", ("\n",), "no stop here"),
        ("###a", ("###",), ""),  # a stop string where the answer starts ends it there
    ],
)
def test_cut_at_stop(text, stop, cut):
    assert cut_at_stop(text, stop) == cut


def _recipe(stop=None):
    from tunesmith.config.schema import Recipe

    generation = {} if stop is None else {"stop": stop}
    return Recipe.model_validate(
        {
            "name": "t",
            "task": "summarization",
            "data": {"train": "train.jsonl", "input_field": "x", "output_field": "y"},
            "evaluation": {"generation": generation},
        }
    )


def _data(tmp_path, answers: list[str], name: str = "data"):
    from tunesmith.artifacts import write_jsonl

    folder = tmp_path / name
    folder.mkdir()
    write_jsonl(folder / "train.jsonl", [{"prompt": "p", "response": a} for a in answers])
    return folder


def test_auto_stops_at_a_line_break_only_when_training_answers_are_one_line(tmp_path):
    from tunesmith.evaluate.stop import stop_strings

    assert stop_strings(_recipe(), _data(tmp_path, ["one line", "another"])) == ("\n",)
    assert stop_strings(_recipe(), _data(tmp_path, ["one", "two\nlines"], "multi")) == ()
    assert stop_strings(_recipe(), tmp_path / "missing") == ()
    chat = tmp_path / "chat"
    chat.mkdir()
    from tunesmith.artifacts import write_jsonl

    turns = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a\nb"}]
    write_jsonl(chat / "train.jsonl", [{"messages": turns}])
    assert stop_strings(_recipe(), chat) == ()
    assert stop_strings(_recipe(["###"]), _data(tmp_path, ["x"], "explicit")) == ("###",)
    assert stop_strings(_recipe([]), _data(tmp_path, ["x"], "none")) == ()


def test_recipe_stop_accepts_one_string_and_refuses_an_empty_one():
    from pydantic import ValidationError

    assert _recipe("\n\n").evaluation.generation.stop == ["\n\n"]
    assert _recipe().evaluation.generation.stop == "auto"
    with pytest.raises(ValidationError, match="empty stop string"):
        _recipe(["\n", ""])
