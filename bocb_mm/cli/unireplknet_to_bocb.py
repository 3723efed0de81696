"""Convert an official UniRepLKNet checkpoint (github.com/AILab-CVC/UniRepLKNet) to bocb_mm.

    python tools/model_converters/unireplknet_to_bocb.py SRC DST [--src-prefix PREFIX]

SRC is a checkpoint of the official ``UniRepLKNet`` (an ImageNet classifier, ``{'model': ...}``
or a bare state dict, in the training form or the re-parameterised deploy form) or of its
mmdet / mmseg backbone (``--src-prefix backbone.``). DST is an mmpretrain ``ImageClassifier``
checkpoint of ``bocb_mm.UniRepLKNet`` (``backbone.*`` and, for a classifier, ``head.fc.*``):
it loads with ``init_cfg=dict(type='Pretrained', checkpoint=DST)`` into the classifier, or with
``prefix='backbone.'`` into the bare backbone (build it with ``deploy=True`` for a deploy-form
checkpoint).

The two codes name the same tensors differently only in each block's FFN and in the classifier:

==============================  ==============================
official                        bocb_mm
==============================  ==============================
``pwconv1.1.*``                 ``pwconv1.*``
``act.1.gamma`` (1, 1, 1, C)    ``grn.gamma`` (C,)
``act.1.beta`` (1, 1, 1, C)     ``grn.beta`` (C,), training form only
``pwconv2.0.*``                 ``pwconv2.*``
``pwconv2.2.*`` (BN)            ``norm2.*``, training form only
``norm.*`` (after GAP)          ``backbone.norm3.*``
``norm0.*`` ... ``norm3.*``     ``backbone.norm0.*`` ... (mmdet / mmseg feature norms)
``head.*``                      ``head.fc.*``
==============================  ==============================

Every other tensor (stem and down-sampling layers, depth-wise convs and their dilated branches,
BNs, SE, layer scale ``gamma``) keeps its name. Before writing, the converted backbone is loaded
strictly into a ``bocb_mm.UniRepLKNet`` of the checkpoint's depths and widths (training or
deploy form, as found); a checkpoint that does not fit stops the tool with the offending keys.
"""
from __future__ import annotations

import argparse
import os.path as osp
import pickle
import re
import sys
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import torch

from bocb_mm.cli.bocb_to_transfer import load_state_dict
from bocb_mm.utils.fileio import atomic_write, refuse_same_file

BACKBONE = 'backbone.'
NUM_STAGES = 4

# (official pattern, bocb_mm replacement) inside one block, ``stages.<i>.<j>.``
_BLOCK_RULES = (
    (re.compile(r'^pwconv1\.1\.'), 'pwconv1.'),
    (re.compile(r'^act\.1\.'), 'grn.'),
    (re.compile(r'^pwconv2\.0\.'), 'pwconv2.'),
    (re.compile(r'^pwconv2\.2\.'), 'norm2.'),
)
_BLOCK = re.compile(r'^(stages\.\d+\.\d+\.)(.+)$')
_FEATURE_NORM = re.compile(r'^norm\d+\.')


def _block_key(rest: str) -> str:
    for pattern, repl in _BLOCK_RULES:
        if pattern.match(rest):
            return pattern.sub(repl, rest, count=1)
    return rest


def rename_key(key: str) -> str | None:
    """The bocb_mm name (with ``backbone.`` / ``head.fc.``) of an official key, or ``None`` for a
    key that is not part of an official UniRepLKNet."""
    block = _BLOCK.match(key)
    if block:
        return BACKBONE + block.group(1) + _block_key(block.group(2))
    if key.startswith('downsample_layers.') or _FEATURE_NORM.match(key):
        return BACKBONE + key
    if key.startswith('norm.'):
        return f'{BACKBONE}norm{NUM_STAGES - 1}.' + key[len('norm.'):]
    if key.startswith('head.'):
        return 'head.fc.' + key[len('head.'):]
    return None


def convert_state(state: Mapping[str, torch.Tensor], src_prefix: str = ''
                  ) -> tuple[OrderedDict[str, torch.Tensor], list[str]]:
    """Rename (and reshape) an official UniRepLKNet state dict.

    Args:
        state: The official tensors.
        src_prefix: Prefix of the backbone's keys in ``state`` (``'backbone.'`` for the official
            mmdet / mmseg checkpoints); keys without it are skipped.

    Returns:
        The bocb_mm tensors and the source keys that were skipped.

    Raises:
        ValueError: No key of ``state`` is an official UniRepLKNet key.
    """
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    skipped = []
    for key, value in state.items():
        new = rename_key(key[len(src_prefix):]) if key.startswith(src_prefix) else None
        if new is None:
            skipped.append(key)
            continue
        if new.endswith(('grn.gamma', 'grn.beta')):
            value = value.reshape(-1)
        out[new] = value
    if not out:
        sample = ', '.join(list(state)[:5])
        raise ValueError(f'no official UniRepLKNet key under prefix {src_prefix!r} (first keys: '
                         f'{sample}); set --src-prefix')
    return out, skipped


