"""bocb_mm: the BOCB study (arXiv 2410.06373) on today's OpenMMLab stack.

Where torch and mmengine are installed, importing the package applies the stack fixes in
:mod:`bocb_mm.compat` and registers the optimizers, optimizer wrappers, constructors, hooks and
backbones in the ``bocb_mm`` scope (so ``custom_imports=dict(imports=['bocb_mm'])`` reaches them).
Without them (a plain scientific Python) it imports nothing more: :mod:`bocb_mm.analysis`
(numpy, pandas, scipy), the paper tables and the optimizer and backbone zoos
(:mod:`bocb_mm.optim.zoo`, :mod:`bocb_mm.models.zoo`) import and work.
"""
from __future__ import annotations

from .stack import STACK, stack_installed
from .version import __version__

if stack_installed():
    from . import compat  # noqa: F401  (first: fixes the installed stack before anything loads)
    from . import registry  # noqa: F401
    from . import optim  # noqa: F401
    from . import engine  # noqa: F401
    from . import models  # noqa: F401

__all__ = ['__version__', 'STACK', 'stack_installed']
