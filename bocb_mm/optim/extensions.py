"""Registration of the post-paper extension suite in the ``bocb_mm`` scope.

Each optimizer of :data:`bocb_mm.optim.extension_facts.EXTENSIONS` is its library's own class
(timm, pytorch_optimizer, schedulefree), registered in ``bocb_mm.registry.OPTIMIZERS`` as
``type='bocb_mm.<class_name>'``: building it through mmengine gives exactly the library's
optimizer. Two thin subclasses change nothing in the step: :class:`CautiousAdamW` only sets
timm's ``caution=True`` by default, and :class:`Kron` adds ``compile_kernels`` (False: timm's
preconditioner kernels run eagerly instead of through ``torch.compile``).

A library that is not installed does not fail the import: its optimizers are registered as a
builder that raises an ``ImportError`` naming the pinned pip package.
"""
from __future__ import annotations

import contextlib
import importlib
import inspect
from typing import Any, Callable, Iterator

import torch

from bocb_mm.optim.zoo import OptimizerInfo, get_info, list_optimizers, missing_library_message
from bocb_mm.registry import OPTIMIZERS

__all__ = ['registered_extensions', 'register_extensions']

try:
    from timm.optim.adamw import AdamWLegacy
except ImportError:  # timm missing: 'Cautious AdamW' gets the builder that names the package
    pass
else:
    __all__ += ['CautiousAdamW']

    class CautiousAdamW(AdamWLegacy):
        """timm's AdamW with the Cautious mask on by default (timm's ``'cadamw'``).

        Args:
            params: Parameters or parameter groups.
            lr: Learning rate.
            betas: Decay factors of the EMAs of the gradient and its square.
            eps: Added to the denominator.
            weight_decay: Decoupled weight decay.
            amsgrad: Normalise by the running maximum of the second moment.
            caution: Mask the update where it disagrees in sign with the gradient.
            corrected_weight_decay: Scale the decay by lr / max lr.
            maximize: Maximise the objective.
            foreach: Use the multi-tensor kernels.
            capturable: Keep the step on the device (CUDA graphs).
            clipping_threshold: Clip the update's RMS to this value.
        """

        def __init__(self, params: Any, lr: float = 1e-3,
                     betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                     weight_decay: float = 1e-2, amsgrad: bool = False, caution: bool = True,
                     corrected_weight_decay: bool = False, maximize: bool = False,
                     foreach: bool | None = None, capturable: bool = False,
                     clipping_threshold: float | None = None) -> None:
            super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                             amsgrad=amsgrad, caution=caution,
                             corrected_weight_decay=corrected_weight_decay, maximize=maximize,
                             foreach=foreach, capturable=capturable,
                             clipping_threshold=clipping_threshold)



@contextlib.contextmanager
def memoized_contraction_paths(cache: dict) -> Iterator[None]:
    """Within the block, ``torch.einsum`` reuses the contraction path opt_einsum found for an
    equation and operand shapes (kept in ``cache``) instead of searching it again.

    torch looks the path up through ``opt_einsum.contract_path`` at every call with three or more
    operands; the block replaces that function with a memoizing one and restores it afterwards.
    Nothing changes where opt_einsum is unavailable or disabled.

    Args:
        cache: ``{(equation, shapes, options): contract_path's result}``, kept by the caller.
    """
    backend = torch.backends.opt_einsum
    module = backend.get_opt_einsum() if backend.is_available() else None
    if module is None:
        yield
        return
    search = module.contract_path

    def contract_path(equation: str, *operands: Any, **options: Any) -> Any:
        key = (equation, tuple(tuple(op.shape) for op in operands), tuple(sorted(options.items())))
        if key not in cache:
            cache[key] = search(equation, *operands, **options)
        return cache[key]

    module.contract_path = contract_path
    try:
        yield
    finally:
        module.contract_path = search

try:
    from timm.optim import kron as timm_kron
except ImportError:  # timm missing: Kron gets the builder that names the package
    pass
else:
    __all__ += ['Kron']

    class Kron(timm_kron.Kron):
        """timm's Kron (PSGD with Kronecker-factored preconditioners), its kernels compiled or not.

        timm compiles the four preconditioner kernels with ``torch.compile(dynamic=False)``: one
        compilation per parameter shape at the first steps, tens of seconds on a CPU, and the
        inductor code of a conv kernel's einsum needs ``opt_einsum`` for a sane contraction
        order. ``compile_kernels=False`` runs the same functions eagerly (the same step; on small
        models and short runs, the faster choice). Every other argument is timm's.

        Eagerly, ``torch.einsum`` asks opt_einsum for the contraction path of every multi-operand
        contraction at every call (on a small CNN, two thirds of the step). The step memoizes
        those paths per equation and operand shapes (:func:`memoized_contraction_paths`): the
        same paths, so the same results, found once.

        Args:
            params: Parameters or parameter groups.
            *args: timm's positional arguments.
            compile_kernels: Compile the preconditioner kernels (timm's behaviour).
            **kwargs: timm's keyword arguments.
        """

        _KERNELS = ('_calc_A_and_conjB', '_q_terms', '_precond_grad', '_balance_Q')

        def __init__(self, params: Any, *args: Any, compile_kernels: bool = True,
                     **kwargs: Any) -> None:
            self.compile_kernels = compile_kernels
            super().__init__(params, *args, **kwargs)

        def _init_fns(self) -> None:
            super()._init_fns()
            if not getattr(self, 'compile_kernels', True):
                for kernel in self._KERNELS:
                    setattr(self, kernel, getattr(timm_kron, kernel))

        def step(self, closure: Callable[[], Any] | None = None) -> Any:
            """timm's step, with the contraction paths of its einsums memoized."""
            if '_einsum_paths' not in self.__dict__:  # also after unpickling
                self._einsum_paths: dict = {}
            with memoized_contraction_paths(self._einsum_paths):
                return super().step(closure)

    _timm_signature = inspect.signature(timm_kron.Kron)
    Kron.__signature__ = _timm_signature.replace(parameters=[
        *_timm_signature.parameters.values(),
        inspect.Parameter('compile_kernels', inspect.Parameter.KEYWORD_ONLY, default=True,
                          annotation=bool)])


def _missing(info: OptimizerInfo) -> Callable[..., Any]:
    """A builder that raises the clear error of a missing library."""

    def build(*args: Any, **kwargs: Any) -> Any:
        raise ImportError(missing_library_message(info.name, info.type, info.requirement or ''))

    build.__name__ = info.class_name
    return build


def _library_class(info: OptimizerInfo) -> type | None:
    """The library's class, or None if its library is not installed."""
    try:
        return getattr(importlib.import_module(info.module), info.class_name)
    except (ImportError, AttributeError):
        return None


def register_extensions() -> dict[str, bool]:
    """Register the extension suite in the ``bocb_mm`` scope (idempotent).

    Returns:
        Name -> whether its library is installed (False: registered as a builder that raises
        an ``ImportError`` naming the pip package).
    """
    installed = {}
    for name in list_optimizers('post-paper'):
        info = get_info(name)
        cls = _library_class(info)
        installed[name] = cls is not None
        OPTIMIZERS.register_module(name=info.class_name, module=cls or _missing(info),
                                   force=True)
    return installed


def registered_extensions() -> dict[str, bool]:
    """Name -> whether the extension optimizer's library is installed (as registered)."""
    return dict(_INSTALLED)


_INSTALLED = register_extensions()
