"""The BOCB parameter policy as an mmengine optimizer-wrapper constructor.

One rule for all 20 optimizers of the study: biases and normalisation-layer parameters get no
weight decay and no layer-wise adaptation (LARS / LAMB trust ratio); optionally also every other
1-d parameter and the token/position embeddings. Unlike mmengine's
``DefaultOptimWrapperConstructor`` with a ``paramwise_cfg`` (one param group per tensor: 161 for
ResNet-50), parameters that share settings share a group, so multi-tensor (``foreach``) steps
stay batched: 2 groups for ResNet-50 / DeiT-S without ``custom_keys``.

Config::

    optim_wrapper = dict(
        type='OptimWrapper',
        optimizer=dict(type='bocb_mm.LAMB', lr=5e-3, weight_decay=0.02),
        constructor='bocb_mm.BOCBOptimWrapperConstructor',
        paramwise_cfg=dict(                   # all optional
            no_decay_1d=False,                # also every ndim <= 1 param and the embeddings
            no_decay_keys=(),                 # extra name substrings with no decay / adaptation
            custom_keys={'backbone': dict(lr_mult=0.1)},
        ))

Norm layers are found by module type: ``_BatchNorm`` (incl. SyncBN), ``_InstanceNorm``,
``GroupNorm``, ``LayerNorm``, mmpretrain's ``LayerNorm2d`` and any module whose class name ends
with ``Norm`` or ``Norm2d``. A bias is a parameter whose own name is ``bias``.

Exclusion from layer-wise adaptation uses the optimizers' own rule (bocb_mm ``LARS`` / ``LAMB``,
timm semantics: the trust ratio applies where ``weight_decay != 0`` or ``always_adapt``): an
excluded group gets ``weight_decay=0`` and, for optimizers that take it, ``always_adapt=False``.
Every group also carries ``trust_exclude`` (True / False: excluded from decay and adaptation).
No optimizer reads it (the exclusion itself is ``weight_decay`` / ``always_adapt``, which LARS /
LAMB read); it marks the groups as built by this constructor for
:mod:`bocb_mm.engine.conventions` (whose policy checks skip them: their ``paramwise_cfg`` is the
config's decision) and :mod:`bocb_mm.engine.audit`, and it is every other key of a group that the
optimizer does not take.

``custom_keys`` follow mmengine (the longest matching name substring wins; ``lr_mult``,
``decay_mult`` and any other optimizer option of the group) with one difference: a key that does
not set ``decay_mult`` keeps the policy's decision, so ``custom_keys={'backbone':
dict(lr_mult=0.1)}`` does not put weight decay back on backbone biases. A key may set
``no_decay=True/False`` to override the policy for the parameters it matches.

With ``bocb_mm.Muon`` every group also carries ``use_fallback`` (the flag timm's Muon reads):
the routing of :mod:`bocb_mm.engine.muon_routing` (hidden matrices and conv kernels to Muon;
input layer, depthwise kernels, head, tokens, norms and biases to the AdamW fallback), changed
with ``paramwise_cfg=dict(muon_routing=dict(head='muon', ...))``.
"""
from __future__ import annotations

import inspect
from typing import Any

import torch
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from torch import nn
from torch.nn import GroupNorm, LayerNorm
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.instancenorm import _InstanceNorm

from bocb_mm.registry import OPTIM_WRAPPER_CONSTRUCTORS

__all__ = ['BOCBOptimWrapperConstructor', 'is_norm_module', 'EMBEDDING_KEYS']

_NORM_TYPES: tuple[type, ...] = (_BatchNorm, _InstanceNorm, GroupNorm, LayerNorm)
try:  # mmpretrain's channels-first LayerNorm (also caught by the name rule)
    from mmpretrain.models.utils import LayerNorm2d
    _NORM_TYPES += (LayerNorm2d,)
except Exception:  # noqa: BLE001
    pass

#: Parameter-name endings treated as embeddings by ``no_decay_1d``.
EMBEDDING_KEYS = ('pos_embed', 'cls_token', 'dist_token', 'mask_token', 'reg_token',
                  'absolute_pos_embed', 'relative_position_bias_table', 'pos_embedding',
                  'position_embedding', 'register_tokens')

