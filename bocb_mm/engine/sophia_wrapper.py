"""Optimizer wrappers that run SophiaG's periodic Hessian refresh inside mmengine's loop.

A config only swaps the wrapper type::

    optim_wrapper = dict(type='bocb_mm.SophiaOptimWrapper',
                         optimizer=dict(type='bocb_mm.SophiaG', lr=3e-4, rho=0.04),
                         hessian_interval=10)            # estimator='auto' by default

How it gets the batch: mmengine's ``BaseModel.train_step`` (and ``MMDistributedDataParallel``'s)
runs the training forward inside ``optim_wrapper.optim_context(model)``. When the coming
optimizer update is a refresh update, the wrapper's ``optim_context`` installs a forward pre-hook
on the (unwrapped) model for the duration of the context and keeps the arguments of that forward
(the data-preprocessed ``inputs`` / ``data_samples``) and the active autocast state. After the
optimizer update the wrapper re-runs the model on them, estimates the Hessian diagonal, folds it
into SophiaG's EMA with ``SophiaG.update_hessian()`` and puts the real gradients back. No hook has
to be added to the config, and nothing is kept between iterations that are not refresh updates.

Estimators (``estimator=``):

* ``'gnb'`` (Gauss-Newton-Bartlett, the official SophiaG): labels are sampled from the model's
  own softmax on the batch, the mean cross-entropy against them is back-propagated, and
  ``update_hessian()`` folds ``g * g``; the optimizer's ``bs`` is set to the global batch size
  (rows of logits x world size), so ``bs * EMA(g * g)`` estimates the Gauss-Newton diagonal of the
  mean loss. Needs class logits: an mmpretrain ``ImageClassifier`` (``mode='tensor'``) or any
  model whose forward returns a ``(..., num_classes)`` logits tensor.
* ``'hutchinson'``: ``h = u * (H u)`` with Rademacher ``u``, by double back-propagation of the
  training loss (``mode='loss'``), so it works for any loss (detection, pose). Negative entries
  are clamped to 0 before the EMA (SophiaG's clipped update then takes a sign step there, as
  ``max(gamma h, eps)`` does in the paper) and ``bs`` is set to 1 (``h`` is already the Hessian
  of the mean loss).
* ``'auto'`` (default): ``'gnb'`` for mmpretrain ``ImageClassifier``, ``'hutchinson'`` for every
  other model (mmdet detectors, mmpose estimators, ...).
"""
from __future__ import annotations

import contextlib
import weakref
from typing import Any, Callable, Iterator

import torch
import torch.nn.functional as F
from mmengine.dist import all_reduce_params, get_rank, get_world_size
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from torch import Tensor, nn

from bocb_mm.optim import SophiaG
from bocb_mm.registry import OPTIM_WRAPPERS

from ._utils import frozen_norm_statistics, optimizer_params, unwrap_model

__all__ = ['SophiaOptimWrapper', 'SophiaAmpOptimWrapper', 'SophiaMixin']

ESTIMATORS = ('auto', 'gnb', 'hutchinson')
_AUTOCAST_DEVICES = ('cuda', 'cpu', 'xpu', 'mps', 'npu')


def _autocast_state() -> list[tuple[str, torch.dtype]]:
    """The autocast contexts active right now, as ``[(device_type, dtype), ...]``."""
    out = []
    for dev in _AUTOCAST_DEVICES:
        try:
            if torch.is_autocast_enabled(dev):
                out.append((dev, torch.get_autocast_dtype(dev)))
        except (RuntimeError, TypeError, AttributeError):  # backend not built / old torch
            continue
    return out


def _is_image_classifier(model: nn.Module) -> bool:
    try:
        from mmpretrain.models import ImageClassifier
    except Exception:  # noqa: BLE001  (mmpretrain is optional here)
        return False
    return isinstance(model, ImageClassifier)


