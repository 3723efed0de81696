"""Time the CPU paths of the bocb_mm optimizers against each other: the per-tensor loop, the
multi-tensor path as one call per bucket, and the multi-tensor path cut into CPU chunks.

All variants of one optimizer step the same ResNet-50-shaped fp32 parameters (random gradients)
round-robin in one process, so drift of a noisy machine hits each alike; the table gives each
variant's median step time, its ratio to the loop, and the minor page faults per step (fresh
full-size temporaries that the allocator hands back to the kernel show up there)::

    python tools/benchmark/optimizer_paths.py                    # all 11, 2 threads
    python tools/benchmark/optimizer_paths.py LAMB SGDP --repeats 21 --threads 1

``foreach=None`` takes the loop on CPU (:func:`bocb_mm.optim._base.use_foreach`); this is the
measurement behind that choice and behind :data:`bocb_mm.optim._base.CPU_CHUNK_BYTES`.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch

from bocb_mm.optim import _base

OPTIMIZERS = ('SGDP', 'AdamP', 'Lion', 'LAMB', 'Adan', 'LARS', 'AdaBound', 'AdaBelief',
              'NovoGrad', 'SophiaG', 'Adafactor')
#: name -> (foreach, CPU chunk bytes); a chunk larger than any model is one call per bucket.
VARIANTS = {'loop': (False, 0), 'foreach': (True, 1 << 62), 'foreach 256K': (True, 256 << 10),
            'foreach 1M': (True, 1 << 20), 'foreach 4M': (True, 4 << 20)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('optimizers', nargs='*', metavar='OPTIMIZER',
                        help=f'bocb_mm classes (default: all of {", ".join(OPTIMIZERS)})')
    parser.add_argument('--threads', type=int, default=2, help='torch intra-op threads')
    parser.add_argument('--repeats', type=int, default=11, help='timed steps per variant')
    args = parser.parse_args(argv)
    if args.threads < 1 or args.repeats < 1:
        parser.error('--threads and --repeats must be >= 1')
    unknown = [name for name in args.optimizers if name not in OPTIMIZERS]
    if unknown:
        parser.error(f'unknown optimizer(s) {", ".join(unknown)}; choose from '
                     f'{", ".join(OPTIMIZERS)}')
    args.optimizers = args.optimizers or list(OPTIMIZERS)
    return args


def resnet50_params() -> list[torch.Tensor]:
    """ResNet-50's parameter shapes (torchvision), fp32 on CPU, with random gradients."""
    import torchvision
    params = [p.detach().clone().requires_grad_() for p in torchvision.models.resnet50()
              .parameters()]
    for p in params:
        p.grad = torch.randn_like(p).mul_(1e-3)
    return params


def _minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def time_paths(name: str, params: list[torch.Tensor], repeats: int) -> dict[str, tuple]:
    """``variant -> (median ms, page faults per step)``, two warm-up rounds excluded."""
    import bocb_mm.optim as optim
    cls = getattr(optim, name)
    kwargs = dict(lr=0.1, momentum=0.9) if name in ('SGDP', 'LARS') else dict(lr=1e-3)
    opts = {v: cls(params, foreach=foreach, weight_decay=1e-4, **kwargs)
            for v, (foreach, _) in VARIANTS.items()}
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    faults = dict.fromkeys(VARIANTS, 0)
    default = _base.CPU_CHUNK_BYTES
    try:
        for rnd in range(repeats + 2):
            for variant, (_, chunk) in VARIANTS.items():
                _base.CPU_CHUNK_BYTES = chunk or default
                before, start = _minor_faults(), time.perf_counter()
                opts[variant].step()
                if rnd >= 2:
                    times[variant].append(time.perf_counter() - start)
                    faults[variant] += _minor_faults() - before
    finally:
        _base.CPU_CHUNK_BYTES = default
    return {v: (statistics.median(times[v]) * 1e3, faults[v] / repeats) for v in VARIANTS}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    params = resnet50_params()
    print(f'ResNet-50 shapes ({sum(p.numel() for p in params) / 1e6:.2f}M parameters in '
          f'{len(params)} tensors), {args.threads} thread(s), median of {args.repeats}; '
          'ms (ratio to the loop, minor page faults per step)')
    print('| optimizer | ' + ' | '.join(VARIANTS) + ' |')
    print('|---' * (len(VARIANTS) + 1) + '|')
    for name in args.optimizers:
        result = time_paths(name, params, args.repeats)
        loop = result['loop'][0]
        cells = [f'{ms:.0f} ({ms / loop:.2f}x, {pf / 1e3:.1f}k)' for ms, pf in result.values()]
        print(f'| {name} | ' + ' | '.join(cells) + ' |', flush=True)
