"""Fail early, and helpfully, when a config's data set is not where the config says, or its
pre-trained checkpoint is missing or does not fit the model part it initialises."""
from __future__ import annotations

import copy
import json
import os
import os.path as osp
import pickle
import warnings
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import numpy as np

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
                'python tools/dataset_converters/prepare_cifar.py --dataset cifar10 '
                '--out <data_root>'),
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


class DataContentError(DataNotFoundError):
    """A data set is on disk but unreadable, empty, or holds values training cannot use."""


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
    """Raise :class:`DataNotFoundError` naming the expected layout if a data root is missing,
    and :class:`DataContentError` if a found data set is unusable (:func:`check_contents`).

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
            check_contents(cfg, key, dataset)
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


class CifarLayout(NamedTuple):
    """Where mmpretrain's ``CIFAR10`` / ``CIFAR100`` (and their subclasses) read a split."""

    folder: str
    files: dict[str, tuple[str, ...]]
    num_classes: int


CIFAR_LAYOUTS = {
    'CIFAR100': CifarLayout('cifar-100-python', {'train': ('train',), 'test': ('test',)}, 100),
    'CIFAR10': CifarLayout('cifar-10-batches-py',
                           {'train': tuple(f'data_batch_{i}' for i in range(1, 6)),
                            'test': ('test_batch',)}, 10),
}
CIFAR_ROW = 3 * 32 * 32  # values per image row of a CIFAR pickle (CHW)
# files checked in this process: (path, size, mtime, ...) -> what the check found
_CHECKED: dict[tuple, int] = {}


def _type_name(dataset: dict) -> str:
    return str(dataset.get('type', '?')).split('.')[-1]


def _stat_key(path: str, *extra: Any) -> tuple:
    stat = os.stat(path)
    return (osp.abspath(path), stat.st_size, stat.st_mtime_ns, *extra)


def _under(root: str | None, path: str) -> str:
    return path if osp.isabs(path) or not root else osp.join(root, path)


def check_contents(cfg: Any, key: str, dataset: dict) -> None:
    """Check what a found data set holds, for the data sets whose files this module knows.

    CIFAR (mmpretrain's ``CIFAR10`` / ``CIFAR100`` and the bocb_mm readers of that format):
    :func:`check_cifar` on the loader's split; COCO (mmdet's and mmpose's ``CocoDataset``):
    :func:`check_coco`. Other data sets are left to their readers.

    Args:
        cfg: The config (the model's ``head.num_classes`` bounds the labels).
        key: The data loader (``train_dataloader``), for the messages.
        dataset: Its (innermost) dataset config.

    Raises:
        DataNotFoundError: a file the data set lists is missing.
        DataContentError: a file is unreadable, a split empty, or a value unusable.
    """
    dtype = _type_name(dataset)
    layout = next((CIFAR_LAYOUTS[name] for name in CIFAR_LAYOUTS if dtype.endswith(name)), None)
    if layout is not None:
        prefix = dataset.get('data_prefix') or ''
        root = _under(dataset.get('data_root'), prefix if isinstance(prefix, str) else '')
        bounds = _class_bounds(cfg, key, dataset, layout)
        check_cifar(root, dataset.get('split', 'train'), layout, bounds, key)
    elif dtype == 'CocoDataset' and str(dataset.get('ann_file', '')).endswith('.json'):
        prefix = dataset.get('data_prefix') or {}
        images = _under(dataset.get('data_root'), prefix.get('img', '')
                        if isinstance(prefix, dict) else '')
        check_coco(_under(dataset.get('data_root'), dataset['ann_file']), images, key)


def _class_bounds(cfg: Any, key: str, dataset: dict, layout: CifarLayout) -> list[tuple[int, str]]:
    """``(number of classes, where it comes from)`` of the data set and of the model's head."""
    classes = (dataset.get('metainfo') or {}).get('classes')
    bounds = [(len(classes), f'{key}.dataset.metainfo.classes') if classes else
              (layout.num_classes, f'the classes of {_type_name(dataset)}')]
    head = (cfg.get('model') or {}).get('head')
    if isinstance(head, dict) and isinstance(head.get('num_classes'), int):
        bounds.append((head['num_classes'], 'model.head.num_classes'))
    return bounds


def check_cifar(root: str, split: str, layout: CifarLayout,
                bounds: list[tuple[int, str]], key: str = 'dataset') -> int:
    """Check a CIFAR split before training reads it; return its number of images.

    mmpretrain's reader takes whatever the pickles hold: a label outside the classes is scored
    as a wrong answer (or fails in the loss), a NaN pixel makes the loss NaN (a run that looks
    diverged), an empty split fails in the evaluator after a whole epoch, and a truncated file
    fails with an unpickling error that does not name it.

    Args:
        root: The folder holding ``layout.folder``.
        split: ``'train'`` or ``'test'``.
        layout: The format's folder and file names (:data:`CIFAR_LAYOUTS`).
        bounds: ``(number of classes, its source)``: every label must be below the smallest.
        key: The data loader, for the messages.

    Raises:
        DataNotFoundError: a file of the split is missing.
        DataContentError: a file is unreadable, the split empty, a label outside
            ``[0, classes)``, or a pixel value not finite.
    """
    if split not in layout.files:
        return 0  # the reader refuses it, naming the splits it knows
    bound, source = min(bounds)
    folder = osp.join(root, layout.folder)
    total = 0
    for name in layout.files[split]:
        path = osp.join(folder, name)
        if not osp.isfile(path):
            raise DataNotFoundError(f'{key}: CIFAR file {path} of the {split!r} split not found '
                                    f'({layout.folder}/ holds {_listing(_all_files(layout))})')
        cache = _stat_key(path, bound)
        if cache not in _CHECKED:
            _CHECKED[cache] = _check_cifar_file(path, bound, source, key)
        total += _CHECKED[cache]
    if not total:
        raise DataContentError(f'{key}: the {split!r} split at {folder} holds no images')
    return total