class _StepFlag:
    """Optimizer step post-hook that records that ``optimizer.step`` really ran.

    ``GradScaler.step`` skips ``optimizer.step`` on inf/NaN gradients; the refresh counts real
    updates only. Holds the wrapper weakly so the optimizer does not keep it alive.
    """

    def __init__(self, wrapper: 'SophiaMixin') -> None:
        self._wrapper = weakref.ref(wrapper)

    def __call__(self, optimizer, args, kwargs) -> None:
        wrapper = self._wrapper()
        if wrapper is not None:
            wrapper._stepped = True


class SophiaMixin:
    """Hessian-refresh logic shared by :class:`SophiaOptimWrapper` and
    :class:`SophiaAmpOptimWrapper` (put it before the mmengine wrapper in the bases)."""

    optimizer: SophiaG

    def _sophia_init(self, hessian_interval: int | None, estimator: str, auto_bs: bool,
                     seed: int | None) -> None:
        if not isinstance(self.optimizer, SophiaG):
            raise TypeError(f'{type(self).__name__} needs a bocb_mm.SophiaG optimizer (it calls '
                            f'update_hessian()), got {type(self.optimizer).__name__}; use '
                            "optimizer=dict(type='bocb_mm.SophiaG', ...)")
        if estimator not in ESTIMATORS:
            raise ValueError(f'Invalid estimator: {estimator!r}; expected one of {ESTIMATORS}')
        if hessian_interval is not None and (not isinstance(hessian_interval, int)
                                             or hessian_interval < 0):
            raise ValueError(f'Invalid hessian_interval: {hessian_interval!r}; expected an int '
                             '>= 1, or 0 / None to disable the Hessian refresh')
        self.hessian_interval = hessian_interval or 0
        self.optimizer.hessian_interval = self.hessian_interval  # its missing-refresh warning
        self.estimator = estimator
        self.auto_bs = auto_bs
        if seed is None:
            seed = torch.initial_seed()
        self.seed = int((seed + get_rank()) % (2**63))
        self._num_updates = 0  # optimizer updates done (skipped AMP steps not counted)
        self._num_refreshes = 0
        self._generators: dict[str, torch.Generator] = {}
        self._pending_generator_states: dict[str, Tensor] = {}
        self._captured: tuple | None = None
        self._stepped = False
        self._step_hook = self.optimizer.register_step_post_hook(_StepFlag(self))

    # ------------------------------------------------------------------ schedule
    @property
    def num_updates(self) -> int:
        """Optimizer updates so far (the refresh counter)."""
        return self._num_updates

    def refresh_due(self, update: int | None = None) -> bool:
        """Whether the Hessian is refreshed after optimizer update number ``update`` (1-based;
        default: the next update). The first refresh follows update ``hessian_interval``, as in
        the official script (``iter_num % k == k - 1`` with 0-based ``iter_num``)."""
        if update is None:
            update = self._num_updates + 1
        return self.hessian_interval > 0 and update % self.hessian_interval == 0

    # ------------------------------------------------------------------ batch capture
    @contextlib.contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        handle = None
        if self.refresh_due() and self.should_sync():  # this micro-batch ends a refresh update
            inner = unwrap_model(model)
            captured: dict[str, Any] = {}

            def capture(module: nn.Module, args: tuple, kwargs: dict) -> None:
                if not captured:
                    captured.update(model=module, args=args, kwargs=dict(kwargs),
                                    autocast=_autocast_state())

            handle = inner.register_forward_pre_hook(capture, with_kwargs=True)
        try:
            with super().optim_context(model):  # type: ignore[misc]
                yield
        finally:
            if handle is not None:
                handle.remove()
                if captured:
                    self._captured = (captured['model'],
                                      (captured['args'], captured['kwargs']),
                                      captured['autocast'])

    def set_hessian_closure(self, model: nn.Module, closure: Callable[[], Any]) -> None:
        """Give the next refresh its batch explicitly, for loops that do not run the training
        forward inside :meth:`optim_context` (or whose model returns neither logits nor
        losses): ``closure()`` re-runs ``model`` on the batch and returns the class logits
        (``'gnb'``) or the scalar loss (``'hutchinson'``). It runs under the autocast state
        active when this is called."""
        self._captured = (unwrap_model(model), closure, _autocast_state())

    # ------------------------------------------------------------------ update
    def step(self, **kwargs: Any) -> None:
        self._stepped = False
        super().step(**kwargs)  # type: ignore[misc]  (clip, AMP unscale/skip, optimizer.step)
        if not self._stepped:
            return
        self._num_updates += 1
        if self.refresh_due(self._num_updates):
            self.refresh_hessian()

    def refresh_hessian(self) -> None:
        """Estimate the Hessian diagonal on the captured batch and fold it into SophiaG's EMA.

        The real gradients are set aside during the estimate and restored afterwards.
        """
        if self._captured is None:
            raise RuntimeError(
                f'{type(self).__name__}: a Hessian refresh is due (update {self._num_updates}, '
                f'hessian_interval={self.hessian_interval}) but no batch was captured. The '
                'training forward must run inside `optim_wrapper.optim_context(model)` (as '
                "mmengine's BaseModel.train_step does), or call "
                '`optim_wrapper.set_hessian_closure(model, closure)` before the update.')
        model, call, autocast = self._captured
        self._captured = None
        params = optimizer_params(self.optimizer)
        estimates, bs = self.estimate_hessian(model, call, autocast, params, fold_form=True)
        if estimates is None:
            return
        saved = [p.grad for p in params]
        try:
            for p, e in zip(params, estimates):
                p.grad = e
            self.optimizer.update_hessian()
        finally:
            for p, g in zip(params, saved):
                p.grad = g
        if self.auto_bs:
            for group in self.optimizer.param_groups:
                group['bs'] = bs
        self._num_refreshes += 1

    # ------------------------------------------------------------------ estimators
    def resolve_estimator(self, model: nn.Module) -> str:
        """``'gnb'`` or ``'hutchinson'`` for ``model`` (``'auto'``: GNB for classifiers)."""
        if self.estimator != 'auto':
            return self.estimator
        return 'gnb' if _is_image_classifier(model) else 'hutchinson'

    def _generator(self, device: torch.device) -> torch.Generator:
        key = str(device)
        gen = self._generators.get(key)
        if gen is None:
            gen = torch.Generator(device=device)
            gen.manual_seed(self.seed)
            if key in self._pending_generator_states:
                gen.set_state(self._pending_generator_states.pop(key))
            self._generators[key] = gen
        return gen

    def _loss_scale(self) -> float:
        scaler = getattr(self, 'loss_scaler', None)
        if scaler is not None and getattr(scaler, 'is_enabled', lambda: True)():
            return float(scaler.get_scale())
        return 1.0

    def estimate_hessian(self, model: nn.Module,
                         call: tuple[tuple, dict] | Callable[[], Any],
                         autocast: list[tuple[str, torch.dtype]] | None = None,
                         params: list[Tensor] | None = None, fold_form: bool = False
                         ) -> tuple[list[Tensor | None] | None, float]:
        """One Hessian-diagonal estimate on a batch.

        ``call`` is either ``(args, kwargs)`` of a forward of ``model`` (as captured from the
        training forward; an mmengine model is re-run with ``mode='tensor'`` for GNB and with
        its captured ``mode='loss'`` for Hutchinson) or a closure returning logits / the loss.

        Returns ``(estimates, bs)`` aligned with ``params`` (None for parameters the loss does
        not reach): with ``fold_form=False`` each estimate is the diagonal itself (GNB:
        ``bs * g * g``; Hutchinson: ``u * Hu``), with ``fold_form=True`` it is the tensor ``e``
        whose ``e * e`` ``SophiaG.update_hessian()`` folds (GNB: ``g``; Hutchinson:
        ``sqrt(max(u * Hu, 0))``). ``(None, bs)`` when the (AMP) estimate was not finite.
        """
        if params is None:
            params = optimizer_params(self.optimizer)
        estimator = self.resolve_estimator(model)
        scale = self._loss_scale()
        with contextlib.ExitStack() as stack:
            for dev, dtype in autocast or ():
                stack.enter_context(torch.autocast(dev, dtype=dtype))
            stack.enter_context(torch.enable_grad())
            stack.enter_context(frozen_norm_statistics(model))
            if estimator == 'gnb':
                loss, rows = self._gnb_loss(model, call)
            else:
                loss, rows = self._training_loss(model, call), 1
        world = get_world_size()
        if estimator == 'gnb':
            grads = torch.autograd.grad(loss * scale, params, allow_unused=True)
            est: list[Tensor | None] = [None if g is None else g.detach() / scale
                                        for g in grads]
            bs = float(rows * world)
        else:
            est = self._hutchinson(loss * scale, params, scale)
            bs = 1.0
        present = [e for e in est if e is not None]
        if not present:
            raise RuntimeError(f'{type(self).__name__}: the {estimator} loss does not depend on '
                               'any optimized parameter')
        if world > 1:
            all_reduce_params(present, op='mean')
        finite = torch.stack([torch.isfinite(e).all() for e in present]).all()
        if not bool(finite):  # one host sync per refresh
            print_log(f'{type(self).__name__}: non-finite Hessian estimate at update '
                      f'{self._num_updates}; refresh skipped', logger='current', level=30)
            return None, bs
        if fold_form:
            if estimator == 'hutchinson':
                est = [None if e is None else e.clamp_min(0).sqrt_() for e in est]
        elif estimator == 'gnb':
            est = [None if e is None else e * e * bs for e in est]
        return est, bs

    def _gnb_loss(self, model: nn.Module, call: tuple | Callable) -> tuple[Tensor, int]:
        if callable(call):
            logits = call()
        else:
            args, kwargs = call
            if 'mode' in kwargs or _is_image_classifier(model):
                kwargs = {**kwargs, 'mode': 'tensor'}
            logits = model(*args, **kwargs)
        if not isinstance(logits, Tensor) or logits.ndim < 2 or not logits.is_floating_point():
            raise TypeError(
                f"{type(self).__name__}: estimator='gnb' needs class logits of shape "
                f'(..., num_classes) from the model (mode=\'tensor\'), got '
                f"{type(logits).__name__}; use estimator='hutchinson' for this model")
        logits = logits.float().reshape(-1, logits.shape[-1])
        with torch.no_grad():
            probs = torch.softmax(logits, dim=-1)
            labels = torch.multinomial(probs, 1, generator=self._generator(probs.device))
        return F.cross_entropy(logits, labels.squeeze(1)), logits.shape[0]

    def _training_loss(self, model: nn.Module, call: tuple | Callable) -> Tensor:
        if callable(call):
            out = call()
        else:
            args, kwargs = call
            out = model(*args, **kwargs)
        if isinstance(out, dict):
            if hasattr(model, 'parse_losses'):
                loss, _ = model.parse_losses(out)
            else:
                loss = sum(v for k, v in out.items() if 'loss' in k)
        else:
            loss = out
        if not isinstance(loss, Tensor) or loss.numel() != 1:
            raise TypeError(f"{type(self).__name__}: estimator='hutchinson' needs the model to "
                            f'return a scalar loss or a dict of losses, got {type(out).__name__}; '
                            'give a loss closure with `set_hessian_closure(model, closure)`')
        return loss.float().reshape(())

    def _hutchinson(self, loss: Tensor, params: list[Tensor],
                    scale: float) -> list[Tensor | None]:
        grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
        idx = [i for i, g in enumerate(grads) if g is not None and g.requires_grad]
        est: list[Tensor | None] = [None if g is None else torch.zeros_like(p)
                                    for p, g in zip(params, grads)]
        if not idx:
            return est
        us = []
        for i in idx:
            p = params[i]
            u = torch.empty_like(p).bernoulli_(0.5, generator=self._generator(p.device))
            us.append(u.mul_(2).sub_(1))
        try:
            hvs = torch.autograd.grad([grads[i] for i in idx], [params[i] for i in idx],
                                      grad_outputs=us, allow_unused=True)
        except RuntimeError as err:
            raise RuntimeError(f"{type(self).__name__}: estimator='hutchinson' needs double "
                               f'back-propagation through the loss, which failed: {err}') from err
        for i, u, hv in zip(idx, us, hvs):
            if hv is not None:
                est[i] = (u * hv.detach()).div_(scale)
        return est

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        state_dict = super().state_dict()  # type: ignore[misc]
        state_dict['sophia'] = dict(
            num_updates=self._num_updates,
            num_refreshes=self._num_refreshes,
            hessian_interval=self.hessian_interval,
            seed=self.seed,
            generators={k: g.get_state() for k, g in self._generators.items()},
        )
        return state_dict

    def load_state_dict(self, state_dict: dict) -> None:
        sophia = state_dict.pop('sophia', None)
        super().load_state_dict(state_dict)  # type: ignore[misc]
        if sophia is None:
            return
        self._num_updates = int(sophia['num_updates'])
        self._num_refreshes = int(sophia.get('num_refreshes', 0))
        self.seed = int(sophia.get('seed', self.seed))
        self._generators = {}
        self._pending_generator_states = dict(sophia.get('generators', {}))
        self._captured = None

    def __repr__(self) -> str:
        return (super().__repr__()  # type: ignore[misc]
                + f'\nhessian_interval={self.hessian_interval}, estimator={self.estimator!r}, '
                f'num_updates={self._num_updates}')


