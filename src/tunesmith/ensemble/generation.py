"""Generation ensembles: each example's output is chosen among the members' outputs, by
minimum Bayes risk (the output most similar to the others) or by the highest log-likelihood
averaged over the members' models (each candidate re-scored by every member)."""

from __future__ import annotations

from tunesmith.ensemble.methods import Choice, EnsembleInputs, EnsembleMethod, register_ensemble


def _generated_text(spec) -> bool:
    return spec.generates and not spec.has_label


def mbr(inputs: EnsembleInputs) -> list[Choice]:
    """argmax_i sum_{j != i} sim(o_i, o_j); a tie goes to the earlier member."""
    from tunesmith.ensemble.similarity import SIMILARITIES

    everything = [r["prediction"] for rows in inputs.rows for r in rows]
    sim = SIMILARITIES.get(inputs.recipe.group.similarity)(everything)
    choices = []
    for per_member in zip(*inputs.rows, strict=True):
        outputs = [r["prediction"] for r in per_member]
        risk = [
            sum(sim(o, other) for j, other in enumerate(outputs) if j != i)
            for i, o in enumerate(outputs)
        ]
        choices.append(Choice(outputs[risk.index(max(risk))]))
    return choices


def likelihood(inputs: EnsembleInputs) -> list[Choice]:
    """The candidate with the highest per-token log-likelihood averaged over the members;
    what max_seq_length cut while each member scored them is recorded as `truncation`."""
    candidates = [[r["prediction"] for r in per] for per in zip(*inputs.rows, strict=True)]
    totals = [[0.0] * len(c) for c in candidates]
    cuts = {}
    for gm in inputs.members:
        means, cuts[gm.member.name] = candidate_logprobs(gm, inputs.examples, candidates)
        for k, scores in enumerate(means):
            totals[k] = [t + s for t, s in zip(totals[k], scores, strict=True)]
        if inputs.on_step:
            inputs.on_step(f"likelihood: scored under {gm.member.name}")
    inputs.records["likelihood"] = {"truncation": cuts}
    return [Choice(c[t.index(max(t))]) for c, t in zip(candidates, totals, strict=True)]


def candidate_logprobs(
    gm, examples: list[dict], candidates: list[list[str]]
) -> tuple[list[list[float]], dict]:
    """(per example, per candidate: mean token log-probability under member `gm`'s model;
    the (example, candidate) rows max_seq_length cut: models/truncation.py's `cut_record`)."""
    from tunesmith.evaluate.rows import ROWS
    from tunesmith.models.base import load_base
    from tunesmith.models.formatting import encode_example
    from tunesmith.models.nll import example_nll
    from tunesmith.models.truncation import cut_record

    recipe = gm.recipe
    model, tokenizer = load_base(recipe)
    model = ROWS.get("tuned").load(recipe, gm.run_dir, model)
    items, shape = [], []
    for example, options in zip(examples, candidates, strict=True):
        shape.append(len(options))
        items += [
            encode_example(with_answer(example, o), tokenizer, recipe.training.max_seq_length)
            for o in options
        ]
    # a cut candidate is scored on its beginning only: said once per member, and counted
    cut = cut_record(
        f"likelihood ensemble ({gm.member.name})", items, recipe.training.max_seq_length
    )
    scored = example_nll(model, items, recipe.training.batch_size, tokenizer.pad_token_id)
    means = [-nll / max(tokens, 1) for nll, tokens in scored]
    out, start = [], 0
    for size in shape:
        out.append(means[start : start + size])
        start += size
    return out, cut


def with_answer(example: dict, answer: str) -> dict:
    """`example` with `answer` as the response (the last assistant turn for chat)."""
    if "messages" not in example:
        return {**example, "response": answer}
    messages = list(example["messages"])
    last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
    messages[last] = {**messages[last], "content": answer}
    return {**example, "messages": messages}


register_ensemble(EnsembleMethod("mbr", "MBR selection", _generated_text, mbr))
register_ensemble(
    EnsembleMethod(
        "likelihood",
        "highest mean log-likelihood",
        _generated_text,
        likelihood,
        per_token_scores="adds up the members' per-token log-likelihoods",
    )
)