def _all_files(layout: CifarLayout) -> list[str]:
    return [name for files in layout.files.values() for name in files]


def _read_pickle(path: str, key: str) -> Any:
    try:
        with open(path, 'rb') as f:
            return pickle.load(f, encoding='latin1')
    except Exception as err:  # noqa: BLE001 - any reader error means the file is unusable
        reason = f'{type(err).__name__}: {err}'.strip().rstrip(':')
        raise DataContentError(f'{key}: CIFAR file {path} is truncated or damaged ({reason}); '
                               'write it again') from None


def _check_cifar_file(path: str, bound: int, source: str, key: str) -> int:
    """Check one CIFAR pickle (see :func:`check_cifar`); return its number of images."""
    entry = _read_pickle(path, key)
    # mmpretrain's reader: 'labels' (CIFAR-10), else 'fine_labels' (CIFAR-100)
    labels_key = 'labels' if isinstance(entry, dict) and 'labels' in entry else 'fine_labels'
    if not isinstance(entry, dict) or 'data' not in entry or labels_key not in entry:
        found = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
        raise DataContentError(f'{key}: CIFAR file {path} holds no "data" and "labels" or '
                               f'"fine_labels" (found {found})')
    data, labels = np.asarray(entry['data']), np.asarray(entry[labels_key])
    where = f'{key}: CIFAR file {path}'
    if labels.ndim != 1 or data.size != len(labels) * CIFAR_ROW or data.dtype.kind not in 'uif':
        raise DataContentError(f'{where}: {data.size} {data.dtype} pixel values for '
                               f'{labels.size} labels ({CIFAR_ROW} numbers per 32x32 RGB image)')
    if labels.size and labels.dtype.kind not in 'iu':
        raise DataContentError(f'{where}: labels are {labels.dtype}, not integers')
    bad = np.flatnonzero((labels < 0) | (labels >= bound))
    if bad.size:
        raise DataContentError(
            f'{where}: {bad.size} of {labels.size} labels are outside [0, {bound}) ({source}), '
            f'e.g. {labels[bad[0]]} at image {bad[0]}')
    if data.dtype.kind == 'f':
        broken = np.flatnonzero(~np.isfinite(data.reshape(len(labels), -1)).all(axis=1))
        if broken.size:
            raise DataContentError(f'{where}: {broken.size} of {labels.size} images hold NaN or '
                                   f'infinite pixel values, e.g. image {broken[0]}')
    return int(labels.size)


def check_coco(ann_file: str, image_dir: str, key: str = 'dataset') -> int:
    """Check a COCO annotation file against its images; return the number of images listed.

    mmdet and mmpose read the image files only when a batch needs them, so a missing one stops
    training at its first load, and mmdet drops a box of negative width or height without a
    word (COCO boxes are ``[x, y, width, height]``; a negative extent is a writer's mistake, such
    as corners stored as ``[x1, y1, x2, y2]`` with ``x2 < x1``, and is refused here).

    Args:
        ann_file: The annotation json.
        image_dir: The folder its ``file_name`` entries are relative to.
        key: The data loader, for the messages.

    Raises:
        DataNotFoundError: images listed in the annotations are not in ``image_dir`` (the first
            few are named, and the count).
        DataContentError: the file is not readable json, or boxes have a negative extent.
    """
    cache = _stat_key(ann_file, image_dir, osp.isdir(image_dir) and os.stat(image_dir).st_mtime_ns)
    if cache in _CHECKED:
        return _CHECKED[cache]
    try:
        with open(ann_file, encoding='utf-8') as f:
            coco = json.load(f)
    except (OSError, ValueError) as err:
        raise DataContentError(f'{key}: COCO annotation file {ann_file} is truncated or not '
                               f'json ({err})') from None
    if not isinstance(coco, dict):
        raise DataContentError(f'{key}: {ann_file} is not a COCO annotation file (a json object '
                               f'with "images" and "annotations"; found a {type(coco).__name__})')
    images = coco.get('images') or []
    missing = _missing_images(image_dir, [str(im.get('file_name')) for im in images])
    if missing:
        raise DataNotFoundError(
            f'{key}: {len(missing)} of {len(images)} images listed in {ann_file} are not in '
            f'{image_dir}: {_listing(missing, 5)} (training would stop at the first it loads; '
            'put them there, or leave them out of the annotations)')
    bad = [a for a in (coco.get('annotations') or []) if _negative_extent(a.get('bbox'))]
    if bad:
        shown = [f'annotation {a.get("id")} (image {a.get("image_id")}): bbox {a["bbox"]}'
                 for a in bad]
        raise DataContentError(
            f'{key}: {len(bad)} boxes in {ann_file} have a negative width or height (COCO boxes '
            f'are [x, y, width, height]): {_listing(shown, 5)}')
    _CHECKED[cache] = len(images)
    return len(images)


def _missing_images(image_dir: str, names: list[str]) -> list[str]:
    """The names not found under ``image_dir`` (one listing of it, not one look-up per image)."""
    present = set(os.listdir(image_dir)) if osp.isdir(image_dir) else set()
    nested = ('/' in n or osp.isabs(n) for n in names)
    return [n for n, deep in zip(names, nested)
            if not (n in present or (deep and osp.isfile(_under(image_dir, n))))]


def _negative_extent(bbox: Any) -> bool:
    return (isinstance(bbox, (list, tuple)) and len(bbox) == 4
            and all(isinstance(v, (int, float)) for v in bbox) and min(bbox[2], bbox[3]) < 0)


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
