"""Data-parallel training under `torchrun` (gloo on CPU, NCCL on GPUs), with torch.distributed.

Every process runs the same recipe. Rank 0 runs the whole pipeline and writes the run folder;
the other ranks wait for it to reach the train stage, train on their share of each optimizer
step's micro-batches, and write nothing. Gradients are summed across ranks after backward,
weighted by each rank's supervised tokens, so a step's gradient (and its logged loss) is the
one a single process would compute on the same global batch of
`batch_size x gradient_accumulation x world_size` examples.
"""

from __future__ import annotations

import contextlib
import os
import re
from datetime import timedelta

from tunesmith.artifacts.rank import is_writer, process_rank
from tunesmith.errors import PeerLost, UserError, one_line

TRAIN, NO_TRAIN = 1, 0  # what rank 0 tells waiting ranks
WAIT_HOURS = 12  # ranks > 0 wait this long for rank 0's data stage (torch's default: 30 min)


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def _group_ready() -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def _init(device: str = "auto") -> None:
    import torch
    import torch.distributed as dist

    from tunesmith.models import resolve_device

    if world_size() > 1 and not _group_ready():
        gpu = resolve_device(device) == "cuda"
        if gpu:  # one GPU per process: "cuda" then means this rank's own
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if gpu else "gloo", timeout=timedelta(hours=WAIT_HOURS))


def _broadcast_flag(flag: int) -> int:
    import torch
    import torch.distributed as dist

    value = torch.tensor([flag])
    with _with_the_other_ranks():
        dist.broadcast(value, src=0)
    return int(value.item())


@contextlib.contextmanager
def _with_the_other_ranks():
    """A collective whose peer is gone (killed, its machine down) ends this rank in one line.

    Why: gloo raises a RuntimeError ("Read error ...: Connection reset by peer"), which was a
    traceback on every surviving rank; the run folder is rank 0's, resumable as ever.
    """
    try:
        yield
    except RuntimeError as exc:  # gloo's errors, and NCCL's DistBackendError (a RuntimeError)
        # "[.../pair.cc:537] Read error ...: Connection reset by peer. This is typically ..."
        detail = re.sub(r"^\[[^\]]*\]\s*", "", one_line(exc, named=False)).split(". ")[0]
        raise PeerLost(
            f"rank {process_rank()}: lost the other training processes ({detail}); if one was "
            "stopped or died, run the same torchrun command again to resume"
        ) from None


def join_data_parallel(config, device: str = "auto"):
    """At the train stage's start: connect the processes; the config each rank trains with
    (its gradient_accumulation counts the micro-batches of all ranks per step)."""
    if world_size() == 1:
        return config
    if not _group_ready():
        _init(device)
        if is_writer():
            _broadcast_flag(TRAIN)  # the waiting ranks may read data/ now
    steps = config.gradient_accumulation * world_size()
    return config.model_copy(update={"gradient_accumulation": steps})


def my_share(micro_batches):
    """Of each run of `world_size` micro-batches, this rank computes one; the others are
    empty (no forward pass), so every rank steps through the same global sequence."""
    size, rank = world_size(), process_rank()
    for index, batch in enumerate(micro_batches):
        yield batch if index % size == rank else []


def sync_gradients(params, loss_sum: float, tokens: int) -> tuple[float, int]:
    """Sum token-weighted gradients over ranks; returns the global (loss sum, token count).

    Each rank's gradients are d(its loss sum)/its tokens; rescaled to d(loss sum), summed,
    and divided by all ranks' tokens, they equal one process's gradient on the union.
    """
    if world_size() == 1 or not _group_ready():
        return loss_sum, tokens
    import torch
    import torch.distributed as dist

    totals = torch.tensor([loss_sum, float(tokens)], dtype=torch.float64)
    with _with_the_other_ranks():
        dist.all_reduce(totals)
    everyone = max(totals[1].item(), 1.0)
    for p in params:
        if p.grad is None:  # this rank had no tokens this step
            p.grad = torch.zeros_like(p)
    # One collective for all gradients (one bucket), not one per tensor.
    flat = torch.cat([p.grad.reshape(-1) for p in params]) * (max(tokens, 1) / everyone)
    with _with_the_other_ranks():
        dist.all_reduce(flat)
    for p, piece in zip(params, flat.split([p.numel() for p in params]), strict=True):
        p.grad.copy_(piece.view_as(p.grad))
    return totals[0].item(), int(totals[1].item())


def run_worker(recipe, run_dir) -> None:
    """Rank > 0: wait for rank 0's train stage, train alongside it, write nothing."""
    from tunesmith.train.stage import run

    _init(recipe.model.device)
    try:
        if _broadcast_flag(NO_TRAIN) == TRAIN:
            run(recipe, run_dir)
    finally:
        _finish()


def release_workers(device: str = "auto") -> None:
    """Rank 0, after the pipeline: tell ranks still waiting (train skipped) to exit."""
    if world_size() == 1:
        return
    if not _group_ready():
        _init(device)
        _broadcast_flag(NO_TRAIN)
    _finish()


def _finish() -> None:
    import torch.distributed as dist

    if _group_ready():
        dist.destroy_process_group()


def check_resume_world(saved: int) -> None:
    """A checkpoint is resumed by as many processes as wrote it: the global batch depends on it."""
    if saved != world_size():
        raise UserError(
            f"train/checkpoints: written by a {saved}-process run, resumed with "
            f"{world_size()}; launch with --nproc-per-node {saved} (or delete train/checkpoints)"
        )