_KNOWN_OPTIONS = {'no_decay_1d', 'no_decay_keys', 'custom_keys', 'norm_decay_mult',
                  'bias_decay_mult', 'muon_routing'}


def is_norm_module(module: nn.Module) -> bool:
    """Normalisation layer by type, or by a class name ending with ``Norm`` / ``Norm2d``."""
    name = type(module).__name__
    return isinstance(module, _NORM_TYPES) or name.endswith('Norm') or name.endswith('Norm2d')


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class BOCBOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Optimizer-wrapper constructor with the BOCB parameter policy (module docstring).

    Args:
        optim_wrapper_cfg: As for mmengine's constructor (``type``, ``optimizer``, ...).
        paramwise_cfg: Options ``no_decay_1d`` (bool), ``no_decay_keys`` (name substrings),
            ``custom_keys`` (mmengine style), ``norm_decay_mult`` / ``bias_decay_mult``
            (default 0; non-zero values keep decay *and* adaptation for that kind),
            ``muon_routing`` (``bocb_mm.Muon`` only: category -> ``'muon'`` / ``'adamw'``,
            :mod:`bocb_mm.engine.muon_routing`).
    """

    def _validate_cfg(self) -> None:
        cfg = self.paramwise_cfg
        if not isinstance(cfg, dict):
            raise TypeError(f'paramwise_cfg should be None or a dict, but got {type(cfg)}')
        unknown = set(cfg) - _KNOWN_OPTIONS
        if unknown:
            raise ValueError(f'BOCBOptimWrapperConstructor: unknown paramwise_cfg options '
                             f'{sorted(unknown)}; supported: {sorted(_KNOWN_OPTIONS)}')
        custom_keys = cfg.get('custom_keys', {})
        if not isinstance(custom_keys, dict):
            raise TypeError(f'custom_keys must be a dict, but got {type(custom_keys)}')
        if self.base_wd is None and any('decay_mult' in v for v in custom_keys.values()):
            raise ValueError('custom_keys with decay_mult need optimizer.weight_decay')
        if self.base_lr is None and any('lr_mult' in v for v in custom_keys.values()):
            raise ValueError('custom_keys with lr_mult need optimizer.lr')

    # ------------------------------------------------------------------ policy
    def _policy_no_decay(self, module: nn.Module, local_name: str, full_name: str,
                         param: torch.Tensor) -> bool:
        cfg = self.paramwise_cfg
        if is_norm_module(module):
            return cfg.get('norm_decay_mult', 0.0) == 0
        if local_name == 'bias':
            return cfg.get('bias_decay_mult', 0.0) == 0
        if any(k in full_name for k in cfg.get('no_decay_keys', ())):
            return True
        if cfg.get('no_decay_1d', False):
            return param.ndim <= 1 or any(full_name.endswith(k) for k in EMBEDDING_KEYS)
        return False

    def _policy_decay_mult(self, module: nn.Module, local_name: str) -> float:
        cfg = self.paramwise_cfg
        if is_norm_module(module):
            return float(cfg.get('norm_decay_mult', 0.0))
        if local_name == 'bias':
            return float(cfg.get('bias_decay_mult', 0.0))
        return 1.0

    def param_groups(self, model: nn.Module, optimizer_cls: type | None = None) -> list[dict]:
        """The param groups of ``model`` under the policy, in first-parameter order.

        Args:
            model: The model (a wrapped model's ``module`` is used).
            optimizer_cls: The optimizer the groups are for; ``weight_decay`` and
                ``always_adapt`` are set only where it takes them. None: as for an optimizer
                that takes ``weight_decay`` and not ``always_adapt``.

        Returns:
            One dict per set of equal settings: ``params``, the settings and ``trust_exclude``.
        """
        if hasattr(model, 'module'):
            model = model.module
        custom_keys: dict[str, dict] = self.paramwise_cfg.get('custom_keys', {})
        sorted_keys = sorted(sorted(custom_keys), key=len, reverse=True)
        takes_always_adapt = optimizer_cls is not None and _accepts(optimizer_cls, 'always_adapt')
        takes_wd = optimizer_cls is None or _accepts(optimizer_cls, 'weight_decay')
        muon_routes = self._muon_routes(model, optimizer_cls)
        groups: dict[tuple, dict] = {}
        seen: set[int] = set()
        for mod_name, module in model.named_modules():
            for local_name, param in module.named_parameters(recurse=False):
                if id(param) in seen or not param.requires_grad:
                    continue  # shared parameters once; frozen ones as mmengine's paramwise path
                seen.add(id(param))
                full_name = f'{mod_name}.{local_name}' if mod_name else local_name
                no_decay = self._policy_no_decay(module, local_name, full_name, param)
                decay_mult = 0.0 if no_decay else self._policy_decay_mult(module, local_name)
                extra: dict[str, Any] = {}
                lr_mult = 1.0
                key = next((k for k in sorted_keys if k in full_name), None)
                if key is not None:
                    opts = dict(custom_keys[key])
                    lr_mult = float(opts.pop('lr_mult', 1.0))
                    if 'no_decay' in opts:
                        no_decay = bool(opts.pop('no_decay'))
                        decay_mult = 0.0 if no_decay else max(decay_mult, 1.0)
                    if 'decay_mult' in opts:
                        decay_mult = float(opts.pop('decay_mult'))
                    extra = opts
                settings: dict[str, Any] = dict(extra)
                if lr_mult != 1.0:
                    settings['lr'] = self.base_lr * lr_mult
                if takes_wd and (self.base_wd is not None or no_decay):
                    settings['weight_decay'] = (self.base_wd or 0.0) * decay_mult
                if no_decay and takes_always_adapt:
                    settings['always_adapt'] = False
                settings['trust_exclude'] = no_decay
                if muon_routes is not None:
                    settings['use_fallback'] = muon_routes[id(param)][2] == 'adamw'
                sig = tuple(sorted((k, _hashable(v)) for k, v in settings.items()))
                group = groups.setdefault(sig, dict(params=[], **settings))
                group['params'].append(param)
        return list(groups.values())

    def _muon_routes(self, model: nn.Module, optimizer_cls: type | None
                     ) -> dict[int, tuple[str, str, str]] | None:
        """Muon's per-parameter routes (:mod:`bocb_mm.engine.muon_routing`) when
        ``optimizer_cls`` is timm's Muon; None for other optimizers."""
        from .muon_routing import is_muon, is_timm_muon, route_model
        routing = self.paramwise_cfg.get('muon_routing')
        if optimizer_cls is not None and is_muon(optimizer_cls) and not is_timm_muon(
                optimizer_cls):
            raise ValueError("torch's Muon takes 2-d parameters only and has no AdamW fallback; "
                             "use type='bocb_mm.Muon' (timm's) with this constructor")
        if optimizer_cls is None or not is_timm_muon(optimizer_cls):
            if routing is not None:
                raise ValueError('paramwise_cfg.muon_routing is for bocb_mm.Muon; the optimizer '
                                 f'is {getattr(optimizer_cls, "__name__", optimizer_cls)}')
            return None
        return route_model(model, routing)

    def __call__(self, model: nn.Module) -> OptimWrapper:
        if hasattr(model, 'module'):
            model = model.module
        optim_wrapper_cfg = self.optim_wrapper_cfg.copy()
        optim_wrapper_cfg.setdefault('type', 'OptimWrapper')
        optimizer_cfg = self.optimizer_cfg.copy()
        optimizer_cls = optimizer_cfg['type']
        if isinstance(optimizer_cls, str):
            with MMENGINE_OPTIMIZERS.switch_scope_and_registry(None) as registry:
                optimizer_cls = registry.get(optimizer_cfg['type'])
            if optimizer_cls is None:
                raise KeyError(f'optimizer {optimizer_cfg["type"]!r} is not registered')
        first_arg = next(iter(inspect.signature(optimizer_cls).parameters))
        optimizer_cfg[first_arg] = self.param_groups(model, optimizer_cls)
        optimizer = MMENGINE_OPTIMIZERS.build(optimizer_cfg)
        return MMENGINE_OPTIM_WRAPPERS.build(optim_wrapper_cfg,
                                             default_args=dict(optimizer=optimizer))


def _accepts(cls: type, arg: str) -> bool:
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False
    return arg in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value
