"""The student: the teacher's architecture with fewer blocks copied from the teacher, or
another model of the same vocabulary; refused (before any training) when it cannot be one."""

from __future__ import annotations

from tunesmith.errors import UserError


def spread(depth: int, count: int) -> list[int]:
    """`count` evenly spaced block indices of `depth`, first and last included."""
    if count == 1:
        return [0]
    return sorted({round(i * (depth - 1) / (count - 1)) for i in range(count)})


def make_student(config, teacher, tokenizer):
    """The untrained student for `config` (a distill section) and `teacher`."""
    depth = teacher.config.num_hidden_layers
    if config.student_model:
        return _other_model(config.student_model, teacher, tokenizer, depth)
    return shallow_copy(teacher, spread(depth, student_depth(config, depth)))


def student_depth(config, depth: int) -> int:
    """Blocks of a student copied from a `depth`-block teacher; refused when deeper."""
    count = config.student_layers or max(1, depth // 2)
    if count > depth:
        raise UserError(
            f"distill.student_layers: {count} is deeper than the teacher's {depth} blocks; "
            "a student has at most as many blocks as its teacher"
        )
    return count


def check_before_loading(recipe) -> None:
    """The depth refusal from the model's config alone, before any weights load."""
    from transformers import AutoConfig

    from tunesmith.models.resolve import resolve_model

    config = recipe.distill
    if not config.student_model:
        teacher = AutoConfig.from_pretrained(resolve_model(recipe.model.name))
        student_depth(config, teacher.num_hidden_layers)


def shallow_copy(teacher, keep: list[int]):
    """A copy of `teacher` with only the blocks `keep` (renumbered 0..n-1)."""
    import copy

    import torch

    student = copy.deepcopy(teacher)
    decoder = student.get_decoder()
    decoder.layers = torch.nn.ModuleList([decoder.layers[i] for i in keep])
    for index, layer in enumerate(decoder.layers):
        layer.self_attn.layer_idx = index  # the KV cache is indexed by block
    student.config.num_hidden_layers = len(keep)
    types = getattr(student.config, "layer_types", None)
    if types:
        student.config.layer_types = [types[i] for i in keep]
    return student


def _other_model(folder: str, teacher, tokenizer, depth: int):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    theirs = AutoTokenizer.from_pretrained(folder)
    if theirs.get_vocab() != tokenizer.get_vocab():
        raise UserError(
            f"distill.student_model: {folder} has another vocabulary than the teacher "
            f"({len(theirs)} vs {len(tokenizer)} tokens); soft targets need the same one"
        )
    student = AutoModelForCausalLM.from_pretrained(folder, dtype=teacher.dtype)
    if student.config.num_hidden_layers > depth:
        raise UserError(
            f"distill.student_model: {folder} has {student.config.num_hidden_layers} blocks, "
            f"deeper than the teacher's {depth}"
        )
    return student
