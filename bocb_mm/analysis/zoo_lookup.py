"""Optimizer categories and orderings, looked up in the package's zoos (single source of truth).

The optimizer category comes only from :func:`bocb_mm.optim.zoo.get_info`, the name orders from
:func:`bocb_mm.optim.zoo.list_optimizers` and :func:`bocb_mm.models.zoo.list_backbones`; there is
no copy of these tables here and no fallback: a zoo that cannot be imported stops the analysis
with a :class:`RuntimeError` naming the cause. The zoos are imported inside the functions, so the
rest of :mod:`bocb_mm.analysis` imports without them.
"""
from __future__ import annotations

import importlib
import warnings
from types import ModuleType
from typing import Sequence

UNCATEGORIZED = 'uncategorized'
"""Category label given to an optimizer that the optimizer zoo does not know."""


_ZOOS = {'optimizers': 'bocb_mm.optim.zoo', 'backbones': 'bocb_mm.models.zoo'}


def _zoo(kind: str) -> ModuleType:
    """Import the optimizer or backbone zoo.

    Args:
        kind: ``'optimizers'`` or ``'backbones'``.

    Returns:
        The zoo module.

    Raises:
        ValueError: For another ``kind``.
        RuntimeError: If the zoo cannot be imported.
    """
    if kind not in _ZOOS:
        raise ValueError(f'unknown zoo {kind!r}; expected one of {sorted(_ZOOS)}')
    try:
        return importlib.import_module(_ZOOS[kind])
    except ImportError as err:
        raise RuntimeError(
            f'the analysis reads {kind} from {_ZOOS[kind]}, which could not be imported: '
            f'{type(err).__name__}: {err}') from err


def category_label(category: object) -> str:
    """Turn whatever ``get_info(name).category`` holds into a printable label.

    Args:
        category: A string, an enum member or any object.

    Returns:
        The label: the enum's ``value`` (or ``name``) when it has one, else ``str(category)``.
    """
    for attr in ('value', 'name'):
        val = getattr(category, attr, None)
        if isinstance(val, str):
            return val
    return str(category)


def optimizer_categories(names: Sequence[str]) -> dict[str, str]:
    """Look up the paper category of each optimizer in ``bocb_mm.optim.zoo``.

    Args:
        names: Optimizer names as they appear in the results.

    Returns:
        Mapping name -> category label; names the zoo does not know map to
        :data:`UNCATEGORIZED` (with a warning).

    Raises:
        RuntimeError: If ``bocb_mm.optim.zoo`` cannot be imported.
    """
    zoo = _zoo('optimizers')
    out: dict[str, str] = {}
    unknown: list[str] = []
    for name in names:
        try:
            out[name] = category_label(zoo.get_info(name).category)
        except (KeyError, ValueError, LookupError):
            out[name] = UNCATEGORIZED
            unknown.append(name)
    if unknown:
        warnings.warn(f'optimizers unknown to bocb_mm.optim.zoo (category {UNCATEGORIZED!r}): '
                      f'{", ".join(unknown)}', stacklevel=2)
    return out


def category_order(categories: dict[str, str]) -> list[str]:
    """Order the category labels: sorted, with :data:`UNCATEGORIZED` last.

    Args:
        categories: Mapping optimizer -> category label.

    Returns:
        The distinct labels in display order.
    """
    labels = sorted(set(categories.values()) - {UNCATEGORIZED})
    if UNCATEGORIZED in categories.values():
        labels.append(UNCATEGORIZED)
    return labels


def order_like_zoo(names: Sequence[str], kind: str) -> list[str]:
    """Order names as the zoo lists them, unknown names after, in their data order.

    Only the order is taken from the zoo; the names themselves always come from the data.

    Args:
        names: Names found in the data, in order of first appearance.
        kind: ``'optimizers'`` or ``'backbones'``.

    Returns:
        The same names, reordered.

    Raises:
        ValueError: For an unknown ``kind``.
        RuntimeError: If the zoo cannot be imported.
    """
    zoo = _zoo(kind)
    ref = zoo.list_optimizers() if kind == 'optimizers' else zoo.list_backbones()
    pos = {str(n).lower(): i for i, n in enumerate(ref)}
    known = sorted((n for n in names if n.lower() in pos), key=lambda n: pos[n.lower()])
    return known + [n for n in names if n.lower() not in pos]
