"""Benchmark one optimizer step of the paper's 20 optimizers against every installed peer.

For each model (the parameter shapes of ResNet-50 and DeiT-S, taken from models built on the meta
device, then materialised as CPU fp32 tensors with random gradients) and each optimizer of
:mod:`bocb_mm.optim.zoo`, the script times ``optimizer.step()`` of the zoo's implementation and of
every installed implementation of the same algorithm (torch's loop / foreach / fused variants,
timm, pytorch_optimizer and the official PyPI packages adamp, adabound, adabelief_pytorch,
lion_pytorch, sophia_opt), and prints per implementation:

* ``ms``: median step time over ``--repeats`` steps (after two warm-up steps that create the state);
* ``x best``: ratio to the fastest implementation of the same optimizer;
* ``x floor``: ratio to the memory-stream floor, the time plain torch copies need to move the
  bytes a step must touch at least: read params + grads + state, write params + state. The copy
  bandwidth is measured in the same run with ``Tensor.copy_`` on one flat buffer;
* ``state B/p``: optimizer state bytes per parameter (4 = one fp32 tensor);
* ``BW/fAdamW``: effective bandwidth (those bytes / step time) as a fraction of that of
  ``torch.optim.AdamW(fused=True)`` measured in the same run.

Example::

    python tools/benchmark/optimizer_step.py --models resnet50 --repeats 3
    python tools/benchmark/optimizer_step.py --optimizers AdamW Adan LAMB --threads 8
    python tools/benchmark/optimizer_step.py --device cuda --repeats 30   # on a GPU
    python tools/benchmark/optimizer_step.py --optimizers LAMB --interleave  # a loaded machine

After each table, a summary gives each bocb_mm optimizer's default, loop and foreach step time
as a ratio to its fastest installed peer (on a loaded machine use ``--interleave`` and many
``--repeats``).
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import importlib
import math
import statistics
import sys
import time
from typing import Any, Callable

import torch

from bocb_mm.optim.zoo import get_info, list_optimizers

MODELS = ('resnet50', 'deit_s')

# lr per optimizer, only so that the steps do ordinary arithmetic (timing does not depend on it)
LR = {'SGD-M': 0.1, 'SGDP': 0.1, 'LION': 1e-4, 'LARS': 0.1, 'AdaDelta': 1.0}
WEIGHT_DECAY = 1e-4


@dataclasses.dataclass
class Impl:
    """One implementation: a label and a factory ``params -> optimizer``."""

    label: str
    factory: Callable[[list[torch.Tensor]], torch.optim.Optimizer]


def _load(path: str) -> Any:
    """``'package.module:attr'`` -> the attribute, or None when not installed."""
    module, attr = path.split(':')
    try:
        return getattr(importlib.import_module(module), attr)
    except Exception:  # noqa: BLE001 - not installed / does not import: no such peer
        return None


def implementations(name: str) -> list[Impl]:
    """The zoo's implementation of ``name`` first, then its installed peers."""
    info = get_info(name)
    lr = LR.get(info.name, 1e-3)
    base = dict(info.defaults, lr=lr, weight_decay=WEIGHT_DECAY)
    impls: list[Impl] = []

    def add(label: str, path_or_cls: Any, **kwargs: Any) -> None:
        cls = _load(path_or_cls) if isinstance(path_or_cls, str) else path_or_cls
        if cls is not None:
            impls.append(Impl(label, lambda params, c=cls, kw=kwargs: c(params, **kw)))

    if info.is_torch:
        add('torch (loop)', info.cls, **base, foreach=False)
        add('torch foreach', info.cls, **base, foreach=True)
        if 'fused' in info.cls.__init__.__code__.co_varnames:
            add('torch fused', info.cls, **base, fused=True)
    else:
        add('bocb_mm default', info.cls, **base)  # foreach=None: the path a config gets
        add('bocb_mm', info.cls, **base, foreach=False)
        add('bocb_mm foreach', info.cls, **base, foreach=True)

    adam_like = dict(lr=lr, weight_decay=WEIGHT_DECAY)
    peers: dict[str, list[tuple[str, str, dict[str, Any]]]] = {
        'SGD-M': [],
        'SGDP': [('adamp', 'adamp:SGDP', dict(adam_like, momentum=0.9)),
                 ('timm', 'timm.optim:SGDP', dict(adam_like, momentum=0.9)),
                 ('pytorch_optimizer', 'pytorch_optimizer:SGDP', dict(adam_like, momentum=0.9))],
        'LION': [('lion_pytorch', 'lion_pytorch:Lion', adam_like),
                 ('timm', 'timm.optim:Lion', adam_like),
                 ('pytorch_optimizer', 'pytorch_optimizer:Lion', adam_like)],
        'NAdam': [('timm legacy', 'timm.optim:NAdamLegacy', adam_like)],
        'AdamW': [('timm legacy', 'timm.optim:AdamWLegacy', adam_like)],
        # global gradient clipping (max_grad_norm=1) in all three: pytorch_optimizer needs
        # pre_norm=True for it
        'LAMB': [('timm', 'timm.optim:Lamb', adam_like),
                 ('pytorch_optimizer', 'pytorch_optimizer:Lamb', dict(adam_like, pre_norm=True))],
        'RAdam': [('timm legacy', 'timm.optim:RAdamLegacy', adam_like),
                  ('pytorch_optimizer', 'pytorch_optimizer:RAdam', adam_like)],
        'AdamP': [('adamp', 'adamp:AdamP', adam_like),
                  ('timm', 'timm.optim:AdamP', adam_like),
                  ('pytorch_optimizer', 'pytorch_optimizer:AdamP', adam_like)],
        'Adan': [('timm', 'timm.optim:Adan', adam_like),
                 ('pytorch_optimizer', 'pytorch_optimizer:Adan', adam_like)],
        'AdaBound': [('adabound', 'adabound:AdaBound', adam_like),
                     ('pytorch_optimizer', 'pytorch_optimizer:AdaBound',
                      dict(adam_like, weight_decouple=False))],
        'LARS': [('timm', 'timm.optim:Lars', dict(adam_like, momentum=0.9)),
                 ('pytorch_optimizer', 'pytorch_optimizer:LARS', dict(adam_like, momentum=0.9))],
        'AdaFactor': [('timm', 'timm.optim:Adafactor', dict(adam_like, scale_parameter=False)),
                      ('torch', 'torch.optim:Adafactor', adam_like),
                      ('pytorch_optimizer', 'pytorch_optimizer:AdaFactor',
                       dict(adam_like, betas=(None, 0.999), relative_step=False,
                            scale_parameter=False))],
        'AdaBelief': [('adabelief_pytorch', 'adabelief_pytorch:AdaBelief',
                       dict(adam_like, print_change_log=False)),
                      ('timm', 'timm.optim:AdaBelief', adam_like),
                      ('pytorch_optimizer', 'pytorch_optimizer:AdaBelief',
                       dict(adam_like, rectify=True))],
        'NovoGrad': [('timm', 'timm.optim:NvNovoGrad', adam_like),
                     ('pytorch_optimizer', 'pytorch_optimizer:NovoGrad', adam_like)],
        'Sophia': [('sophia_opt', 'sophia_opt:SophiaG', adam_like)],
        'RMSProp': [('timm RMSpropTF', 'timm.optim:RMSpropTF', adam_like)],
        'AdaDelta': [('pytorch_optimizer', 'pytorch_optimizer:AdaDelta', adam_like)],
    }
    for label, path, kwargs in peers.get(info.name, []):
        add(label, path, **kwargs)
    return impls


