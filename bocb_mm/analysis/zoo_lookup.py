"""Optimizer categories and orderings, looked up in the package's zoos (single source of truth).

The optimizer category comes only from :func:`bocb_mm.optim.zoo.get_info`; there is no copy of
the category table here. The zoos are imported lazily, inside the functions, so that the rest of
:mod:`bocb_mm.analysis` imports without them.
"""
from __future__ import annotations

import warnings
from typing import Dict, List, Optional, Sequence

UNCATEGORIZED = 'uncategorized'
"""Category label given to an optimizer that the optimizer zoo does not know."""


def _optim_zoo():
    """Import ``bocb_mm.optim.zoo`` lazily.

    Returns:
        The module.

    Raises:
        RuntimeError: If the zoo cannot be imported.
    """
    try:
        from bocb_mm.optim import zoo
    except Exception as err:  # noqa: BLE001 - any failure means the lookup is unavailable
        raise RuntimeError(
            'optimizer categories come from bocb_mm.optim.zoo.get_info, which could not be '
            f'imported: {type(err).__name__}: {err}') from err
    return zoo


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


def optimizer_categories(names: Sequence[str]) -> Dict[str, str]:
    """Look up the paper category of each optimizer in ``bocb_mm.optim.zoo``.

    Args:
        names: Optimizer names as they appear in the results.

    Returns:
        Mapping name -> category label; names the zoo does not know map to
        :data:`UNCATEGORIZED` (with a warning).

    Raises:
        RuntimeError: If ``bocb_mm.optim.zoo`` cannot be imported.
    """
    zoo = _optim_zoo()
    out: Dict[str, str] = {}
    unknown: List[str] = []
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


def category_order(categories: Dict[str, str]) -> List[str]:
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


def _zoo_names(kind: str) -> Optional[List[str]]:
    """Names listed by a zoo, or None when the zoo is not importable.

    Args:
        kind: ``'optimizers'`` or ``'backbones'``.

    Returns:
        The zoo's list of names, or None.
    """
    try:
        if kind == 'optimizers':
            from bocb_mm.optim.zoo import list_optimizers
            return [str(n) for n in list_optimizers()]
        from bocb_mm.models.zoo import list_backbones
        return [str(n) for n in list_backbones()]
    except Exception:  # noqa: BLE001 - ordering is cosmetic; data order is kept
        return None


def order_like_zoo(names: Sequence[str], kind: str) -> List[str]:
    """Order names as the zoo lists them, unknown names after, in their data order.

    Only the order is taken from the zoo; the names themselves always come from the data.

    Args:
        names: Names found in the data, in order of first appearance.
        kind: ``'optimizers'`` or ``'backbones'``.

    Returns:
        The same names, reordered.
    """
    ref = _zoo_names(kind)
    if not ref:
        return list(names)
    pos = {n.lower(): i for i, n in enumerate(ref)}
    known = sorted((n for n in names if n.lower() in pos), key=lambda n: pos[n.lower()])
    return known + [n for n in names if n.lower() not in pos]
