"""Param-group count and optimizer-step time on ResNet-50: BOCB constructor vs mmengine default.

mmengine's ``DefaultOptimWrapperConstructor`` with a ``paramwise_cfg`` (here the same policy:
``norm_decay_mult=0, bias_decay_mult=0``) makes one param group per tensor, so a multi-tensor
(``foreach``) optimizer launches its kernels once per tensor;
``bocb_mm.BOCBOptimWrapperConstructor`` groups tensors that share settings. Both build the
optimizer for an mmpretrain ResNet-50
classifier (ResNet-50 + linear head, 161 tensors); random gradients are set once and
``optimizer.step()`` is timed (median of ``--steps`` after ``--warmup``; the two optimizers step
alternately). Expect the gain where multi-tensor kernels save launches (CUDA); on CPU the
per-tensor loop (bocb_mm's default there, ``foreach=None``) does not depend on the group count, and
CPU ``foreach`` kernels over one long list materialise large intermediates, which can make fewer,
bigger groups slower.

Usage::

    python tools/benchmark/constructor_groups.py [--optimizers AdamW,bocb_mm.LAMB,SGD]
        [--foreach 1] [--steps 7] [--device cpu] [--threads N]
"""
from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402
from mmengine.optim import build_optim_wrapper  # noqa: E402

import bocb_mm  # noqa: E402,F401

OPTIMIZERS = {
    'SGD': dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4),
    'AdamW': dict(type='AdamW', lr=1e-3, weight_decay=0.05),
    'bocb_mm.LAMB': dict(type='bocb_mm.LAMB', lr=5e-3, weight_decay=0.02),
    'bocb_mm.LARS': dict(type='bocb_mm.LARS', lr=1.0, momentum=0.9, weight_decay=1e-4),
    'bocb_mm.SophiaG': dict(type='bocb_mm.SophiaG', lr=1e-4, weight_decay=0.1),
}


def time_steps(optimizers: list, steps: int, warmup: int, device: str) -> list[float]:
    """Median ``step()`` time of each optimizer, stepping them alternately (ABAB...) so slow
    drifts of a shared machine hit all alike."""
    for _ in range(warmup):
        for opt in optimizers:
            opt.step()
    times: list[list[float]] = [[] for _ in optimizers]
    for _ in range(steps):
        for i, opt in enumerate(optimizers):
            if device.startswith('cuda'):
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            opt.step()
            if device.startswith('cuda'):
                torch.cuda.synchronize()
            times[i].append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--optimizers', default='SGD,AdamW,bocb_mm.LAMB')
    parser.add_argument('--foreach', type=int, default=1,
                        help='1: multi-tensor steps (foreach=True), 0: per-tensor loop')
    parser.add_argument('--steps', type=int, default=7)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    # silence the default constructor's 160 'paramwise_options' INFO lines
    MMLogger.get_current_instance().setLevel(logging.WARNING)

    from mmpretrain.models import ImageClassifier
    torch.manual_seed(0)
    model = ImageClassifier(
        backbone=dict(type='ResNet', depth=50), neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048)).to(args.device)
    for p in model.parameters():
        p.grad = torch.randn_like(p) * 1e-3
    n_tensors = sum(1 for _ in model.parameters())
    print(f'ResNet-50 classifier: {n_tensors} tensors, device={args.device}, '
          f'threads={torch.get_num_threads()}, foreach={bool(args.foreach)}')
    print(f'{"optimizer":18s} {"groups default":>14s} {"groups BOCB":>11s} '
          f'{"default ms":>10s} {"BOCB ms":>8s} {"ratio":>6s}')
    for name in args.optimizers.split(','):
        opt_cfg = dict(OPTIMIZERS[name], foreach=bool(args.foreach))
        default = build_optim_wrapper(model, dict(
            optimizer=opt_cfg, paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0)))
        bocb = build_optim_wrapper(model, dict(
            optimizer=opt_cfg, constructor='bocb_mm.BOCBOptimWrapperConstructor'))
        t_default, t_bocb = time_steps([default.optimizer, bocb.optimizer], args.steps,
                                       args.warmup, args.device)
        print(f'{name:18s} {len(default.optimizer.param_groups):14d} '
              f'{len(bocb.optimizer.param_groups):11d} {t_default * 1e3:10.1f} '
              f'{t_bocb * 1e3:8.1f} {t_default / t_bocb:6.2f}')
        del default, bocb


if __name__ == '__main__':
    main()
