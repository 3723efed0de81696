"""Turn a pre-training checkpoint into a backbone checkpoint for the COCO transfer configs.

    python tools/model_converters/bocb_to_transfer.py SRC DST [--config TRANSFER_CONFIG]
        [--src-prefix backbone.]

Most checkpoints need no conversion: an mmpretrain ``ImageClassifier`` checkpoint (bocb_mm's own
ImageNet runs, the OpenMMLab model zoo) already names its backbone ``backbone.*``, and the
transfer configs load it with ``init_cfg=dict(type='Pretrained', prefix='backbone.')``. This
tool is for the other cases:

* keys under another prefix (``--src-prefix ''`` for a timm / torchvision ResNet-50, e.g. the
  Adan authors' release; ``--src-prefix module.backbone.`` ...): they are renamed to
  ``backbone.*``;
* a CIFAR-stem backbone (bocb_mm's CIFAR-100 runs: ResNet-50's 3x3 stride-1 ``conv1``) put into
  an ImageNet-stem one (RetinaNet / TopDown ResNet-50: 7x7 ``conv1``): with ``--config``, a conv
  kernel smaller than the target's is zero-padded to the target size around its centre (the
  padded kernel computes the same filter, at the target's stride);
* smaller files: only the backbone is kept (no head, optimizer state or message hub).

DST must not be SRC (the same file once links are resolved): the tool refuses, since the
training checkpoint would be lost. DST is written to a temporary file next to it and renamed into
place, so an interrupted conversion never leaves a half-written DST.

With ``--config`` the backbone of that transfer config is built and every source tensor is
checked against it: the tool prints how many target tensors are filled, which are missing, which
source keys are dropped (absent from the target, e.g. VGG's classifier, or of another shape), and
stops if fewer than ``--min-match`` of the target's tensors would be loaded.
"""
from __future__ import annotations

import argparse
import os.path as osp
import sys
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import torch

from bocb_mm.cli.argtypes import existing_file, output_file
from bocb_mm.utils.fileio import atomic_write, refuse_same_file

PREFIX = 'backbone.'


def load_state_dict(path: str) -> Mapping[str, torch.Tensor]:
    """The tensors of a checkpoint (a Runner checkpoint's ``state_dict``, or a bare dict)."""
    import bocb_mm  # noqa: F401  (safe weights-only loading of Runner checkpoints)
    ckpt = torch.load(path, map_location='cpu', weights_only=True)
    for key in ('state_dict', 'model', 'module'):
        if isinstance(ckpt, dict) and isinstance(ckpt.get(key), dict):
            ckpt = ckpt[key]
            break
    return OrderedDict((k, v) for k, v in ckpt.items() if isinstance(v, torch.Tensor))


def extract_backbone(state: Mapping[str, torch.Tensor],
                     src_prefix: str = PREFIX) -> OrderedDict[str, torch.Tensor]:
    """Keys under ``src_prefix``, renamed to ``backbone.<rest>``."""
    out = OrderedDict()
    for key, value in state.items():
        if key.startswith(src_prefix):
            out[PREFIX + key[len(src_prefix):]] = value
    if not out:
        sample = ', '.join(list(state)[:5])
        raise ValueError(f'no key starts with {src_prefix!r} (first keys: {sample}); set '
                         '--src-prefix')
    return out


def pad_kernel(weight: torch.Tensor, shape: torch.Size) -> torch.Tensor | None:
    """``weight`` (out, in, kh, kw) zero-padded around its centre to ``shape``, or None when the
    two differ in anything but a smaller, odd kernel."""
    if (weight.ndim != 4 or len(shape) != 4 or tuple(weight.shape[:2]) != tuple(shape[:2])):
        return None
    (kh, kw), (th, tw) = weight.shape[2:], shape[2:]
    if kh > th or kw > tw or (th - kh) % 2 or (tw - kw) % 2 or (kh, kw) == (th, tw):
        return None
    out = weight.new_zeros(shape)
    top, left = (th - kh) // 2, (tw - kw) // 2
    out[:, :, top:top + kh, left:left + kw] = weight
    return out


