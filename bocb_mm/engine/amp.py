"""The AMP twin of an optim wrapper type, for ``tools/train.py --amp``.

mmengine's ``AmpOptimWrapper`` is the mixed-precision form of ``OptimWrapper``; bocb_mm's
:class:`~bocb_mm.engine.SophiaAmpOptimWrapper` is that of :class:`~bocb_mm.engine.SophiaOptimWrapper`.
``--amp`` swaps a config's wrapper for its twin, so it works on every shipped config; a wrapper
without a twin keeps a clear error.
"""
from __future__ import annotations

__all__ = ['AMP_TWINS', 'amp_wrapper_type']

#: Wrapper class name -> the class name of its AMP form (same scope).
AMP_TWINS: dict[str, str] = {
    'OptimWrapper': 'AmpOptimWrapper',
    'SophiaOptimWrapper': 'SophiaAmpOptimWrapper',
}


def amp_wrapper_type(wrapper: str) -> str | None:
    """The AMP form of the optim wrapper type ``wrapper``, keeping its scope prefix.

    Args:
        wrapper: A config's ``optim_wrapper.type``, e.g. ``'OptimWrapper'`` or
            ``'bocb_mm.SophiaOptimWrapper'``.

    Returns:
        ``wrapper`` itself when it already is an AMP wrapper, its twin (e.g.
        ``'bocb_mm.SophiaAmpOptimWrapper'``), or ``None`` when it has none.
    """
    scope, _, name = wrapper.rpartition('.')
    if name.startswith('Amp') or name in AMP_TWINS.values():
        return wrapper
    twin = AMP_TWINS.get(name)
    if twin is None:
        return None
    return f'{scope}.{twin}' if scope else twin