def model_shapes(model: str) -> list[torch.Size]:
    """Parameter shapes of ResNet-50 (torchvision) or DeiT-S (timm), built on the meta device."""
    with torch.device('meta'):
        if model == 'resnet50':
            import torchvision
            net = torchvision.models.resnet50()
        elif model == 'deit_s':
            import timm
            net = timm.create_model('deit_small_patch16_224', pretrained=False)
        else:
            raise ValueError(f'Unknown model {model!r}; expected one of {MODELS}')
    return [p.shape for p in net.parameters()]


class Workload:
    """Random fp32 params and grads of the given shapes; each implementation gets clones."""

    def __init__(self, shapes: list[torch.Size], seed: int = 0, device: str = 'cpu') -> None:
        gen = torch.Generator().manual_seed(seed)
        self.params = [(torch.randn(s, generator=gen) * 0.05).to(device) for s in shapes]
        self.grads = [(torch.randn(s, generator=gen) * 1e-3).to(device) for s in shapes]
        self.numel = sum(p.numel() for p in self.params)

    def fresh(self) -> list[torch.nn.Parameter]:
        out = []
        for p, g in zip(self.params, self.grads):
            q = torch.nn.Parameter(p.clone())
            q.grad = g.clone()
            out.append(q)
        return out


def state_bytes(opt: torch.optim.Optimizer) -> int:
    """Bytes of the optimizer's state tensors."""
    total = 0
    for state in opt.state.values():
        for value in state.values():
            if isinstance(value, torch.Tensor):
                total += value.numel() * value.element_size()
    return total


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_steps(opt: torch.optim.Optimizer, repeats: int, warmup: int = 2) -> float:
    """Median seconds of ``repeats`` steps after ``warmup`` steps (which create the state)."""
    device = opt.param_groups[0]['params'][0].device
    for _ in range(warmup):
        opt.step()
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        opt.step()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def copy_bandwidth(numel: int, repeats: int, device: str = 'cpu') -> float:
    """Bytes per second of ``dst.copy_(src)`` (read + write) on flat fp32 buffers; the best of
    the repeats, since it defines a floor."""
    src, dst = torch.randn(numel, device=device), torch.empty(numel, device=device)
    dst.copy_(src)
    times = []
    for _ in range(max(repeats, 5)):
        _sync(src.device)
        t0 = time.perf_counter()
        dst.copy_(src)
        _sync(src.device)
        times.append(time.perf_counter() - t0)
    return 2 * numel * 4 / min(times)


