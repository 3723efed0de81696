"""Which parameters Muon orthogonalises and which go to its AdamW fallback.

Muon (timm's ``Muon``, registered as ``bocb_mm.Muon``) is meant for the hidden matrices of a
network. :class:`~bocb_mm.engine.constructor.BOCBOptimWrapperConstructor` routes every parameter
by its role and marks each param group with ``use_fallback`` (the per-group flag timm's Muon reads
before its own shape rule):

============ ================================================================ =========== =====
category     parameters                                                       default     set
============ ================================================================ =========== =====
hidden       2-d+ weights of hidden layers: linear, conv (1x1 included,        muon        no
             flattened to ``(out, in*kh*kw)``), grouped (non-depthwise) conv
embed        the input layer (the first 2-d+ weight in module order: a CNN's    adamw       yes
             stem conv, a ViT's / ConvNeXt's patch-embedding conv), any
             ``patch_embed`` weight and ``nn.Embedding`` tables
depthwise    depthwise conv kernels (``groups == in_channels``, e.g. ConvNeXt's  adamw       yes
             7x7)
head         the classifier: top-level ``head`` / ``fc`` / ``classifier``       adamw       yes
             (also under ``backbone.``)
token        position / class / distillation / register tokens                 adamw       no
             (names ending with one of ``EMBEDDING_KEYS``)
norm         every parameter of a norm layer                                    adamw       no
bias         biases                                                             adamw       no
vector       other 1-d parameters (layer scales, ...)                           adamw       no
============ ================================================================ =========== =====

The three settable categories follow Keller Jordan's and timm's guidance (first layer,
embeddings and head to AdamW) by default and are changed with
``paramwise_cfg=dict(muon_routing=dict(embed='muon', depthwise='muon', head='muon'))``; tokens,
norms, biases and vectors are not matrices and always go to the fallback.

lr adjustment: a Muon parameter's step is ``lr * scale`` with ``scale`` from timm's
``get_lr_scale`` on the orthogonalised shape ``(rows, cols)`` (``(out, in*kh*kw)`` for a
flattened conv): ``adjust_lr_fn='match_rms_adamw'`` (timm's default) ``0.2 * sqrt(max(rows,
cols))``, ``'original'`` ``sqrt(max(1, rows / cols))``, ``'rms_to_rms'`` ``sqrt(rows / cols)``,
None ``1``. A fallback parameter's step is AdamW's at ``lr * fallback_lr_scale``.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Mapping

import torch
from torch import nn

from .audit import iter_params, param_kind
from .constructor import is_norm_module

__all__ = ['MUON_ROUTES', 'SETTABLE', 'DEFAULT_ROUTING', 'HEAD_NAMES', 'is_muon',
           'is_timm_muon', 'check_routing', 'categorize', 'route_model', 'optimizer_route',
           'lr_scale']

MUON_ROUTES = ('muon', 'adamw')
#: Categories a config may route either way, with their defaults.
DEFAULT_ROUTING: dict[str, str] = {'embed': 'adamw', 'depthwise': 'adamw', 'head': 'adamw'}
SETTABLE = tuple(DEFAULT_ROUTING)
#: Module names of a classifier head (first name component, after an optional ``backbone.``).
HEAD_NAMES = ('head', 'fc', 'classifier')
#: The audit's kinds of non-matrix parameters -> categories.
_KINDS = {'norm': 'norm', 'bias': 'bias', 'embedding': 'token', '1d': 'vector'}
_FIXED = {'hidden': 'muon', 'token': 'adamw', 'norm': 'adamw', 'bias': 'adamw',
          'vector': 'adamw'}


def is_timm_muon(optimizer: Any) -> bool:
    """Whether ``optimizer`` (instance or class) is timm's Muon (``bocb_mm.Muon``) or a subclass."""
    try:
        from timm.optim import Muon
    except ImportError:
        return False
    cls = optimizer if isinstance(optimizer, type) else type(optimizer)
    return issubclass(cls, Muon)


def is_muon(optimizer: Any) -> bool:
    """Whether ``optimizer`` (instance or class) is timm's or torch's Muon."""
    cls = optimizer if isinstance(optimizer, type) else type(optimizer)
    torch_muon = getattr(torch.optim, 'Muon', None)
    return is_timm_muon(cls) or (torch_muon is not None and issubclass(cls, torch_muon))


