"""Fail early, and helpfully, when a config's data set is not where the config says, or its
pre-trained checkpoint is missing or does not fit the model part it initialises."""
from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any, Iterator

# The data loaders each tool uses: training validates on val_dataloader; testing reads only
# test_dataloader (a person-box file or data root set for one is not needed by the other).
TRAIN_LOADERS = ('train_dataloader', 'val_dataloader')
TEST_LOADERS = ('test_dataloader',)
# below this fraction of the model part's tensors filled from the checkpoint, it is an error
MIN_PRETRAINED_FIT = 0.5
CONVERT_HINT = ('convert it with  python tools/model_converters/bocb_to_transfer.py SRC DST '
                '--config {config}  (it keeps the backbone, zero-pads a CIFAR-stem 3x3 conv1 to '
                "the ImageNet stem's 7x7 and lists what does not fit; docs/transfer.md, "
                '"Converting a checkpoint")')

_COCO_HOW = ('see docs/datasets.md ("COCO 2017"), or write a small synthetic one with  python '
             'tools/dataset_converters/prepare_coco.py --synthetic 8 4 --out DIR; the bocb_mm '
             'COCO configs read the root from the environment: BOCB_COCO_ROOT=/path/to/coco')
# What each dataset class expects on disk, and how to get it (see docs/datasets.md).
_HOW_TO_GET = {
    'CIFAR100': ('<data_root>/cifar-100-python/{train,test,meta} (the python pickles)',
                 'python tools/dataset_converters/prepare_cifar.py --dataset cifar100 '
                 '--out <data_root>  (downloads the official archive), or place it by hand'),
    'CIFAR10': ('<data_root>/cifar-10-batches-py/',
                'python tools/dataset_converters/prepare_cifar.py --dataset cifar10 --out <data_root>'),
    'ImageNet': ('<data_root>/{train,val}/<class>/*.JPEG and meta/{train,val}.txt',
                 'see docs/datasets.md ("ImageNet-1K")'),
    'CocoDataset': ('<data_root>/annotations/instances_{train,val}2017.json and '
                    '<data_root>/{train,val}2017/*.jpg', _COCO_HOW),
    'CocoDataset@mmpose': ('<data_root>/annotations/person_keypoints_{train,val}2017.json and '
                           '<data_root>/{train,val}2017/*.jpg', _COCO_HOW),
}


class DataNotFoundError(FileNotFoundError):
    """A config points at a data set (or pre-trained checkpoint) that is not on disk."""


class CheckpointMismatchError(DataNotFoundError):
    """A pre-trained checkpoint exists but does not fit the model part it initialises."""


class PretrainedFitWarning(UserWarning):
    """A pre-trained checkpoint fits, but leaves some tensors of the model part unloaded."""


def _datasets(cfg: Any, loaders: tuple[str, ...]) -> Iterator[tuple[str, dict]]:
    for key in loaders:
        loader = cfg.get(key)
        if not loader:
            continue
        dataset = loader.get('dataset', {})
        while 'dataset' in dataset:  # RepeatDataset, ClassBalancedDataset, ...
            dataset = dataset['dataset']
        yield key, dataset


def check_data_roots(cfg: Any, loaders: tuple[str, ...] = TRAIN_LOADERS,
                     pretrained: bool = True) -> None:
    """Raise :class:`DataNotFoundError` naming the expected layout if a data root is missing.

    Args:
        cfg: an mmengine ``Config`` (or dict) with ``*_dataloader.dataset.data_root``.
        loaders: the data loaders to check: those the tool uses (:data:`TRAIN_LOADERS` for
            training, :data:`TEST_LOADERS` for testing); ``None`` ones are skipped.
        pretrained: also check the model's ``Pretrained`` checkpoints (:func:`check_pretrained`);
            training needs them, testing does not (it loads the whole fine-tuned model).
    """
    scope = cfg.get('default_scope')
    for key, dataset in _datasets(cfg, loaders):
        root = dataset.get('data_root')
        ann = dataset.get('ann_file')
        paths = [Path(root)] if root else []
        if root and ann and not Path(ann).is_absolute():
            paths.append(Path(root) / ann)
        missing = [p for p in paths if not p.exists()]
        bbox_file = dataset.get('bbox_file')
        if not missing and bbox_file and not Path(bbox_file).exists():
            raise DataNotFoundError(
                f'{key}: person detection results not found at {bbox_file} (TopDown evaluates '
                'on detected person boxes). Get them as docs/datasets.md ("COCO 2017") says, or '
                f'evaluate on ground-truth boxes: --cfg-options {key}.dataset.bbox_file=None')
        if not missing:
            continue
        dtype = str(dataset.get('type', '?')).split('.')[-1]
        layout, how = _HOW_TO_GET.get(f'{dtype}@{scope}', _HOW_TO_GET.get(dtype, ('', '')))
        msg = f'{key}: {dtype} data not found at {missing[0]!s}.'
        if layout:
            msg += f'\n  Expected layout: {layout}\n  How to get it: {how}'
        msg += ('\n  Point the config elsewhere with '
                f'--cfg-options {key}.dataset.data_root=/path/to/data')
        raise DataNotFoundError(msg)
    if pretrained:
        check_pretrained(cfg)