@dataclasses.dataclass
class Row:
    """One implementation's measurement (``error``: why it has none)."""

    optimizer: str
    impl: str
    ms: float
    state_per_param: float
    bytes_moved: int
    error: str | None = None


def bench_model(model: str, names: list[str], repeats: int, log: Callable[[str], None],
                device: str = 'cpu', interleave: bool = False) -> tuple[list[Row], float, float]:
    """Time every implementation of ``names`` on the parameter shapes of ``model``.

    Returns:
        The rows, the copy bandwidth (bytes/s) and the effective bandwidth of fused AdamW.
    """
    shapes = model_shapes(model)
    work = Workload(shapes, device=device)
    param_bytes = work.numel * 4
    log(f'[{model}] {work.numel / 1e6:.2f}M parameters in {len(shapes)} tensors')
    bandwidth = copy_bandwidth(3 * work.numel, repeats, device)
    log(f'[{model}] copy bandwidth {bandwidth / 1e9:.2f} GB/s')

    def measure(name: str, impl: Impl, n: int = repeats) -> Row:
        params = work.fresh()
        try:
            with contextlib.redirect_stdout(sys.stderr):  # banners (adabelief_pytorch)
                opt = impl.factory(params)
            seconds = time_steps(opt, n)
            s_bytes = state_bytes(opt)
            if not all(torch.isfinite(p).all() for p in params):
                raise FloatingPointError('non-finite parameters after the steps')
        except Exception as err:  # noqa: BLE001 - report and go on with the other peers
            return Row(name, impl.label, math.nan, math.nan, 0, f'{type(err).__name__}: {err}')
        finally:
            del params
        moved = 3 * param_bytes + 2 * s_bytes  # read p, g, state; write p, state
        return Row(name, impl.label, seconds * 1e3, s_bytes / work.numel, moved)

    reference = measure('AdamW', Impl('torch fused', lambda ps: torch.optim.AdamW(
        ps, lr=1e-3, weight_decay=WEIGHT_DECAY, fused=True)), n=max(repeats, 5))
    log(f'[{model}] reference torch.optim.AdamW(fused=True): {reference.ms:.1f} ms')
    ref_bw = reference.bytes_moved / (reference.ms / 1e3)

    rows: list[Row] = []
    for name in names:
        if interleave:
            rows += measure_interleaved(name, work, repeats)
            for row in rows[-len(implementations(name)):]:
                log(f'[{model}] {name:<10} {row.impl:<20} {row.error or f"{row.ms:.1f} ms"}')
            continue
        for impl in implementations(name):
            row = measure(name, impl)
            rows.append(row)
            gc.collect()
            status = row.error or f'{row.ms:.1f} ms'
            log(f'[{model}] {name:<10} {impl.label:<20} {status}')
    return rows, bandwidth, ref_bw


