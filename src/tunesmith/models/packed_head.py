"""A pass's shared head and its rows' suffixes in one traversal of the model.

Why: models/shared_head.py runs the rows' common head once, at batch 1, and then the rows'
suffixes against its keys/values: two traversals of the model per pass. A traversal has a fixed
cost besides its tokens' arithmetic (every weight read again and ~2,000 operator calls forward and
backward: ~0.2 s for the 135M model on a 2-core CPU, docs/performance.md), so the head's own
traversal took back much of what sharing saved. Here the head and every row's suffix form one
flat sequence, [head; row 1; row 2; ...], that the linear layers, norms and rotary positions
treat as tokens like any other (one matmul per layer for all of them), and only attention sees
the structure: the head attends causally to itself, each row's suffix to the whole head and
causally to its own tokens. Positions, tokens and masks are each row's own, as unshared.

Only an attention function that knows the layout may run it: read as one causal sequence, the
flat tokens would let each row see the rows before it. Such functions are registered in
`PACKING_ATTENTION` (train/lean_attention.py registers itself) and call `PackedHead.attend`
for every layer; the layers are counted, so a model whose layers do not hand the `packed_head`
keyword on to the attention function is caught (`PackingUnsupported`) and goes back to the
two-traversal path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# attention implementation name -> the longest key sequence (head + suffix) it packs
PACKING_ATTENTION: dict[str, int] = {}
KEYWORD = "packed_head"
REFUSED = "_tunesmith_packing_refused"  # set on a model whose layers did not run it


class PackingUnsupported(RuntimeError):
    """The model's layers did not all run the packed layout's attention."""


@dataclass
class PackedHead:
    """The layout of one flat pass: `head` tokens, then `rows` suffixes of `width` tokens."""

    head: int
    suffix_mask: object  # [rows, width] 0/1: the suffixes' real tokens (right padding after)
    calls: int = 0
    _masks: dict = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return self.suffix_mask.shape[0]

    @property
    def width(self) -> int:
        return self.suffix_mask.shape[1]

    def attend(self, attention, query, key, value, scaling: float, dtype):
        """Attention over the flat layout through `attention(q, k, v, additive mask, scaling)`
        (a [B, heads, T, D] -> [B, T, heads, D] function), its masks in `dtype`."""
        import torch

        self.calls += 1
        head, rows, width = self.head, self.rows, self.width
        head_mask, row_mask = self._masks_in(dtype, query.device)
        out_head = attention(
            query[:, :, :head], key[:, :, :head], value[:, :, :head], head_mask, scaling
        )

        def per_row(states):  # [1, heads, head + rows * width, D] -> [rows, heads, width, D]
            return states[0, :, head:].unflatten(1, (rows, width)).transpose(0, 1)

        def with_head(states):  # each row's keys (values): the shared head's, then its own
            shared = states[:, :, :head].expand(rows, -1, -1, -1)
            return torch.cat([shared, per_row(states)], dim=2)

        out_rows = attention(per_row(query), with_head(key), with_head(value), row_mask, scaling)
        return torch.cat([out_head, out_rows.reshape(1, rows * width, *out_rows.shape[2:])], 1)

    def _masks_in(self, dtype, device):
        """(head's causal mask [1, 1, head, head], rows' mask [rows, 1, width, head + width]),
        additive in `dtype`; built once per pass, shared by every layer."""
        import torch

        from tunesmith.models.masks import additive_mask

        if dtype not in self._masks:
            causal = torch.ones(self.head, self.head, dtype=torch.bool, device=device).tril()
            own = torch.ones(self.width, self.width, dtype=torch.bool, device=device).tril()
            keys = self.suffix_mask.to(device=device, dtype=torch.bool)[:, None, :]
            own = own[None] & keys  # [rows, width, width]: causal, real keys only
            sees_head = torch.ones(
                self.rows, self.width, self.head, dtype=torch.bool, device=device
            )
            visible = torch.cat([sees_head, own], dim=2)[:, None]
            self._masks[dtype] = (
                additive_mask(causal[None, None], dtype),
                additive_mask(visible, dtype),
            )
        return self._masks[dtype]


def packing_refusal(model, batch) -> str | None:
    """Why `batch` cannot run with a packed head on `model` now (None when it can)."""
    inner = _inner(model)
    implementation = getattr(getattr(inner, "config", None), "_attn_implementation", None)
    if implementation not in PACKING_ATTENTION:
        return f"attention {implementation!r} does not run packed heads"
    if getattr(inner, REFUSED, None):
        return getattr(inner, REFUSED)
    if batch["input_ids"].shape[1] > PACKING_ATTENTION[implementation]:
        return "rows longer than the packing attention handles"
    return None


def supervised_logits_packed(model, head_ids, suffix: dict):
    """`supervised_logits` of the rows `head_ids` ([1, head]) + `suffix` (a right-padded batch
    of what follows), the head run once, in one traversal with the suffixes. Raises
    `PackingUnsupported` (and refuses the model from then on) when its layers did not all run
    the layout."""
    import torch

    from tunesmith.models.formatting import IGNORE
    from tunesmith.models.nll import split_model

    backbone, output_head = split_model(model)
    ids, mask = suffix["input_ids"], suffix["attention_mask"]
    head, (rows, width) = head_ids.shape[1], ids.shape
    layout = PackedHead(head, mask)
    own_positions = head + (mask.long().cumsum(-1) - 1).clamp(min=0)  # as models/prefix.py
    hidden = backbone(
        input_ids=torch.cat([head_ids, ids.reshape(1, -1)], dim=1),
        position_ids=torch.cat([torch.arange(head)[None].to(ids), own_positions.reshape(1, -1)], 1),
        # a ready 4-D mask stops the model building a flat causal one that nothing would read
        attention_mask=torch.zeros(1, 1, 1, 1, device=ids.device),
        use_cache=False,
        **{KEYWORD: layout},
    ).last_hidden_state
    layers = _attention_layers(model)
    if layout.calls != layers:
        reason = f"{layout.calls} of {layers} layers ran the packed head's attention"
        setattr(_inner(model), REFUSED, reason)
        raise PackingUnsupported(reason)
    labels = suffix["labels"][:, 1:]
    supervised = labels != IGNORE
    own_hidden = hidden[0, head:].unflatten(0, (rows, width))
    return output_head(own_hidden[:, :-1][supervised]), labels[supervised]


def _attention_layers(model) -> int:
    return _inner(model).config.get_text_config(decoder=True).num_hidden_layers


def _inner(model):
    """The transformers model under a PEFT wrapper (the model itself without one)."""
    return getattr(model, "get_base_model", lambda: model)()
