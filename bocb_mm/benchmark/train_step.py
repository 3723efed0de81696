"""Time one model's training step (forward, backward, AdamW step) under layout options.

Compares, interleaved in one process (so drift of a noisy machine hits every variant alike),
the plain step against ``--channels-last``, ``--trim-convs`` (:mod:`bocb_mm.models.trimmed_conv`)
and both, and prints each variant's median step time and its ratio to the plain one::

    python tools/benchmark/train_step.py                      # the demo's mini CNNs
    python tools/benchmark/train_step.py configs/demo/mini-convnext_digits.py --batch 100 \\
        --size 8 --threads 1 --repeats 41

Before timing, it checks that each variant's gradients match the plain step's in float64 (the
options change the memory layout and skip products with the zero padding, never the function).
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import torch
from torch import nn

DEFAULT_CONFIGS = ('configs/demo/mini-resnet_digits.py', 'configs/demo/mini-convnext_digits.py')
VARIANTS = {'plain': (False, False), 'channels_last': (True, False),
            'trim_convs': (False, True), 'channels_last+trim_convs': (True, True)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('configs', nargs='*', default=list(DEFAULT_CONFIGS),
                        help='model configs (default: the demo\'s mini ResNet and ConvNeXt)')
    parser.add_argument('--batch', type=int, default=100)
    parser.add_argument('--size', type=int, default=8, help='input height and width')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch threads (the demo runs one per worker)')
    parser.add_argument('--repeats', type=int, default=31, help='timed steps per variant')
    return parser.parse_args(argv)


def build_model(config: str, channels_last: bool, trim: bool) -> nn.Module:
    """The config's classifier (seed 0), in training mode, with the layout options applied."""
    from mmengine.config import Config
    from mmpretrain.registry import MODELS

    import bocb_mm  # noqa: F401  (registers the backbones)
    from bocb_mm.models.trimmed_conv import trim_padded_convs
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(config).model).train()
    if trim:
        trim_padded_convs(model)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def make_step(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor,
              channels_last: bool) -> Callable[[], torch.Tensor]:
    """A closure that runs one training step and returns the loss."""
    if channels_last:
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def step() -> torch.Tensor:
        logits = model.head(model.extract_feat(inputs))
        loss = nn.functional.cross_entropy(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.detach()

    return step


def check_same_function(config: str, inputs: torch.Tensor, labels: torch.Tensor) -> None:
    """Each variant's gradients match the plain model's, in float64.

    Float64, since in float32 a pre-activation within rounding of a ReLU's kink can flip sides
    between two memory layouts: one flipped unit moved 1 % of a mini ResNet's gradient norm.
    """
    grads = {}
    for name, (channels_last, trim) in VARIANTS.items():
        model = build_model(config, channels_last, trim).double()
        x = inputs.double()
        x = x.contiguous(memory_format=torch.channels_last) if channels_last else x
        nn.functional.cross_entropy(model.head(model.extract_feat(x)), labels).backward()
        grads[name] = [p.grad.contiguous() for p in model.parameters()]
    for name, current in grads.items():
        for ref, got in zip(grads['plain'], current):
            torch.testing.assert_close(got, ref, rtol=1e-9, atol=1e-12,
                                       msg=lambda m: f'{config} {name}: gradients differ: {m}')


def time_variants(config: str, args: argparse.Namespace) -> dict[str, float]:
    """Median step seconds of each variant, the variants interleaved step by step."""
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(args.batch, 3, args.size, args.size, generator=generator)
    labels = torch.randint(0, 10, (args.batch, ), generator=generator)
    check_same_function(config, inputs, labels)
    steps = {name: make_step(build_model(config, *options), inputs, labels, options[0])
             for name, options in VARIANTS.items()}
    times: dict[str, list[float]] = {name: [] for name in steps}
    for repeat in range(args.repeats + 3):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            if repeat >= 3:  # warm-up: allocator, oneDNN primitive caches
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f'training step, batch {args.batch} at {args.size} px, {args.threads} thread(s), '
          f'median of {args.repeats} interleaved steps; ratio to the plain step')
    for config in args.configs:
        medians = time_variants(config, args)
        print(config)
        for name, seconds in medians.items():
            print(f'  {name:<26} {seconds * 1e3:8.2f} ms   {seconds / medians["plain"]:.2f}x')


if __name__ == '__main__':
    main()
