"""Parameters and FLOPs of the 20 BOCB backbones at their BOCB input size.

Builds each backbone as an mmpretrain ``ImageClassifier`` from :mod:`bocb_mm.models.zoo`
(backbone + neck + head) and counts its parameters and FLOPs with mmengine's fvcore-style
analyser (one multiply-add = one FLOP, as in the papers' "FLOPs"/"MACs" tables; element-wise
ops, pooling and activations are not counted). Scaled dot-product attention, which the
analyser does not know, is counted as its two matrix products.

Examples::

    python tools/analysis/get_flops.py                       # all 20, 100 classes, paper sizes
    python tools/analysis/get_flops.py --backbones R-50 CX-T --num-classes 1000
    python tools/analysis/get_flops.py --size 224 --num-classes 1000 --deploy --format csv
"""
from __future__ import annotations

import argparse
import csv
import io
import sys
from typing import Any

import torch


def sdpa_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """FLOPs of ``aten::scaled_dot_product_attention``: ``q @ k^T`` and ``attn @ v``."""
    from mmengine.analysis.jit_handles import get_shape
    q, k, v = (get_shape(inputs[i]) for i in range(3))
    batch = 1
    for dim in q[:-2]:
        batch *= dim
    n_q, d = q[-2], q[-1]
    n_k, d_v = k[-2], v[-1]
    return batch * n_q * n_k * (d + d_v)


class _Logits(torch.nn.Module):
    """``ImageClassifier`` in tensor mode (images -> logits) for the tracer."""

    def __init__(self, classifier: torch.nn.Module) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(x, mode='tensor')


def complexity(name: str, num_classes: int = 100, cifar: bool | None = None,
               deploy: bool = False) -> dict:
    """Params and FLOPs of one backbone's classifier.

    Args:
        name: Backbone name (any name accepted by ``get_backbone_info``).
        num_classes: Classes of the linear head.
        cifar: ``None`` for the paper's input size, ``True``/``False`` for 32/224 px.
        deploy: Count the re-parameterised (inference) form of RepVGG/UniRepLKNet.

    Returns:
        dict with ``name``, ``input``, ``params_m``, ``flops_g`` and ``unsupported`` (ops
        the analyser skipped).
    """
    from mmengine.analysis import FlopAnalyzer, parameter_count
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS

    import bocb_mm  # noqa: F401
    from bocb_mm.models import classifier_cfg, get_backbone_info

    init_default_scope('mmpretrain')
    info = get_backbone_info(name)
    overrides = info.deploy_overrides if deploy else {}
    model = MODELS.build(classifier_cfg(name, num_classes=num_classes, cifar=cifar,
                                        **overrides))
    model.eval()
    shape = info.input_shape(cifar)
    inputs = (torch.randn(1, *shape), )
    wrapped = _Logits(model)
    with torch.no_grad():
        analyzer = FlopAnalyzer(wrapped, inputs)
        analyzer.set_op_handle('aten::scaled_dot_product_attention', sdpa_flop_jit)
        analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        analyzer.tracer_warnings('none')
        flops = analyzer.total()
        unsupported = dict(analyzer.unsupported_ops())
    return dict(name=info.short_name, full_name=info.full_name, input=shape[-1],
                params_m=parameter_count(model)[''] / 1e6, flops_g=flops / 1e9,
                official_params_m=info.official_params_m, unsupported=unsupported)


def format_table(rows: list[dict], fmt: str = 'md') -> str:
    """Render the rows as a Markdown table or CSV."""
    header = ['backbone', 'full name', 'input', 'params (M)', 'FLOPs (G)']
    body = [[r['name'], r['full_name'], f"{r['input']}x{r['input']}", f"{r['params_m']:.2f}",
             f"{r['flops_g']:.3f}"] for r in rows]
    if fmt == 'csv':
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator='\n')
        writer.writerow(header)
        writer.writerows(body)
        return buf.getvalue()
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(row) + ' |' for row in body]
    return '\n'.join(lines) + '\n'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--backbones', nargs='+', default=None,
                        help='backbone names or aliases (default: all 20, paper order)')
    parser.add_argument('--num-classes', type=int, default=100,
                        help='classes of the head (100: CIFAR-100; 1000: ImageNet)')
    parser.add_argument('--size', choices=['paper', '32', '224'], default='paper',
                        help="input size: the paper's per-backbone size, or force 32/224 "
                             '(32 only for backbones with a CIFAR stem)')
    parser.add_argument('--deploy', action='store_true',
                        help='re-parameterised form of RepVGG / UniRepLKNet')
    parser.add_argument('--format', choices=['md', 'csv'], default='md')
    parser.add_argument('--show-unsupported', action='store_true',
                        help='list the (element-wise) ops the analyser did not count')
    parser.add_argument('--out', default=None, help='also write the table to this file')
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Print (and with ``--out`` write) the table; return the exit status."""
    args = parse_args(argv)
    from bocb_mm.models import get_backbone_info, list_backbones
    names = [get_backbone_info(n).short_name for n in args.backbones] if args.backbones \
        else list_backbones()
    cifar = {'paper': None, '32': True, '224': False}[args.size]
    torch.set_num_threads(1)
    rows = []
    for name in names:
        if cifar and not get_backbone_info(name).has_cifar_variant:
            print(f'skip {name}: no 32 px variant', file=sys.stderr)
            continue
        row = complexity(name, args.num_classes, cifar, args.deploy)
        if args.show_unsupported and row['unsupported']:
            print(f"{name}: ops not counted: {row['unsupported']}", file=sys.stderr)
        rows.append(row)
    table = format_table(rows, args.format)
    print(table, end='')
    if args.out:
        with open(args.out, 'w') as f:
            f.write(table)
    return 0


if __name__ == '__main__':
    sys.exit(main())
