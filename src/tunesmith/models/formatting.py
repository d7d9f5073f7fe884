"""Examples -> token ids with the model's chat template, labels only on what the model says.

Shared by training (loss masking) and evaluation (prompts, perplexity), so both see exactly
the same text. The mask is built from segment boundaries, never from `labels == pad_id`:
for SmolLM2 pad == eos, and masking pads would stop the model from learning to stop.
"""

from __future__ import annotations

import logging
import math
import weakref
from dataclasses import dataclass

log = logging.getLogger(__name__)

IGNORE = -100
# Tokens kept at least at the end of a cut prompt: the template's own tail (the end of the
# user's turn and the assistant header, `prompt_tail`) where longer, else a few tokens of the
# end of the user's text too (often the question itself; and what cuts kept before the tail
# was measured, so runs with short headers such as SmolLM2's 5 encode as they did).
KEEP_TAIL = 8
# The user's text of the conversation `prompt_tail` renders to find what the template adds.
TAIL_PROBE = "Where does the user's text end"
# tokenizer -> {what: (template, value)}: what a template is measured for (`per_template`)
_MEASURED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_TOLD: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # tokenizer -> notes logged
FOLD_NOTE = (
    "the model's chat template refuses a system message: the system prompt is put at the "
    "start of the first user turn instead"
)
PLAIN_NOTE = (
    "the model has no chat template: prompts are written as plain '### User:' and "
    "'### Response:' sections"
)
# When prompt and answer both are long, each keeps at least this share of max_length: an answer
# pushed out by its prompt trains on nothing (loss 0, perplexity over no tokens), and an
# answer kept whole beside a prompt cut to its header teaches answers without their question.
ANSWER_SHARE = 0.5
# No token is longer than this many characters in practice, so texts cut to
# max_length * CHARS_PER_TOKEN keep every token the token-level cut would keep, and a
# 10 MB row is never tokenised whole.
CHARS_PER_TOKEN = 16


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]
    truncated: bool = False  # anything was cut (prompt_cut or answer_cut)
    weight: float = 1.0  # loss weight (class weights from the balance step)
    clipped: bool = False  # a text was cut by characters before tokenisation
    prompt_cut: bool = False  # context was cut (by characters or tokens)
    answer_cut: bool = False  # a supervised text lost its end (and its stop token)
    soft: tuple | None = None  # distillation: (top-k ids, log-probs) per supervised position


def clip_example(example: dict, max_length: int) -> tuple[dict, bool]:
    """The example with over-long texts cut by characters (prompts in the middle, answers at
    the end, like the token-level cut), and whether anything was cut."""
    out, cut = _clip_parts(example, max_length)
    return out, bool(cut)


