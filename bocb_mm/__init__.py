"""bocb_mm: the BOCB study (arXiv 2410.06373) on today's OpenMMLab stack.

Importing the package applies the stack fixes in :mod:`bocb_mm.compat` and registers the
optimizers, optimizer wrappers, constructors, hooks and backbones in the ``bocb_mm`` scope.
"""
from . import compat  # noqa: F401  (first: fixes the installed stack before anything loads)
from . import registry  # noqa: F401
from . import optim  # noqa: F401
from . import engine  # noqa: F401
from . import models  # noqa: F401
from .version import __version__

__all__ = ['__version__']