def _init_cfgs(node: Any, path: str = 'model') -> Iterator[tuple[str, dict, dict]]:
    """``(path, owner config, init_cfg)`` for every ``init_cfg`` dict in a (nested) model
    config; ``path`` names the owner (``model.backbone``)."""
    if isinstance(node, dict):
        init = node.get('init_cfg')
        for item in init if isinstance(init, list) else [init]:
            if isinstance(item, dict):
                yield path, node, item
        for key, value in node.items():
            yield from _init_cfgs(value, f'{path}.{key}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _init_cfgs(value, f'{path}.{i}')


def check_pretrained(cfg: Any, fit: bool = True) -> None:
    """Raise when a model's ``Pretrained`` init points at a local file that is missing or does
    not fit.

    mmengine only notices a missing file at ``init_weights`` time, after the data sets were
    built, and loads a checkpoint of another layout with ``strict=False``: tensors of another
    shape (e.g. a CIFAR-stem 3x3 ``conv1`` for an ImageNet-stem 7x7 one) stay randomly
    initialised, with one log line to show for it. A URL (which mmengine downloads and caches)
    is left alone.

    Args:
        cfg: an mmengine ``Config`` (or dict) with ``model``.
        fit: also build each initialised model part and compare it with the checkpoint
            (:func:`check_pretrained_fit`).

    Raises:
        DataNotFoundError: a checkpoint file is missing.
        CheckpointMismatchError: a checkpoint does not fit (see :func:`check_pretrained_fit`).
    """
    for path, owner, init in _init_cfgs(cfg.get('model', {})):
        ckpt = init.get('checkpoint')
        if init.get('type') != 'Pretrained' or not isinstance(ckpt, str) or '://' in ckpt:
            continue
        if not Path(ckpt).is_file():
            raise DataNotFoundError(
                f'pre-trained checkpoint not found: {ckpt} ({path}.init_cfg). Point the config '
                'at one: BOCB_PRETRAINED=/path/to/backbone.pth, or --cfg-options '
                f'{path}.init_cfg.checkpoint=/path/to/backbone.pth. A bocb_mm pre-training run '
                '(tools/train.py on a configs/cifar100 or configs/imagenet config) writes '
                'epoch_N.pth; a CIFAR-100 one must be converted first: python '
                'tools/model_converters/bocb_to_transfer.py work_dirs/<run>/epoch_N.pth '
                f'backbone.pth --config {_config_name(cfg)} (docs/transfer.md)')
        if fit:
            check_pretrained_fit(cfg, path, owner, init)


def _config_name(cfg: Any) -> str:
    return getattr(cfg, 'filename', None) or 'CONFIG'


def build_part(cfg: Any, part_cfg: dict) -> Any:
    """Build a model part (``model.backbone``...) of a config, without its ``init_cfg``, in
    the config's default scope and after its ``custom_imports``."""
    from mmengine.registry import MODELS, DefaultScope
    from mmengine.utils import import_modules_from_strings
    if cfg.get('custom_imports'):
        import_modules_from_strings(**cfg['custom_imports'])
    part_cfg = copy.deepcopy(dict(part_cfg))
    part_cfg.pop('init_cfg', None)
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope')):
        return MODELS.build(part_cfg)


def compare_state(model: dict, ckpt: dict) -> dict[str, list]:
    """How a checkpoint's tensors fill a module's ``state_dict`` (both without prefix).

    Returns:
        ``loaded`` (model keys filled), ``mismatched`` (``'key: checkpoint shape vs model
        shape'``), ``missing`` (model keys the checkpoint lacks; ``num_batches_tracked``
        ignored) and ``unexpected`` (checkpoint keys the model lacks).
    """
    out: dict[str, list] = dict(loaded=[], mismatched=[], missing=[], unexpected=[])
    for key, value in model.items():
        if key.endswith('num_batches_tracked'):
            continue
        if key not in ckpt:
            out['missing'].append(key)
        elif tuple(ckpt[key].shape) != tuple(value.shape):
            out['mismatched'].append(f'{key}: checkpoint {tuple(ckpt[key].shape)} vs model '
                                     f'{tuple(value.shape)}')
        else:
            out['loaded'].append(key)
    out['unexpected'] = [k for k in ckpt if k not in model]
    return out


def _listing(items: list[str], limit: int = 10) -> str:
    more = f', ... ({len(items) - limit} more)' if len(items) > limit else ''
    return ', '.join(items[:limit]) + more


def check_pretrained_fit(cfg: Any, path: str, part_cfg: dict, init: dict) -> dict[str, list]:
    """Compare a ``Pretrained`` checkpoint with the model part it initialises.

    The part is built as the config builds it and the checkpoint read as mmengine's
    ``PretrainedInit`` reads it (``prefix`` stripped).

    Args:
        cfg: the config (default scope, custom imports, file name for the messages).
        path: the part's name in the config (``model.backbone``).
        part_cfg: the part's config.
        init: its ``Pretrained`` init_cfg (``checkpoint``, optional ``prefix``).

    Returns:
        The comparison (:func:`compare_state`). Model tensors the checkpoint lacks, and
        checkpoint tensors the model lacks, are listed in a :class:`PretrainedFitWarning`.

    Raises:
        CheckpointMismatchError: a tensor of the checkpoint has another shape than the model's,
            or less than :data:`MIN_PRETRAINED_FIT` of the part's tensors would be filled.
    """
    from mmengine.runner.checkpoint import _load_checkpoint, _load_checkpoint_with_prefix
    ckpt, prefix = init['checkpoint'], init.get('prefix')
    hint = CONVERT_HINT.format(config=_config_name(cfg))
    try:
        if prefix:
            state = _load_checkpoint_with_prefix(prefix, ckpt, map_location='cpu')
        else:
            state = _load_checkpoint(ckpt, map_location='cpu')
            state = state.get('state_dict', state)
    except AssertionError as err:  # no key under the prefix
        raise CheckpointMismatchError(f'pre-trained checkpoint {ckpt}: {err} ({path}.init_cfg '
                                      f"prefix={prefix!r}); {hint}") from None
    model = build_part(cfg, part_cfg).state_dict()
    report = compare_state(model, state)
    n_model = sum(not k.endswith('num_batches_tracked') for k in model)
    frac = len(report['loaded']) / max(n_model, 1)
    where = f'{path} ({part_cfg.get("type")})'
    if report['mismatched'] or frac < MIN_PRETRAINED_FIT:
        raise CheckpointMismatchError(
            f'pre-trained checkpoint {ckpt} does not fit {where}: {len(report["loaded"])} of '
            f'{n_model} tensors would load ({frac:.0%}); of another shape: '
            f'{_listing(report["mismatched"]) or "none"}; missing: '
            f'{_listing(report["missing"]) or "none"}. mmengine would leave these at their '
            f'random initialisation. If it is a bocb_mm pre-training checkpoint, {hint}')
    if report['missing']:
        warnings.warn(f'pre-trained checkpoint {ckpt} leaves {len(report["missing"])} of '
                      f'{n_model} tensors of {where} NOT LOADED (initialised by the model): '
                      f'{_listing(report["missing"], 30)}', PretrainedFitWarning, stacklevel=2)
    if report['unexpected']:
        warnings.warn(f'pre-trained checkpoint {ckpt}: {len(report["unexpected"])} tensors under '
                      f'prefix {prefix!r} are not in {where} and are ignored: '
                      f'{_listing(report["unexpected"])}', PretrainedFitWarning, stacklevel=2)
    return report