def measure_interleaved(name: str, work: Workload, repeats: int) -> list[Row]:
    """All implementations of ``name`` alive at once, stepped round-robin (one step each per
    round, the order rotating), so that load from other processes hits them alike; per
    implementation the median over the rounds."""
    impls = implementations(name)
    opts: list[torch.optim.Optimizer | None] = []
    rows: list[Row | None] = []
    for impl in impls:
        try:
            with contextlib.redirect_stdout(sys.stderr):
                opt = impl.factory(work.fresh())
            for _ in range(2):
                opt.step()
            opts.append(opt)
            rows.append(None)
        except Exception as err:  # noqa: BLE001 - report and go on with the other peers
            opts.append(None)
            rows.append(Row(name, impl.label, math.nan, math.nan, 0,
                            f'{type(err).__name__}: {err}'))
    times: list[list[float]] = [[] for _ in impls]
    live = [i for i, opt in enumerate(opts) if opt is not None]
    for r in range(repeats):
        for k in range(len(live)):
            i = live[(k + r) % len(live)]
            device = opts[i].param_groups[0]['params'][0].device
            _sync(device)
            t0 = time.perf_counter()
            opts[i].step()
            _sync(device)
            times[i].append(time.perf_counter() - t0)
    out = []
    for i, impl in enumerate(impls):
        if rows[i] is not None:
            out.append(rows[i])
            continue
        s_bytes = state_bytes(opts[i])
        moved = 3 * work.numel * 4 + 2 * s_bytes
        out.append(Row(name, impl.label, statistics.median(times[i]) * 1e3,
                       s_bytes / work.numel, moved))
    del opts
    gc.collect()
    return out


def print_table(model: str, rows: list[Row], bandwidth: float, ref_bw: float) -> None:
    """One model's table (the columns: the module docstring)."""
    where = (f'CPU fp32, {torch.get_num_threads()} threads' if not torch.cuda.is_initialized()
             else f'{torch.cuda.get_device_name()} fp32')
    print(f'\n== {model}: step time, {where}; '
          f'copy bandwidth {bandwidth / 1e9:.2f} GB/s; fused AdamW '
          f'{ref_bw / 1e9:.2f} GB/s effective')
    header = (f'{"optimizer":<10} {"implementation":<20} {"ms":>9} {"x best":>7} {"x floor":>8} '
              f'{"state B/p":>9} {"BW/fAdamW":>9}')
    print(header)
    print('-' * len(header))
    best: dict[str, float] = {}
    for row in rows:
        if row.error is None:
            best[row.optimizer] = min(best.get(row.optimizer, math.inf), row.ms)
    for row in rows:
        if row.error is not None:
            print(f'{row.optimizer:<10} {row.impl:<20} failed: {row.error[:60]}')
            continue
        floor_ms = row.bytes_moved / bandwidth * 1e3
        eff_bw = row.bytes_moved / (row.ms / 1e3)
        ratio = row.ms / best[row.optimizer]
        print(f'{row.optimizer:<10} {row.impl:<20} {row.ms:9.1f} {ratio:7.2f} '
              f'{row.ms / floor_ms:8.1f} {row.state_per_param:9.1f} {eff_bw / ref_bw:9.2f}')


def print_summary(rows: list[Row]) -> None:
    """Per bocb_mm optimizer: its default path and its two explicit paths against the fastest
    installed peer, as ratios (< 1: faster than the peer)."""
    print(f'\n{"optimizer":<10} {"fastest peer":<20} {"default":>8} {"loop":>8} {"foreach":>8}'
          '   (step time / fastest peer)')
    for name in dict.fromkeys(r.optimizer for r in rows):
        ours = {r.impl: r.ms for r in rows if r.optimizer == name and r.error is None
                and r.impl.startswith('bocb_mm')}
        peers = [r for r in rows if r.optimizer == name and r.error is None
                 and not r.impl.startswith(('bocb_mm', 'torch'))]
        if not ours or not peers:
            continue
        best = min(peers, key=lambda r: r.ms)
        cells = [f'{ours[k] / best.ms:8.2f}' if k in ours else f'{"-":>8}'
                 for k in ('bocb_mm default', 'bocb_mm', 'bocb_mm foreach')]
        print(f'{name:<10} {best.impl:<20} ' + ' '.join(cells))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The benchmark's arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--models', nargs='+', default=list(MODELS), choices=MODELS,
                        help='parameter shapes to benchmark')
    parser.add_argument('--optimizers', nargs='+', default=None,
                        help='zoo names (default: all 20, in the paper order)')
    parser.add_argument('--repeats', type=int, default=10, help='timed steps per implementation')
    parser.add_argument('--threads', type=int, default=None, help='torch intra-op threads')
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda' (tensors, timing)")
    parser.add_argument('--interleave', action='store_true',
                        help='step the implementations of an optimizer round-robin (all alive '
                             'at once): fairer ratios on a loaded machine, more memory')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Benchmark each model: progress on stderr, the tables on stdout."""
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    names = [get_info(n).name for n in (args.optimizers or list_optimizers())]
    import bocb_mm.optim  # noqa: F401  (the bocb_mm classes)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    for model in args.models:
        rows, bandwidth, ref_bw = bench_model(model, names, args.repeats, log, args.device,
                                              args.interleave)
        print_table(model, rows, bandwidth, ref_bw)
        print_summary(rows)
        sys.stdout.flush()