def check_routing(routing: Mapping[str, str] | None) -> dict[str, str]:
    """The defaults updated with ``routing``; ``ValueError`` on an unknown category or route."""
    routing = dict(routing or {})
    unknown = set(routing) - set(SETTABLE)
    if unknown:
        raise ValueError(f'muon_routing: unknown categories {sorted(unknown)}; settable: '
                         f'{list(SETTABLE)} (tokens, norms, biases and 1-d parameters always '
                         'go to the AdamW fallback)')
    bad = {k: v for k, v in routing.items() if v not in MUON_ROUTES}
    if bad:
        raise ValueError(f'muon_routing: routes must be one of {MUON_ROUTES}, got {bad}')
    return {**DEFAULT_ROUTING, **routing}


def _is_head(full_name: str) -> bool:
    parts = full_name.split('.')
    if parts[0] == 'backbone' and len(parts) > 1:
        parts = parts[1:]
    return parts[0] in HEAD_NAMES


def _is_depthwise(module: nn.Module) -> bool:
    groups = getattr(module, 'groups', 1)
    return (isinstance(module, nn.modules.conv._ConvNd) and groups > 1
            and groups == module.in_channels)


def _category(module: nn.Module, local_name: str, full_name: str, param: torch.Tensor,
              input_layer: bool) -> str:
    kind = param_kind(module, local_name, full_name, param.ndim)
    if kind != 'weight':
        return _KINDS[kind]
    if _is_head(full_name):
        return 'head'
    if input_layer or 'patch_embed' in full_name or isinstance(module, nn.Embedding):
        return 'embed'
    if _is_depthwise(module):
        return 'depthwise'
    return 'hidden'


def categorize(named: Iterable[tuple[str, nn.Module, str, torch.Tensor]]
               ) -> dict[int, tuple[str, str]]:
    """``id(param) -> (full name, category)`` for ``(full name, module, local name, param)``
    tuples in module order (the first 2-d+ weight is the input layer)."""
    out: dict[int, tuple[str, str]] = {}
    seen_matrix = False
    for full_name, module, local_name, param in named:
        matrix = param.ndim >= 2 and local_name != 'bias' and not is_norm_module(module)
        category = _category(module, local_name, full_name, param,
                             input_layer=matrix and not seen_matrix)
        seen_matrix = seen_matrix or matrix
        out[id(param)] = (full_name, category)
    return out


def route_model(model: nn.Module, routing: Mapping[str, str] | None = None
                ) -> dict[int, tuple[str, str, str]]:
    """``id(param) -> (full name, category, route)`` for every parameter of ``model``.

    Args:
        model: The model (a wrapped model's ``module`` is used).
        routing: ``paramwise_cfg['muon_routing']``: category -> ``'muon'`` / ``'adamw'``.
    """
    routes = {**_FIXED, **check_routing(routing)}
    return {pid: (name, cat, routes[cat])
            for pid, (name, cat) in categorize(iter_params(model)).items()}


def optimizer_route(optimizer: Any, group: Mapping[str, Any], param: torch.Tensor) -> str | None:
    """Where a built Muon sends ``param`` of ``group``: ``'muon'`` / ``'adamw'``; None for other
    optimizers. timm's order: ``use_fallback``, then ``use_muon``, then its shape rule."""
    if not is_muon(optimizer):
        return None
    if not is_timm_muon(optimizer):
        return 'muon'  # torch's Muon has no fallback
    if group.get('use_fallback', False):
        return 'adamw'
    if 'use_muon' in group:
        return 'muon' if group['use_muon'] else 'adamw'
    from timm.optim.muon import _is_suitable_for_muon
    return 'muon' if _is_suitable_for_muon(param) else 'adamw'


def lr_scale(shape: tuple[int, ...], group: Mapping[str, Any], route: str | None
             ) -> float | None:
    """The factor Muon applies to the group's lr for a parameter of ``shape`` on ``route``.

    Muon route: timm's ``get_lr_scale`` on the orthogonalised shape (``conv_mode='flatten'``:
    ``(out, in*kh*kw)``; ``'batched'``: ``(out, in)`` per position); AdamW route:
    ``fallback_lr_scale``; None off Muon.
    """
    if route is None:
        return None
    if route == 'adamw':
        return float(group.get('fallback_lr_scale', 1.0))
    fn = group.get('adjust_lr_fn', 'match_rms_adamw')
    if not fn or len(shape) < 2:
        return 1.0
    rows, cols = ((shape[0], math.prod(shape[1:])) if group.get('conv_mode', 'flatten') ==
                  'flatten' else (shape[0], shape[1]))
    from timm.optim.muon import get_adamuon_lr_scale, get_lr_scale
    if group.get('algo', 'muon') == 'adamuon':
        return float(get_adamuon_lr_scale(torch.Size((rows, cols)), fn)[0])
    return float(get_lr_scale(torch.Size((rows, cols)), fn))
