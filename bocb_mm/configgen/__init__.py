"""Config generation: the shipped configs written from the paper's tables and the two zoos.

* :mod:`~bocb_mm.configgen.pretrain`: CIFAR-100 and ImageNet-1K (``tools/gen_configs.py``);
* :mod:`~bocb_mm.configgen.transfer`: COCO detection and pose (``tools/gen_transfer_configs.py``);
* :mod:`~bocb_mm.configgen.tables`: the tables of ``bocb_mm/data/``, read and validated;
* :mod:`~bocb_mm.configgen.fragments`: the model, optimizer, wrapper and schedule pieces;
* :mod:`~bocb_mm.configgen.render` and :mod:`~bocb_mm.configgen.files`: config text (one
  renderer, one number formatter) and the generated files (:class:`Entry`, write, ``--check``).

A run's config by its pair::

    from bocb_mm import configgen
    configgen.cifar100_path('R-50', 'SGD-M')      # configs/cifar100/resnet50/...
    configgen.transfer_config_path('det:R-50 (SGD)', 'AdamW')
"""
from __future__ import annotations

from . import fragments, pretrain, tables, transfer
from .files import Entry
from .pretrain import cifar100_path, imagenet_path
from .render import Num, fmt_number, render


def transfer_config_path(column: str, optimizer: str) -> str:
    """The COCO config (repo-relative) of a transfer column and fine-tuning optimizer.

    Args:
        column: A column of ``bocb_mm/data/transfer.csv`` (``'det:R-50 (SGD)'``).
        optimizer: Any name the optimizer zoo accepts.

    Raises:
        KeyError: An unknown column (the message lists the known ones).
    """
    columns = {c.column: c for c in transfer.load_columns()}
    if column not in columns:
        raise KeyError(f'unknown transfer column {column!r}; known: {sorted(columns)}')
    return transfer.config_path(columns[column], optimizer)


__all__ = ['Entry', 'Num', 'cifar100_path', 'fmt_number', 'fragments', 'imagenet_path',
           'pretrain', 'render', 'tables', 'transfer', 'transfer_config_path']
