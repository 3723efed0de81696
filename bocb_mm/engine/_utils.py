"""Small helpers shared by the bocb_mm optimizer wrappers and hooks."""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def unwrap_model(model: nn.Module) -> nn.Module:
    """The user model inside a (MM)DistributedDataParallel-style wrapper (``.module``)."""
    while hasattr(model, 'module') and isinstance(model.module, nn.Module):
        model = model.module
    return model


@contextlib.contextmanager
def frozen_norm_statistics(model: nn.Module) -> Iterator[None]:
    """Run extra forwards in train mode without touching the BatchNorm running statistics.

    Inside the context a training-mode ``_BatchNorm`` (incl. ``SyncBatchNorm``) normalises with
    the batch statistics, exactly like the training forward, but does not update
    ``running_mean`` / ``running_var`` / ``num_batches_tracked``; eval-mode ones are unchanged.
    """
    changed = []
    for m in model.modules():
        if isinstance(m, _BatchNorm) and m.training and m.track_running_stats:
            m.track_running_stats = False
            changed.append(m)
    try:
        yield
    finally:
        for m in changed:
            m.track_running_stats = True


def optimizer_params(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    """All trainable parameters of ``optimizer``, in group order, without duplicates."""
    seen: set[int] = set()
    out = []
    for group in optimizer.param_groups:
        for p in group['params']:
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                out.append(p)
    return out