@OPTIM_WRAPPERS.register_module()
class SophiaOptimWrapper(SophiaMixin, OptimWrapper):
    """``OptimWrapper`` for :class:`bocb_mm.SophiaG` that refreshes its Hessian EMA every
    ``hessian_interval`` optimizer updates.

    Args:
        optimizer: A :class:`bocb_mm.SophiaG`.
        hessian_interval: Optimizer updates between Hessian refreshes (the official ``k``);
            0 or None disables the refresh (SophiaG then takes clipped sign steps). Default: 10.
        estimator: ``'auto'`` (GNB for classifiers, Hutchinson otherwise), ``'gnb'`` or
            ``'hutchinson'``. Default: ``'auto'``.
        auto_bs: Set SophiaG's ``bs`` at each refresh (GNB: global batch size; Hutchinson: 1).
            False keeps the configured ``bs``. Default: True.
        seed: Seed of the wrapper's own generator for label sampling / Rademacher vectors
            (saved in the state dict, so resuming is exact); None derives it from
            ``torch.initial_seed()`` (the Runner's seed). The rank is added. Default: None.
        **kwargs: ``accumulative_counts``, ``clip_grad`` of :class:`mmengine.optim.OptimWrapper`.
    """

    def __init__(self, optimizer: SophiaG, hessian_interval: int | None = 10,
                 estimator: str = 'auto', auto_bs: bool = True, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(optimizer=optimizer, **kwargs)
        self._sophia_init(hessian_interval, estimator, auto_bs, seed)


@OPTIM_WRAPPERS.register_module()
class SophiaAmpOptimWrapper(SophiaMixin, AmpOptimWrapper):
    """:class:`SophiaOptimWrapper` on top of mmengine's ``AmpOptimWrapper`` (same arguments plus
    ``loss_scale`` / ``dtype``). The Hessian forward runs under the same autocast as the training
    forward; its loss is multiplied by the current loss scale and the estimate divided by it (it
    is skipped when not finite), so the EMA sees unscaled values."""

    def __init__(self, optimizer: SophiaG, hessian_interval: int | None = 10,
                 estimator: str = 'auto', auto_bs: bool = True, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(optimizer=optimizer, **kwargs)
        self._sophia_init(hessian_interval, estimator, auto_bs, seed)