def backbone_args(state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """``depths``, ``dims``, ``kernel_sizes`` and ``deploy`` of a converted backbone."""
    depths = [0] * NUM_STAGES
    kernels: dict[tuple[int, int], int] = {}
    for key, value in state.items():
        match = re.match(r'^backbone\.stages\.(\d+)\.(\d+)\.dwconv\.(lk_origin\.)?weight$', key)
        if match:
            stage, block = int(match.group(1)), int(match.group(2))
            depths[stage] = max(depths[stage], block + 1)
            kernels[(stage, block)] = value.shape[-1]
    dims = [state[f'{BACKBONE}downsample_layers.{i}.0.weight'].shape[0]
            if i else state[f'{BACKBONE}downsample_layers.0.3.weight'].shape[0]
            for i in range(NUM_STAGES)]
    kernel_sizes = [[kernels.get((i, j), 0) for j in range(depths[i])]
                    for i in range(NUM_STAGES)]
    deploy = not any('.norm2.' in key for key in state)
    return dict(arch=dict(depths=depths, dims=dims), kernel_sizes=kernel_sizes, deploy=deploy)


def check_fits(state: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """Load the ``backbone.*`` tensors strictly into a matching ``bocb_mm.UniRepLKNet``.

    Returns:
        The backbone's arguments (:func:`backbone_args`).

    Raises:
        ValueError: A missing, unexpected or wrongly shaped tensor (named).
    """
    from bocb_mm.models import UniRepLKNet
    try:
        args = backbone_args(state)
    except KeyError as err:
        raise ValueError(f'not a UniRepLKNet checkpoint: no tensor {err}') from None
    norms = sorted({int(k.split('.')[1][4:]) for k in state
                    if re.match(r'^backbone\.norm\d+\.', k)})
    backbone = UniRepLKNet(**args, out_indices=norms or (NUM_STAGES - 1, ),
                           gap_before_final_norm=f'{BACKBONE}norm0.weight' not in state)
    target = backbone.state_dict()
    source = {k[len(BACKBONE):]: v for k, v in state.items() if k.startswith(BACKBONE)}
    missing = [k for k in target if k not in source]
    unexpected = [k for k in source if k not in target]
    shapes = [f'{k}: {tuple(v.shape)} vs {tuple(target[k].shape)}'
              for k, v in source.items() if k in target and v.shape != target[k].shape]
    if missing or unexpected or shapes:
        raise ValueError(f'the converted tensors do not fit bocb_mm.UniRepLKNet({args}): '
                         f'missing {missing[:10]}, unexpected {unexpected[:10]}, '
                         f'shapes {shapes[:10]}')
    return args


def convert(src: str, dst: str, src_prefix: str = '', verbose: bool = True) -> dict[str, Any]:
    """Write ``dst`` (``{'state_dict': ..., 'meta': ...}``) from the official checkpoint ``src``.

    Returns:
        ``meta``: the source, the backbone's arguments and the skipped source keys.

    Raises:
        ValueError: ``dst`` is ``src``, ``src`` holds objects other than tensors and plain
            containers (it is read with ``weights_only=True``), or it is not an official
            UniRepLKNet checkpoint.
    """
    refuse_same_file(src, dst, what='output checkpoint')
    try:
        loaded = load_state_dict(src)
    except pickle.UnpicklingError as err:
        raise ValueError(f'{src}: not readable as weights only ({str(err).splitlines()[0]}); '
                         'save its state dict alone, torch.save(ckpt["model"], path), from '
                         'a trusted copy') from None
    try:
        state, skipped = convert_state(loaded, src_prefix)
        args = check_fits(state)
    except ValueError as err:
        raise ValueError(f'{src}: {err}') from None
    meta = dict(source=osp.abspath(src), backbone=args, skipped=skipped)
    atomic_write(dst, lambda tmp: torch.save({'state_dict': state, 'meta': meta}, tmp))
    if verbose:
        form = 'deploy' if args['deploy'] else 'training'
        print(f'wrote {len(state)} tensors ({form} form, depths {args["arch"]["depths"]}, dims '
              f'{args["arch"]["dims"]}) to {dst}; skipped {len(skipped)} source keys')
    return meta


def main(argv: list[str] | None = None) -> int:
    """Run the conversion; return the exit status (1 with the reason on stderr)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='official UniRepLKNet checkpoint (.pth)')
    parser.add_argument('dst', help='output checkpoint (bocb_mm names)')
    parser.add_argument('--src-prefix', default='',
                        help="prefix of the backbone's keys in SRC ('backbone.' for the official "
                        'mmdet / mmseg checkpoints)')
    args = parser.parse_args(argv)
    try:
        convert(args.src, args.dst, args.src_prefix)
    except (ValueError, FileNotFoundError, IsADirectoryError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