def _clip_parts(example: dict, max_length: int) -> tuple[dict, set[str]]:
    """`clip_example`, with which parts were cut: "prompt" (context), "answer" (supervised)."""
    bound = max_length * CHARS_PER_TOKEN
    parts: set[str] = set()

    def cut(text: str, middle: bool) -> str:
        if len(text) <= bound:
            return text
        parts.add("prompt" if middle else "answer")
        return text[: bound // 2] + text[-(bound // 2) :] if middle else text[:bound]

    out = dict(example)
    for key, middle in (("prompt", True), ("response", False), ("text", False)):
        if isinstance(out.get(key), str):
            out[key] = cut(out[key], middle)
    if "messages" in out:
        out["messages"] = [
            {**m, "content": cut(m["content"], m["role"] != "assistant")} for m in out["messages"]
        ]
    return out, parts


def conversation(example: dict, with_answer: bool = True) -> list[dict]:
    """The example as chat messages (the last assistant turn dropped when `with_answer` is off)."""
    if "messages" in example:
        messages = list(example["messages"])
        if not with_answer:
            last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
            messages = messages[:last]
        return messages
    messages = [{"role": "system", "content": example["system"]}] if example.get("system") else []
    for demo in example.get("demos", []):  # few-shot demonstrations, as earlier turns
        messages.append({"role": "user", "content": demo["prompt"]})
        messages.append({"role": "assistant", "content": demo["response"]})
    messages.append({"role": "user", "content": example["prompt"]})
    if with_answer:
        messages.append({"role": "assistant", "content": example["response"]})
    return messages


def reference(example: dict) -> str:
    """The text the model should produce for `example` (last assistant turn for chat)."""
    if "messages" in example:
        return [m for m in example["messages"] if m["role"] == "assistant"][-1]["content"]
    return example.get("response", "")


def encode_example(example: dict, tokenizer, max_length: int, last_answer: bool = False) -> Encoded:
    """Token ids and labels for training / perplexity (-100 where no loss is taken).
    `last_answer` (evaluation's reference): only a chat's last answer carries labels, its
    earlier answers are context, and an over-long chat loses its oldest turns as its
    prompt does (`fit_prompt`)."""
    example, parts = _clip_parts(example, max_length)
    encoded = _encode(example, tokenizer, max_length, last_answer)
    encoded.clipped = bool(parts)
    encoded.prompt_cut = encoded.prompt_cut or "prompt" in parts
    encoded.answer_cut = encoded.answer_cut or "answer" in parts
    encoded.truncated = encoded.truncated or encoded.clipped
    return encoded


def _encode(example: dict, tokenizer, max_length: int, last_answer: bool = False) -> Encoded:
    if "text" in example:
        ids = _ids(tokenizer, example["text"], bos=True) + [tokenizer.eos_token_id]
        cut = len(ids) > max_length
        ids = ids[:max_length]
        return Encoded(ids, list(ids), truncated=len(ids) == max_length, answer_cut=cut)
    segments = _segments(conversation(example), tokenizer)
    if example.get("demos") or last_answer:  # demonstrations are context, not answers to score
        last = max(i for i, (_, trainable) in enumerate(segments) if trainable)
        segments = [(text, trainable and i == last) for i, (text, trainable) in enumerate(segments)]
        max_length *= len(example.get("demos", [])) + 1
    ids, labels = [], []
    for text, trainable in segments:
        piece = _ids(tokenizer, text)
        ids += piece
        labels += piece if trainable else [IGNORE] * len(piece)
    if len(ids) <= max_length:
        return Encoded(ids, labels)
    opening = None
    if last_answer and "messages" in example:
        opening = _opening(example["messages"], tokenizer, "".join(t for t, _ in segments))
    return _fit(ids, labels, max_length, prompt_tail(tokenizer), opening)


def encode_prompt(example: dict, tokenizer, max_length: int, room: int = 0) -> list[int]:
    """Prompt ids ending with the assistant header, cut to leave `room` tokens for the answer."""
    return fit_prompt(example, tokenizer, max_length, room)[0]


def fit_prompt(example: dict, tokenizer, max_length: int, room: int = 0) -> tuple[list[int], bool]:
    """`encode_prompt`, and whether the prompt was cut (by characters or tokens)."""
    example, clipped = clip_example(example, max_length * (len(example.get("demos", [])) + 1))
    text = render(conversation(example, with_answer=False), tokenizer, generation_prompt=True)
    ids = _ids(tokenizer, text)
    max_length *= len(example.get("demos", [])) + 1
    if len(ids) <= max_length - room:
        return ids, clipped
    tail = prompt_tail(tokenizer)
    limit = max(max_length - room, tail + 1)
    if len(ids) <= limit:
        return ids, clipped
    if "messages" in example:  # a chat is answered from its latest turns: the oldest go
        tail = _latest(tail, limit, _opening(example["messages"], tokenizer, text))
    return _cut_middle(ids, len(ids) - limit, tail), True


def _opening(messages: list[dict], tokenizer, text: str) -> int:
    """Tokens of a rendered chat before its first user or assistant text: the template's
    opening and the system prompt (0 when the template rewrote that text)."""
    first = next((m["content"] for m in messages if m["role"] != "system" and m["content"]), "")
    at = text.find(first) if first else -1
    return len(_ids(tokenizer, text[:at])) if at > 0 else 0


def _latest(tail: int, keep: int, opening: int) -> int:
    """The tail a cut chat prompt of `keep` tokens keeps: all but its opening (at most half of
    them), so it loses its oldest turns rather than the question answered."""
    return max(tail, keep - min(opening, keep // 2))


def prompt_tail(tokenizer) -> int:
    """How many tokens the chat template puts after the user's text in a prompt (the end of
    the user's turn and the assistant header, or anything else it appends): a cut prompt keeps
    them all, or the model would answer without being told its turn has come. Measured once
    per tokenizer and template; never fewer than KEEP_TAIL."""
    return per_template(tokenizer, "tail", lambda: max(_measure_tail(tokenizer), KEEP_TAIL))


def per_template(tokenizer, what: str, measure):
    """`measure()` for this tokenizer's chat template, computed once per tokenizer and
    template (the template may be set after loading) and kept while the tokenizer lives;
    computed each time for a tokenizer that cannot be weakly referenced."""
    template = getattr(tokenizer, "chat_template", None)
    try:
        kept = _MEASURED.setdefault(tokenizer, {})
    except TypeError:
        return measure()
    known = kept.get(what)
    if known is None or known[0] != template:
        known = kept[what] = (template, measure())
    return known[1]


def _measure_tail(tokenizer) -> int:
    """Tokens after the probe's text in a rendered prompt: the prompt's tokens past those it
    shares with its own text ended at the user's (so a token that merges the user's last
    character with the template's first counts as the template's)."""
    messages = [{"role": "user", "content": TAIL_PROBE}]
    try:
        text = render(messages, tokenizer, generation_prompt=True)
    except Exception:  # a template that refuses a lone user turn (Jinja raise_exception)
        return KEEP_TAIL
    end = text.rfind(TAIL_PROBE)
    if end < 0:  # the template rewrote the user's text
        return KEEP_TAIL
    ids, head = _ids(tokenizer, text), _ids(tokenizer, text[: end + len(TAIL_PROBE)])
    shared = next(
        (i for i, (a, b) in enumerate(zip(ids, head)) if a != b), min(len(ids), len(head))
    )
    return len(ids) - shared


def render(messages: list[dict], tokenizer, generation_prompt: bool = False) -> str:
    """`messages` through the tokenizer's chat template (`_plain_render` without one): a system
    message a template refuses goes into the first user turn (`fold_system`), and a template
    with a thinking switch (Qwen3) renders with thinking off (`_options`)."""
    if not getattr(tokenizer, "chat_template", None):
        _say_once(tokenizer, PLAIN_NOTE)
        return _plain_render(messages, tokenizer, generation_prompt)
    messages = fold_system(messages, tokenizer)
    return _apply(messages, tokenizer, generation_prompt, **_options(tokenizer))


def _apply(messages: list[dict], tokenizer, generation_prompt: bool, **options) -> str:
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=generation_prompt, **options
    )


def _options(tokenizer) -> dict:
    """Qwen3's template writes an empty think block after the assistant header of a
    generation prompt with `enable_thinking=False` (and before the last answer of a whole
    conversation either way): with it off, the prompts evaluation generates from end with the
    block training put before the answer, so the block is prompt (never supervised), and the
    tuned model answers instead of starting to think. Templates without it get no options."""
    template = tokenizer.chat_template
    return {"enable_thinking": False} if "enable_thinking" in template else {}


def fold_system(messages: list[dict], tokenizer) -> list[dict]:
    """`messages` with a leading system message put at the start of the first user turn
    (separated by a blank line), for a template that refuses the system role (Gemma's raises
    'System role not supported'; its documentation advises exactly this); unchanged else."""
    if not messages or messages[0]["role"] != "system" or not refuses_system(tokenizer):
        return messages
    return merge_system(messages)


def merge_system(messages: list[dict]) -> list[dict]:
    """`messages` (a system message first) with the system text opening the first user turn."""
    system, rest = messages[0]["content"], messages[1:]
    if rest and rest[0]["role"] == "user":
        return [{**rest[0], "content": f"{system}\n\n{rest[0]['content']}"}, *rest[1:]]
    return [{"role": "user", "content": system}, *rest]


def refuses_system(tokenizer) -> bool:
    """The chat template raises on a system message but renders the same conversation
    without it. Probed once per tokenizer and template; said once in the log."""
    return per_template(tokenizer, "refuses system", lambda: _refuses_system(tokenizer))


def _refuses_system(tokenizer) -> bool:
    refuses = bool(getattr(tokenizer, "chat_template", None)) and _probe_refuses_system(tokenizer)
    if refuses:
        _say_once(tokenizer, FOLD_NOTE)
    return refuses


def _say_once(tokenizer, note: str) -> None:
    """Log `note` the first time it holds for this tokenizer (once per stage and run)."""
    told = _TOLD.setdefault(tokenizer, set())
    if note not in told:
        told.add(note)
        log.warning(note)


def _probe_refuses_system(tokenizer) -> bool:
    user = {"role": "user", "content": TAIL_PROBE}
    try:
        _apply([{"role": "system", "content": "Be brief."}, user], tokenizer, True)
        return False
    except Exception:  # Jinja raise_exception: TemplateError
        pass
    try:
        _apply([user], tokenizer, True)
    except Exception:  # the template refuses something else too: its own error is shown
        return False
    return True


def _plain_render(messages: list[dict], tokenizer, generation_prompt: bool) -> str:
    """Fallback for base models without a chat template: `### User:` (`### System:`) and
    `### Response:` sections (described on the export's model card, export/prompt_card.py)."""
    eos = tokenizer.eos_token or ""
    parts = []
    for message in messages:
        if message["role"] == "assistant":
            parts.append(f"### Response:\n{message['content']}{eos}\n\n")
        else:
            parts.append(f"### {message['role'].capitalize()}:\n{message['content']}\n\n")
    if generation_prompt:
        parts.append("### Response:\n")
    return "".join(parts)


def _segments(messages: list[dict], tokenizer) -> list[tuple[str, bool]]:
    """Split the rendered conversation into (text, trainable) pieces: assistant turns train,
    except a blank one (in real chat logs a skipped reply): training it would teach the model
    to answer with nothing. Each answer starts where its generation prompt ends (the prompt
    evaluation gives the model); each turn ends where the conversation rendered up to it ends,
    or, for a template that closes a whole conversation differently (`_turn_end`), after the
    turn's own text and its end-of-turn marker."""
    messages = fold_system(messages, tokenizer)
    whole = render(messages, tokenizer)
    segments: list[tuple[str, bool]] = []
    done = 0
    for i, message in enumerate(messages):
        if message["role"] == "assistant":
            start = _answer_start(messages[:i], whole, done, tokenizer)
            end = _turn_end(messages[: i + 1], whole, start, tokenizer)
            answered = bool(message["content"].strip())
            segments += [(whole[done:start], False), (whole[start:end], answered)]
        else:
            end = _turn_end(messages[: i + 1], whole, done, tokenizer)
            segments.append((whole[done:end], False))
        done = end
    segments.append((whole[done:], False))
    return [(text, trainable) for text, trainable in segments if text]


def _answer_start(before: list[dict], whole: str, done: int, tokenizer) -> int:
    """Where the answer after `before` starts in `whole`: the end of the generation prompt for
    `before`, which `whole` must start with. An earlier answer of Qwen3's template has no think
    block (only the last one does), so its prompt is the one rendered without the options."""
    headers = [render(before, tokenizer, generation_prompt=True)]
    if getattr(tokenizer, "chat_template", None) and _options(tokenizer):
        headers.append(_apply(fold_system(before, tokenizer), tokenizer, True))
    for header in headers:
        if len(header) >= done and whole.startswith(header):
            return len(header)
    raise _unsplittable()


def _turn_end(upto: list[dict], whole: str, start: int, tokenizer) -> int:
    """Where the last message of `upto` ends in `whole` (the conversation it begins): where
    `upto` rendered alone ends, when that is how `whole` starts. A template may close a whole
    conversation differently: Phi-3's appends its eos_token, Qwen3's gives the last answer a
    think block. The turn then ends after its own text in `whole`, with as much of what the
    template writes after that text alone as `whole` has there (Phi-3's `<|end|>\n`), never
    inside a special token."""
    text = render(upto, tokenizer)
    if len(text) >= start and whole.startswith(text):
        return len(text)
    content = upto[-1]["content"].strip()
    own, at = text.find(content, start), whole.find(content, start)
    if own < 0 or at < 0 or not text.startswith(whole[:start]):
        raise _unsplittable()
    own, at = own + len(content), at + len(content)
    shared = _common_prefix(text[own:], whole[at:])
    tokens = _added_tokens(tokenizer)
    while True:  # step back out of a special token either text has across the end
        back = max(
            own + shared - _token_start(text, own + shared, tokens),
            at + shared - _token_start(whole, at + shared, tokens),
        )
        shared = max(shared - back, 0)
        if not back or not shared:
            return at + shared


def _common_prefix(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def _added_tokens(tokenizer) -> list[str]:
    """The tokenizer's added and special tokens' texts (`<|endoftext|>`, `<think>`)."""
    added = set(tokenizer.get_added_vocab()) | set(tokenizer.all_special_tokens)
    return sorted(token for token in added if token)


def _token_start(text: str, end: int, tokens: list[str]) -> int:
    """`end`, or the start of a token of `tokens` that `text` has across `end`."""
    for token in tokens:
        at = text.find(token, max(0, end - len(token) + 1), end + len(token) - 1)
        if 0 <= at < end:
            return at
    return end


def _unsplittable() -> Exception:
    from tunesmith.errors import UserError

    return UserError(
        "model: the chat template renders a conversation's turns differently once more "
        "follow, so where an answer starts and ends cannot be found; give the model a "
        "template that renders a conversation as its turns one after another"
    )


def _ids(tokenizer, text: str, bos: bool = False) -> list[int]:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if bos and tokenizer.bos_token_id is not None and getattr(tokenizer, "add_bos_token", False):
        ids = [tokenizer.bos_token_id] + ids
    return ids


def _fit(
    ids: list[int], labels: list[int], max_length: int, tail: int, opening: int | None = None
) -> Encoded:
    """Cut an over-long example in the middle of its prompt, so the answer and its stop survive;
    an answer too long for that keeps its beginning, next to a prompt cut to its share. The
    prompt's last `tail` tokens (`prompt_tail`: the assistant header) stay where they can; with
    a chat's `opening` (tokens) the prompt keeps that and its latest turns instead."""
    first = next((i for i, label in enumerate(labels) if label != IGNORE), len(ids))
    keep = prompt_keep(first, len(ids) - first, max_length, tail)
    if keep < first:
        if opening is not None:
            tail = _latest(tail, keep, opening)
        ids, labels = (
            _drop_prompt_middle(ids, first, keep, tail),
            _drop_prompt_middle(labels, first, keep, tail),
        )
    answer_cut = len(ids) > max_length
    ids, labels = ids[:max_length], labels[:max_length]
    return Encoded(ids, labels, truncated=True, prompt_cut=keep < first, answer_cut=answer_cut)


def prompt_keep(prompt: int, answer: int, max_length: int, tail: int) -> int:
    """How many of its `prompt` tokens an example keeps when `prompt + answer` is too long: the
    answer is kept whole while the prompt keeps its share (ANSWER_SHARE), else both keep their
    share; always at least one answer token, and the prompt's `tail` where it can."""
    share = max_length - math.ceil(max_length * ANSWER_SHARE)
    room = max(max_length - answer, share, tail + 1)
    return max(0, min(prompt, room, max_length - 1))


def _drop_prompt_middle(values: list[int], first: int, keep: int, tail: int) -> list[int]:
    """`values` with the prompt (`first` tokens) cut to `keep`: its beginning (the template's
    opening) and its last `tail` tokens (the assistant header) stay."""
    tail = min(tail, keep)
    return values[: keep - tail] + values[first - tail :]


def _cut_middle(ids: list[int], excess: int, tail: int) -> list[int]:
    keep = len(ids) - tail - excess
    return ids[:keep] + ids[keep + excess :]
