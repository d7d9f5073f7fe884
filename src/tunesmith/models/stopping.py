"""Where a generated answer ends: at an end-of-sequence token, or at a stop string in its text
(lm-eval's "until"), the text cut before the stop string.

Why stop strings: a base or few-shot model asked for a one-line answer often writes the line,
then runs on with more lines until the token limit; the text after the line is not the answer
the user asked for (on the demo 49 base and 31 few-shot answers of 200 ran on; cutting them
moved ROUGE-L within its intervals and saved no time, docs/evaluation.md). A stop string only
counts once the answer has started (after its first non-whitespace character): a model that
opens with a line break is not cut to nothing.

How: the text decides (the first stop string after the answer's first non-whitespace character
cuts it), so the outputs are the same whether decoding stopped early or ran to the token limit.
Stopping early is the fast loop's saving: a row is checked only when its newest token's text
holds the last character of some stop string (every occurrence ends in such a token), and
finishes when its decoded text holds a stop string.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Stopping:
    end_ids: list[int]  # end-of-sequence tokens: the answer ends before them
    strings: tuple[str, ...] = ()
    decode: Callable[[list[int]], str] | None = None  # token ids -> text
    candidates: object = field(default=None, repr=False)  # bool per token id (a tensor)

    def cut_tokens(self, ids: list[int]) -> list[int]:
        """`ids` up to (without) the first end-of-sequence token."""
        for position, token in enumerate(ids):
            if token in self.end_ids:
                return ids[:position]
        return ids

    def text(self, raw: str) -> str:
        """The answer: `raw` cut before its first stop string (after the answer has started),
        stripped."""
        return cut_at_stop(raw, self.strings).strip()

    def reached(self, ids: list[int]) -> bool:
        """Whether the text of generated `ids` already holds a stop string that cuts it."""
        if not self.strings or self.decode is None:
            return False
        raw = self.decode(self.cut_tokens(ids))
        return len(cut_at_stop(raw, self.strings)) < len(raw)


def cut_at_stop(text: str, strings: tuple[str, ...]) -> str:
    """`text` before the earliest stop string that starts at or after its first
    non-whitespace character (unchanged when there is none)."""
    start = len(text) - len(text.lstrip())
    found = [i for s in strings if (i := text.find(s, start)) >= 0]
    return text[: min(found)] if found else text


def stopping_for(model, tokenizer, strings: tuple[str, ...] = ()) -> Stopping:
    """The model's end-of-sequence tokens, and with `strings` the tokens that may finish one."""
    end_ids = end_of_sequence_ids(model, tokenizer)
    strings = tuple(strings)
    if not strings:
        return Stopping(end_ids)

    def decode(ids: list[int]) -> str:
        return tokenizer.decode(ids, skip_special_tokens=True)

    return Stopping(end_ids, strings, decode, _candidate_table(model, tokenizer, strings))


def end_of_sequence_ids(model, tokenizer) -> list[int]:
    """The tokenizer's and generation_config's end-of-sequence tokens, and the chat template's
    end of an assistant turn (`turn_end_ids`): training supervises that token, so a tuned
    model ends its answer with it even where it is not the tokenizer's EOS (Qwen2.5 base:
    EOS `<|endoftext|>`, turns end with `<|im_end|>`)."""
    ids = {tokenizer.eos_token_id}
    configured = getattr(model.generation_config, "eos_token_id", None)
    ids.update(configured if isinstance(configured, list) else [configured])
    ids.update(turn_end_ids(tokenizer))
    return sorted(i for i in ids if i is not None)


# The assistant's text of the conversation `turn_end_ids` renders to find what follows it.
TURN_PROBE = ("Where does the user's text end", "Here the assistant's text ends")


def turn_end_ids(tokenizer) -> list[int]:
    """The special token(s) the chat template writes right after an assistant message's
    content (`<|im_end|>` for ChatML, `<end_of_turn>` for Gemma); [] without a template (the
    plain format ends a turn with EOS) or when a text token follows first. Measured once per
    tokenizer and template."""
    from tunesmith.models.formatting import per_template

    if not getattr(tokenizer, "chat_template", None):
        return []
    return list(per_template(tokenizer, "turn end", lambda: _measure_turn_end(tokenizer)))


def _measure_turn_end(tokenizer) -> list[int]:
    """The leading special tokens of what the template renders after a known assistant text
    (whitespace before them skipped)."""
    from tunesmith.models.formatting import render

    question, answer = TURN_PROBE
    messages = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    try:
        text = render(messages, tokenizer)
    except Exception:  # a template that refuses the probe (Jinja raise_exception)
        return []
    end = text.rfind(answer)
    if end < 0:  # the template rewrote the assistant's text
        return []
    special = _special_ids(tokenizer)
    after = tokenizer(text[end + len(answer) :], add_special_tokens=False)["input_ids"]
    found: list[int] = []
    for token in after:
        if token in special:
            found.append(token)
        elif found or tokenizer.decode([token]).strip():
            break  # the special tokens ended, or text came before any
    return found


def _special_ids(tokenizer) -> set[int]:
    """Ids of the tokenizer's special tokens: its named ones and added tokens marked special."""
    ids = set(getattr(tokenizer, "all_special_ids", []))
    added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    ids.update(i for i, token in added.items() if getattr(token, "special", False))
    return ids


# per tokenizer (weakly held: a table dies with its tokenizer), per (vocabulary size, strings)
_TABLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _candidate_table(model, tokenizer, strings: tuple[str, ...]):
    """A boolean per token id: does the token's own text hold the last character of a stop
    string? Built once per tokenizer, vocabulary size and stop strings (~0.35 s for 49k)."""
    import torch

    size = model.get_output_embeddings().weight.shape[0]
    try:
        tables = _TABLES.setdefault(tokenizer, {})
    except TypeError:  # an object without weak references: built each time
        tables = {}
    if (size, strings) not in tables:
        ends = {s[-1] for s in strings}
        flags = [any(c in text for c in ends) for text in _token_texts(tokenizer, size)]
        tables[size, strings] = torch.tensor(flags, dtype=torch.bool)
    return tables[size, strings]


def _token_texts(tokenizer, size: int) -> list[str]:
    """Each token id's own text; ids past the tokenizer's vocabulary (a padded embedding) ''."""
    known = min(size, len(tokenizer)) if hasattr(tokenizer, "__len__") else size
    ids = [[i] for i in range(known)]
    batch_decode = getattr(tokenizer, "batch_decode", None)
    if batch_decode is not None:
        texts = batch_decode(ids, skip_special_tokens=True)
    else:
        texts = [tokenizer.decode(i, skip_special_tokens=True) for i in ids]
    return texts + [""] * (size - known)