def adapt_to(state: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor]
             ) -> tuple[OrderedDict[str, torch.Tensor], dict[str, Any]]:
    """Fit ``backbone.*`` tensors to a target backbone's ``state_dict`` (names without prefix).

    Returns:
        The adapted state dict (``backbone.*`` keys, only tensors the target has, with the
        target's shapes) and a report: ``loaded``, ``padded``, ``missing`` (target keys without
        a source tensor), ``dropped`` (source keys not loaded, with the reason).
    """
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    report: dict[str, Any] = dict(loaded=[], padded=[], missing=[], dropped={})
    for key, value in state.items():
        name = key[len(PREFIX):] if key.startswith(PREFIX) else key
        if name not in target:
            report['dropped'][key] = 'not in the target backbone'
            continue
        want = target[name].shape
        if value.shape == want:
            out[PREFIX + name] = value
            report['loaded'].append(name)
            continue
        padded = pad_kernel(value, want)
        if padded is None:
            report['dropped'][key] = f'shape {tuple(value.shape)} vs {tuple(want)}'
            continue
        out[PREFIX + name] = padded
        report['loaded'].append(name)
        report['padded'].append(f'{name}: {tuple(value.shape[2:])} -> {tuple(want[2:])}')
    report['missing'] = [n for n in target if n not in report['loaded']
                         and not n.endswith('num_batches_tracked')]
    return out, report


def target_backbone_state(config: str, cfg_options: dict | None = None
                          ) -> Mapping[str, torch.Tensor]:
    """``state_dict()`` of the backbone a transfer config builds (no weights are loaded)."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope, init_default_scope
    from mmengine.utils import import_modules_from_strings

    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg.custom_imports)
    scope = cfg.get('default_scope', 'mmengine')
    if DefaultScope.get_current_instance() is None or \
            DefaultScope.get_current_instance().scope_name != scope:
        init_default_scope(scope)
    from mmengine.registry import MODELS
    backbone_cfg = dict(cfg.model.backbone)
    backbone_cfg.pop('init_cfg', None)
    return MODELS.build(backbone_cfg).state_dict()


def convert(src: str, dst: str, config: str | None = None, src_prefix: str = PREFIX,
            min_match: float = 0.5, verbose: bool = True) -> dict[str, Any]:
    """Write ``dst``: ``{'state_dict': {backbone.*: tensor}, 'meta': {...}}``; return the report.

    Raises:
        ValueError: ``dst`` is ``src``, no key has ``src_prefix``, or too little of the target
            backbone would be loaded.
    """
    refuse_same_file(src, dst, what='output checkpoint')
    state = extract_backbone(load_state_dict(src), src_prefix)
    report: dict[str, Any] = dict(loaded=list(state), padded=[], missing=[], dropped={})
    if config:
        target = target_backbone_state(config)
        state, report = adapt_to(state, target)
        n_target = len(target)
        frac = len(report['loaded']) / max(n_target, 1)
        report['fraction'] = frac
        if verbose:
            print(f'{len(report["loaded"])} / {n_target} target tensors filled ({frac:.0%})')
            for line in report['padded']:
                print(f'  padded {line}')
            for key, why in list(report['dropped'].items())[:20]:
                print(f'  dropped {key}: {why}')
            if len(report['dropped']) > 20:
                print(f'  ... {len(report["dropped"]) - 20} more dropped')
            for key in report['missing'][:20]:
                print(f'  missing (left to the config\'s init) {key}')
        if frac < min_match:
            raise ValueError(f'only {frac:.0%} of the target backbone of {config} would be '
                             f'loaded from {src} (< {min_match:.0%}): wrong --src-prefix or '
                             'another architecture?')
    out = {'state_dict': state, 'meta': dict(source=osp.abspath(src), config=config,
                                             src_prefix=src_prefix, padded=report['padded'])}
    atomic_write(dst, lambda tmp: torch.save(out, tmp))
    if verbose:
        print(f'wrote {len(state)} tensors to {dst}')
    return report


def main(argv: list[str] | None = None) -> int:
    """Run the conversion; return the exit status (1 with the reason on stderr; 2, from
    argparse, for a path that is missing, a folder, or not writable)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', type=existing_file, help='pre-training checkpoint (.pth)')
    parser.add_argument('dst', type=output_file,
                        help='output checkpoint for init_cfg / $BOCB_PRETRAINED')
    parser.add_argument('--config', type=existing_file,
                        help='a transfer config (configs/coco_det|coco_pose/...) to '
                        'check and fit the tensors against')
    parser.add_argument('--src-prefix', default=PREFIX,
                        help="prefix of the backbone's keys in SRC ('' for timm/torchvision)")
    parser.add_argument('--min-match', type=float, default=0.5,
                        help='with --config: fail below this fraction of filled target tensors')
    args = parser.parse_args(argv)
    try:
        convert(args.src, args.dst, args.config, args.src_prefix, args.min_match)
    except (ValueError, FileNotFoundError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
