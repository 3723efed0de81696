"""Overhead of ``bocb_mm.StatsOptimWrapper`` (and the Sophia refresh) vs mmengine's OptimWrapper.

One training iteration of a CIFAR ResNet-18 (mmpretrain ``ResNet_CIFAR`` + linear head, 32x32
inputs): ``train_step`` = data-preprocess, forward, backward, SGD step, zero_grad. Wrappers are
timed in interleaved rounds (plain, stats, plain, stats, ...) so slow drifts of a shared machine
hit both alike; the reported time per iteration is the median over rounds. Two numbers:

* ``end-to-end``: iteration time with the wrapper / without, median and best round over
  ``--rounds`` rounds in ABBA order (includes the machine's noise);
* ``amortised``: (extra time of a logging iteration) / interval / plain iteration time, from
  timing the statistics of one step in isolation - the steady-state cost at that interval.

Usage::

    python tools/benchmark/wrapper_overhead.py [--batch-size 32] [--interval 10] [--rounds 5]
        [--iters 20] [--device cpu] [--threads N] [--sophia]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch  # noqa: E402
from mmengine.logging import MessageHub  # noqa: E402
from mmengine.optim import OptimWrapper  # noqa: E402

import bocb_mm  # noqa: E402,F401
from bocb_mm.engine import SophiaOptimWrapper, StatsOptimWrapper  # noqa: E402
from bocb_mm.optim import SophiaG  # noqa: E402


def build_model(device: str):
    from mmpretrain.models import ImageClassifier
    model = ImageClassifier(
        backbone=dict(type='ResNet_CIFAR', depth=18),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=512,
                  loss=dict(type='CrossEntropyLoss')),
        data_preprocessor=dict(type='ClsDataPreprocessor', mean=[125.3, 123.0, 113.9],
                               std=[63.0, 62.1, 66.7]))
    return model.to(device).train()


def make_batch(batch_size: int, device: str):
    from mmpretrain.structures import DataSample
    g = torch.Generator().manual_seed(0)
    inputs = [torch.randint(0, 256, (3, 32, 32), generator=g, dtype=torch.uint8)
              for _ in range(batch_size)]
    samples = [DataSample().set_gt_label(int(i) % 10) for i in range(batch_size)]
    return dict(inputs=inputs, data_samples=samples)


def sync(device: str) -> None:
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def run(model, wrapper, batch, iters: int, start: int, device: str) -> float:
    hub = MessageHub.get_current_instance()
    sync(device)
    t0 = time.perf_counter()
    for i in range(iters):
        hub.update_info('iter', start + i)
        model.train_step(batch, optim_wrapper=wrapper)
    sync(device)
    return (time.perf_counter() - t0) / iters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--interval', type=int, default=10)
    parser.add_argument('--rounds', type=int, default=6)
    parser.add_argument('--iters', type=int, default=10,
                        help='iterations per round (one logging step each at interval 10)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--sophia', action='store_true',
                        help='also time SophiaOptimWrapper (hessian_interval=10) vs SophiaG')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    MessageHub.get_instance('wrapper_overhead')
    torch.manual_seed(0)
    model = build_model(args.device)
    batch = make_batch(args.batch_size, args.device)

    def sgd():
        return torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)

    wrappers = {'plain': OptimWrapper(sgd()),
                'stats': StatsOptimWrapper(sgd(), interval=args.interval)}
    if args.sophia:
        wrappers['sophia-plain'] = OptimWrapper(SophiaG(model.parameters(), lr=1e-5))
        wrappers['sophia'] = SophiaOptimWrapper(SophiaG(model.parameters(), lr=1e-5),
                                                hessian_interval=10)
    for w in wrappers.values():  # warm-up (allocations, first logging step)
        run(model, w, batch, 2, 10**6, args.device)
    times: dict[str, list[float]] = {k: [] for k in wrappers}
    names = list(wrappers)
    for r in range(args.rounds):  # ABBA order: linear drifts of a shared machine cancel out
        for name in (names if r % 2 == 0 else names[::-1]):
            times[name].append(run(model, wrappers[name], batch, args.iters, r * args.iters,
                                   args.device))
    med = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}

    # isolated cost of one logging step's statistics (pre + post hooks)
    stats = wrappers['stats'].stats
    model.train_step(batch, optim_wrapper=OptimWrapper(torch.optim.SGD(model.parameters(),
                                                                       lr=0.0)))
    with wrappers['stats'].optim_context(model):
        loss, _ = model.parse_losses(model(**model.data_preprocessor(batch, True),
                                           mode='loss'))
    loss.backward()
    costs = []
    for _ in range(5):
        sync(args.device)
        t0 = time.perf_counter()
        pending = stats._collect_pre()
        stats._finish(pending)
        sync(args.device)
        costs.append(time.perf_counter() - t0)
    log_cost = statistics.median(costs)
    amortised = log_cost / args.interval / med['plain']

    print(f'device={args.device} threads={torch.get_num_threads()} '
          f'batch={args.batch_size} interval={args.interval} rounds={args.rounds}x{args.iters}')
    print(f'plain OptimWrapper      : {med["plain"] * 1e3:8.2f} ms/iter')
    print(f'StatsOptimWrapper       : {med["stats"] * 1e3:8.2f} ms/iter')
    print(f'stats cost of one logging step: {log_cost * 1e3:.2f} ms')
    print(f'overhead end-to-end     : median {med["stats"] / med["plain"]:.4f}x, '
          f'best-round {best["stats"] / best["plain"]:.4f}x')
    print(f'overhead amortised      : {1 + amortised:.4f}x ({amortised * 100:+.2f}%)')
    if args.sophia:
        ratio = med['sophia'] / med['sophia-plain']
        print(f'SophiaG in OptimWrapper : {med["sophia-plain"] * 1e3:8.2f} ms/iter')
        print(f'SophiaOptimWrapper (k=10): {med["sophia"] * 1e3:8.2f} ms/iter  ({ratio:.4f}x)')


if __name__ == '__main__':
    main()
